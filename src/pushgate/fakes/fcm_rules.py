"""What the fake FCM refuses in a `messages:send` request, and its error bodies.

Rules from the FCM HTTP v1 reference (providers.md 2.3, 2.4): the request is proto JSON, so an
unknown field or a value of the wrong type is a 400 naming the field; exactly one target;
`data` maps strings to strings and avoids the reserved keys; enum and duration syntax; a
size limit. Written apart from the adapter on purpose: the oracle must not share its reading.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
QUOTA_FAILURE_TYPE = "type.googleapis.com/google.rpc.QuotaFailure"

# errorCode -> (HTTP status, google.rpc status, message), as FCM answers them (ErrorCode
# reference, https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode; providers.md 2.4).
FCM_ERRORS: dict[str, tuple[int, str, str]] = {
    "INVALID_ARGUMENT": (400, "INVALID_ARGUMENT", "Request contains an invalid argument."),
    "THIRD_PARTY_AUTH_ERROR": (401, "UNAUTHENTICATED", "Auth error from APNS or Web Push Service"),
    "SENDER_ID_MISMATCH": (403, "PERMISSION_DENIED", "SenderId mismatch"),
    "UNREGISTERED": (404, "NOT_FOUND", "Requested entity was not found."),
    "QUOTA_EXCEEDED": (429, "RESOURCE_EXHAUSTED", "Quota exceeded for sending messages."),
    "INTERNAL": (500, "INTERNAL", "Internal error encountered."),
    "UNAVAILABLE": (503, "UNAVAILABLE", "The service is currently unavailable."),
}
# A scripted whole-server status (ServerPlan.fail_status) answers with this errorCode.
STATUS_ERROR_CODES = {status: code for code, (status, _, _) in FCM_ERRORS.items()}

TOKEN_INVALID = "The registration token is not a valid FCM registration token"  # noqa: S105
MAX_MESSAGE_BYTES = 4096
MAX_TOPIC_MESSAGE_BYTES = 2048  # the ErrorCode reference's limit for topic messages
MAX_TTL_S = 2_419_200  # 28 days
MAX_CONDITION_TOPICS = 5
_TOPIC = re.compile(r"^[a-zA-Z0-9\-_.~%]+$")
_CONDITION_TOPIC = re.compile(r"'([^']*)' in topics")
_DURATION = re.compile(r"^\d+(\.\d{1,9})?s$")
_RESERVED_DATA_KEYS = ("from", "message_type")
_RESERVED_DATA_PREFIXES = ("google", "gcm")

Json = dict[str, Any]

# Field kinds of the proto JSON schema: a nested dict is a message type.
STR, BOOL, INT, MAP, OBJECT, STRINGS = "string", "bool", "int", "map", "object", "strings"
Schema = Mapping[str, Any]


def _fields(kind: str, names: str) -> dict[str, str]:
    """Several fields of one kind, named in one space-separated string."""
    return dict.fromkeys(names.split(), kind)


_ANDROID_NOTIFICATION: Schema = {
    **_fields(
        STR,
        "title body icon color sound tag click_action body_loc_key title_loc_key channel_id "
        "ticker event_time notification_priority visibility image proxy",
    ),
    **_fields(
        BOOL,
        "sticky local_only default_sound default_vibrate_timings default_light_settings "
        "bypass_proxy_notification",
    ),
    "body_loc_args": STRINGS,
    "title_loc_args": STRINGS,
    "vibrate_timings": STRINGS,
    "notification_count": INT,
    "light_settings": OBJECT,
}
_ANDROID: Schema = {
    **_fields(STR, "collapse_key priority ttl restricted_package_name"),
    **_fields(BOOL, "direct_boot_ok bandwidth_constrained_ok restricted_satellite_ok"),
    "data": MAP,
    "notification": _ANDROID_NOTIFICATION,
    "fcm_options": {"analytics_label": STR},
}
_MESSAGE: Schema = {
    **_fields(STR, "name token topic condition"),
    "data": MAP,
    "notification": {"title": STR, "body": STR, "image": STR},
    "android": _ANDROID,
    "apns": {
        "headers": MAP,
        "payload": OBJECT,
        "fcm_options": {"analytics_label": STR, "image": STR},
        "live_activity_token": STR,
    },
    "webpush": {
        "headers": MAP,
        "data": MAP,
        "notification": OBJECT,
        "fcm_options": {"link": STR, "analytics_label": STR},
    },
    "fcm_options": {"analytics_label": STR},
}
_REQUEST: Schema = {"message": _MESSAGE, "validate_only": BOOL}
_PROTO_TYPES = {STR: "TYPE_STRING", BOOL: "TYPE_BOOL", INT: "TYPE_INT32"}


@dataclass(frozen=True, slots=True)
class Violation:
    field: str
    description: str


def check_request(request: Any) -> Violation | None:
    """The first rule the `messages:send` body breaks, or None when FCM would accept it."""
    if not isinstance(request, dict) or not isinstance(request.get("message"), dict):
        return Violation("message", "Request must contain a message.")
    return _check_schema(request, _REQUEST, "") or _check_semantics(request["message"])


def _check_schema(value: Json, schema: Schema, path: str) -> Violation | None:
    for key, item in value.items():
        where = f"{path}.{key}" if path else key
        kind = schema.get(key)
        if kind is None:
            at = path or "(root)"
            return Violation(
                where, f"Invalid JSON payload received. Unknown name \"{key}\" at '{at}'"
            )
        found = _check_kind(item, kind, where)
        if found is not None:
            return found
    return None


def _check_kind(item: Any, kind: Any, where: str) -> Violation | None:
    if isinstance(kind, Mapping):
        if not isinstance(item, dict):
            return Violation(where, f"Invalid value at '{where}': must be an object")
        return _check_schema(item, kind, where)
    if kind == MAP:
        if not isinstance(item, dict):
            return Violation(where, f"Invalid value at '{where}': must be a map")
        for index, value in enumerate(item.values()):
            if not isinstance(value, str):
                field = f"{where}[{index}].value"
                shown = json.dumps(value)[:50]
                return Violation(field, f"Invalid value at '{field}' (TYPE_STRING), {shown}")
        return None
    ok = {
        STR: isinstance(item, str),
        BOOL: isinstance(item, bool),
        INT: (isinstance(item, int) and not isinstance(item, bool))
        or (isinstance(item, str) and item.lstrip("-").isdigit()),
        OBJECT: isinstance(item, dict),
        STRINGS: isinstance(item, list) and all(isinstance(s, str) for s in item),
    }[kind]
    if ok:
        return None
    return Violation(where, f"Invalid value at '{where}' ({_PROTO_TYPES.get(kind, kind)})")


def _check_semantics(message: Json) -> Violation | None:
    return (
        _check_target(message)
        or _check_data(message.get("data"), "message.data")
        or _check_android(message.get("android"))
        or _check_size(message)
    )


def _check_target(message: Json) -> Violation | None:
    targets = [name for name in ("token", "topic", "condition") if message.get(name)]
    if len(targets) != 1:
        return Violation("message", "Exactly one of token, topic or condition must be given.")
    topic = message.get("topic")
    if topic is not None and not _TOPIC.fullmatch(topic):
        return Violation(
            "message.topic", "Invalid topic name (no /topics/ prefix, [a-zA-Z0-9-_.~%])."
        )
    condition = message.get("condition")
    if condition is not None:
        topics = _CONDITION_TOPIC.findall(condition)
        if not topics or len(topics) > MAX_CONDITION_TOPICS:
            return Violation("message.condition", "A condition names 1 to 5 topics.")
        if not all(_TOPIC.fullmatch(t) for t in topics):
            return Violation("message.condition", "Invalid topic name in the condition.")
    return None


def _check_data(data: Json | None, where: str) -> Violation | None:
    for key in data or {}:
        lowered = key.lower()
        if lowered in _RESERVED_DATA_KEYS or lowered.startswith(_RESERVED_DATA_PREFIXES):
            return Violation(f"{where}.{key}", f"Invalid data key: {key} is reserved.")
    return None


def _check_android(android: Json | None) -> Violation | None:
    if android is None:
        return None
    if android.get("priority") not in (None, "NORMAL", "HIGH"):
        return Violation("message.android.priority", "Invalid value (NORMAL or HIGH).")
    ttl = android.get("ttl")
    if ttl is not None and (not _DURATION.fullmatch(ttl) or float(ttl[:-1]) > MAX_TTL_S):
        return Violation("message.android.ttl", "Invalid duration (e.g. 3.5s, at most 28 days).")
    notification = android.get("notification") or {}
    enums = {
        "notification_priority": (
            "PRIORITY_UNSPECIFIED",
            "PRIORITY_MIN",
            "PRIORITY_LOW",
            "PRIORITY_DEFAULT",
            "PRIORITY_HIGH",
            "PRIORITY_MAX",
        ),
        "visibility": ("VISIBILITY_UNSPECIFIED", "PRIVATE", "PUBLIC", "SECRET"),
        "proxy": ("PROXY_UNSPECIFIED", "ALLOW", "DENY", "IF_PRIORITY_LOWERED"),
    }
    for name, allowed in enums.items():
        if notification.get(name) not in (None, *allowed):
            return Violation(f"message.android.notification.{name}", "Invalid enum value.")
    return _check_data(android.get("data"), "message.android.data")


def message_size(message: Json) -> int:
    """[fake-policy] The size FCM's limit applies to: the message without its target, as
    compact UTF-8 JSON (FCM documents "4096 bytes" without saying how it counts)."""
    rest = {k: v for k, v in message.items() if k not in ("token", "topic", "condition")}
    return len(json.dumps(rest, separators=(",", ":"), ensure_ascii=False).encode())


def _check_size(message: Json) -> Violation | None:
    to_topics = "token" not in message
    limit = MAX_TOPIC_MESSAGE_BYTES if to_topics else MAX_MESSAGE_BYTES
    if message_size(message) > limit:
        return Violation("message", f"Message is too big (limit {limit} bytes).")
    return None


def fcm_error(
    error_code: str, *, message: str | None = None, violations: Sequence[Violation] = ()
) -> tuple[int, Json]:
    """(HTTP status, body) of an FCM error: a google.rpc.Status with the FcmError detail."""
    status, rpc_status, default_message = FCM_ERRORS[error_code]
    details: list[Json] = [{"@type": FCM_ERROR_TYPE, "errorCode": error_code}]
    if violations:
        details.append(
            {
                "@type": BAD_REQUEST_TYPE,
                "fieldViolations": [
                    {"field": v.field, "description": v.description} for v in violations
                ],
            }
        )
    if error_code == "QUOTA_EXCEEDED":
        details.append({"@type": QUOTA_FAILURE_TYPE, "violations": [{"subject": "messages"}]})
    return status, rpc_error(status, rpc_status, message or default_message, details)


def rpc_error(status: int, rpc_status: str, message: str, details: Sequence[Json] = ()) -> Json:
    """A google.rpc.Status body; without details it is Google's front end speaking, not FCM."""
    error: Json = {"code": status, "message": message, "status": rpc_status}
    if details:
        error["details"] = list(details)
    return {"error": error}
