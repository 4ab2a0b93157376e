"""What a notification says and how it is delivered: content, localized variants, options.

Limits are the SAP seed's (alert 2048 characters, sound 256, serialized data 2000, priority
identifier 128); each provider's own size limit is checked when its payload is rendered.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pushgate.domain.locales import fallback_chain, normalize_locale
from pushgate.domain.text import shown_name
from pushgate.errors import InvalidInput

JsonObject = dict[str, Any]

MAX_ALERT = 2048
MAX_SOUND = 256
MAX_DATA = 2000
MAX_PRIORITY = 128
MAX_SHORT_TEXT = 255  # category, thread id
MAX_COLLAPSE_ID = 64  # APNs' apns-collapse-id limit, the strictest provider's
MAX_TTL = timedelta(days=28)  # FCM's maximum; APNs and Web Push accept it too
DEFAULT_TTL = timedelta(days=28)
ONCE_WINDOW = timedelta(seconds=60)
OVERRIDE_PROVIDERS = ("apns", "fcm", "webpush", "wns")


class Priority(StrEnum):
    NORMAL = "normal"
    HIGH = "high"


def parse_priority(value: str, *, field: str = "priority") -> Priority:
    """normal or high, any case; the SAP seed caps the identifier at 128 characters."""
    if len(value) > MAX_PRIORITY:
        raise InvalidInput(f"must be at most {MAX_PRIORITY} characters", field=field)
    try:
        return Priority(value.strip().lower())
    except ValueError:
        raise InvalidInput("must be normal or high", field=field) from None


@dataclass(frozen=True, slots=True)
class Content:
    """One variant of a notification's text and data. None means "not set" (see merged)."""

    alert: str | None = None
    title: str | None = None
    body: str | None = None
    badge: int | None = None
    sound: str | None = None
    data: Mapping[str, str] | None = None
    category: str | None = None
    thread_id: str | None = None
    content_available: bool | None = None
    mutable_content: bool | None = None
    # Per-provider JSON merged over what the common fields render to; it wins.
    apns: JsonObject | None = None
    fcm: JsonObject | None = None
    webpush: JsonObject | None = None
    wns: JsonObject | None = None

    @property
    def text(self) -> str | None:
        """The body to display: `body`, else the plain `alert`."""
        return self.body if self.body is not None else self.alert

    def merged_over(self, base: Content) -> Content:
        """This variant with every field it leaves unset taken from `base`."""
        changes = {f.name: getattr(self, f.name) for f in fields(self)}
        return replace(base, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> JsonObject:
        out: JsonObject = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = dict(value) if f.name == "data" else value
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Content:
        return cls(**raw)


def check_content(content: Content, *, field: str = "notification") -> Content:
    """Enforce the limits, naming the field that breaks one (never echoing its value)."""
    for name in ("alert", "title", "body"):
        value = getattr(content, name)
        if value is not None and len(value) > MAX_ALERT:
            raise InvalidInput(f"must be at most {MAX_ALERT} characters", field=f"{field}.{name}")
    if content.sound is not None and len(content.sound) > MAX_SOUND:
        raise InvalidInput(f"must be at most {MAX_SOUND} characters", field=f"{field}.sound")
    for name in ("category", "thread_id"):
        value = getattr(content, name)
        if value is not None and len(value) > MAX_SHORT_TEXT:
            raise InvalidInput(
                f"must be at most {MAX_SHORT_TEXT} characters", field=f"{field}.{name}"
            )
    if content.badge is not None and content.badge < 0:
        raise InvalidInput("must be 0 or more (0 removes the badge)", field=f"{field}.badge")
    if content.data is not None:
        serialized = json.dumps(dict(content.data), separators=(",", ":"), ensure_ascii=False)
        if len(serialized) > MAX_DATA:
            raise InvalidInput(
                f"serialized, must be at most {MAX_DATA} characters", field=f"{field}.data"
            )
    return content


@dataclass(frozen=True, slots=True)
class Message:
    """A default content and variants by locale; each registration gets its best match."""

    default: Content
    # Keys normalized by normalize_locale; each variant is merged over the default.
    localized: Mapping[str, Content] = field(default_factory=dict)

    def for_locale(self, locale: str | None) -> Content:
        """The variant for `locale` by fallback (de-DE-bay -> de-DE -> de), else the default."""
        if not self.localized or not locale:
            return self.default
        for key in fallback_chain(locale):
            variant = self.localized.get(key)
            if variant is not None:
                return variant
        return self.default

    def to_dict(self) -> JsonObject:
        return {
            "default": self.default.to_dict(),
            "localized": {k: v.to_dict() for k, v in self.localized.items()},
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Message:
        return cls(
            Content.from_dict(raw["default"]),
            {k: Content.from_dict(v) for k, v in raw.get("localized", {}).items()},
        )


def build_message(
    default: Content,
    variants: Mapping[str, Content],
    *,
    field: str = "localized",
    default_field: str = "notification",
) -> Message:
    """Check every variant, merge it over the default, and key it by normalized locale."""
    check_content(default, field=default_field)
    localized: dict[str, Content] = {}
    for locale, variant in variants.items():
        shown = f"{field}.{shown_name(locale)}"  # the caller's key: not echoed if overlong
        key = normalize_locale(locale, field=shown)
        if key in localized:
            raise InvalidInput(
                "names the same locale twice (case and _/- do not count)", field=field
            )
        localized[key] = check_content(variant.merged_over(default), field=shown)
    return Message(default, localized)


@dataclass(frozen=True, slots=True)
class DeliveryOptions:
    """How every delivery of one notification is made."""

    expires_at: datetime
    # None: each provider's default (APNs 10 for alerts, 5 for background; FCM's own).
    priority: Priority | None = None
    collapse_id: str | None = None
    # TTL 0: "now or never": one attempt, no retry, and providers are told not to store it.
    once: bool = False

    def to_dict(self) -> JsonObject:
        return {
            "priority": self.priority.value if self.priority else None,
            "expires_at": self.expires_at.isoformat(),
            "collapse_id": self.collapse_id,
            "once": self.once,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> DeliveryOptions:
        return cls(
            datetime.fromisoformat(raw["expires_at"]),
            Priority(raw["priority"]) if raw.get("priority") else None,
            raw.get("collapse_id"),
            bool(raw.get("once", False)),
        )


def expiry(
    accepted_at: datetime,
    *,
    ttl: timedelta | None,
    expires_at: datetime | None,
    start: datetime | None = None,
) -> datetime:
    """The instant after which nothing is sent: an absolute expiry, else start + TTL.

    A TTL counts from when sending starts (`send_at` for a scheduled notification). A TTL
    of 0 ("now or never", DeliveryOptions.once) still leaves ONCE_WINDOW for its one attempt.
    """
    if ttl is not None and expires_at is not None:
        raise InvalidInput("give ttl or expires_at, not both", field="ttl")
    begin = start or accepted_at
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise InvalidInput("must carry a time zone (e.g. Z)", field="expires_at")
        if expires_at <= begin:
            raise InvalidInput("must lie after the time sending starts", field="expires_at")
        if expires_at - begin > MAX_TTL:
            raise InvalidInput("must lie at most 28 days after sending starts", field="expires_at")
        return expires_at
    if ttl is not None:
        if ttl < timedelta(0) or ttl > MAX_TTL:
            raise InvalidInput("must be between 0 and 2419200 seconds (28 days)", field="ttl")
        return begin + (ttl or ONCE_WINDOW)
    return begin + DEFAULT_TTL
