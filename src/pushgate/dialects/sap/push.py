"""The back-end push operations: to a device, users, bulk, the app, topics, a push group and
a capability. Each authenticates the service key and its role for the target kind first,
then reads the body, then refuses a target that reaches nobody (404), then sends.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from pushgate.dialects.sap import examples, paths
from pushgate.dialects.sap.answers import push_answer
from pushgate.dialects.sap.auth import app_of, service_key
from pushgate.dialects.sap.bodies import read
from pushgate.dialects.sap.errors import render_push
from pushgate.dialects.sap.openapi import path_parameters, push_operation
from pushgate.dialects.sap.payloads import flat_message, localized_message, options_of
from pushgate.dialects.sap.schemas import (
    BulkPushIn,
    CapabilityPushIn,
    NotificationIn,
    TopicPushIn,
    UsersPushIn,
)
from pushgate.domain.notifications import NotificationRequest
from pushgate.domain.payload import Content, Message
from pushgate.domain.targets import (
    BulkEntry,
    CapabilityUser,
    Target,
    TargetKind,
    check_target,
    required_role,
)
from pushgate.errors import MissingField, NotFound
from pushgate.http.deps import Runtime, RuntimeDep
from pushgate.http.dialect import dialect_route
from pushgate.services import audiences, notifications, quotas

router = APIRouter(route_class=dialect_route(render_push), tags=["SAP Mobile Services push"])

_NOBODY = {
    TargetKind.DEVICE: "no registration of this user with this device id",
    TargetKind.USERS: "no registration of these users",
    TargetKind.BULK: "no registration of these users",
    TargetKind.TOPICS: "no registration (of these users) is subscribed to these topics",
    TargetKind.PUSH_GROUP: "no registration in this push group",
    TargetKind.CAPABILITY: "no registration with this capability (for these users)",
}


async def _app(request: Request, runtime: Runtime, kind: TargetKind) -> int:
    """Authenticate, then the key's app if it holds the role of this kind of target."""
    principal = await service_key(request, runtime)
    role = required_role(Target(kind))
    return await app_of(runtime, principal, request.path_params.get("applicationId"), role)


async def _send(
    runtime: Runtime, app_id: int, target: Target, message: Message, priority: str | None
) -> Response:
    now = runtime.clock()
    request = NotificationRequest(check_target(target), message, options_of(priority, now))
    await quotas.check_quota(runtime.db, app_id, runtime.settings.sap_daily_quota, now)
    if target.kind is not TargetKind.APP and not await audiences.reaches_anyone(
        runtime.db, app_id, target
    ):
        raise NotFound(_NOBODY[target.kind], field="target")
    accepted = await notifications.accept(
        runtime.engine, app_id, request, idempotency_key=None, body_hash=None, now=now
    )
    assert isinstance(accepted, notifications.Accepted)  # noqa: S101 - no idempotency key
    results = accepted.results
    if results is None:
        results = await audiences.listed_results(
            runtime.db, app_id, accepted.notification.id, target
        )
    return push_answer(results, device=target.kind is TargetKind.DEVICE)


async def push_to_device(request: Request, runtime: RuntimeDep) -> Response:
    """Push to Device: the registrations of this device id of this user."""
    app_id = await _app(request, runtime, TargetKind.DEVICE)
    body = await read(request, NotificationIn)
    target = Target(
        TargetKind.DEVICE,
        device_id=request.path_params["deviceId"],
        user=request.path_params["username"],
    )
    return await _send(runtime, app_id, target, flat_message(body), body.priority)


async def push_to_users(request: Request, runtime: RuntimeDep) -> Response:
    """Push to Users: every device of the users, by name or global user id (past ones too)."""
    app_id = await _app(request, runtime, TargetKind.USERS)
    body = await read(request, UsersPushIn)
    if not body.users and not body.userUUIDs:
        raise MissingField("name at least one user in users or userUUIDs", field="users")
    target = Target(TargetKind.USERS, users=tuple(body.users), user_uuids=tuple(body.userUUIDs))
    message = localized_message(body.notification)
    return await _send(runtime, app_id, target, message, body.notification.notification.priority)


async def bulk_push(request: Request, runtime: RuntimeDep) -> Response:
    """Bulk Push: each user's own notification, merged over the optional global one."""
    app_id = await _app(request, runtime, TargetKind.BULK)
    body = await read(request, BulkPushIn)
    common = body.notification
    entries = []
    for index, entry in enumerate(body.userNotifications):
        field = f"userNotifications[{index}]"
        if not entry.user and not entry.userUUID:
            raise MissingField("name the user or the userUUID", field=f"{field}.user")
        message = localized_message(entry.notification, f"{field}.notification", under=common)
        entries.append(BulkEntry(entry.user, entry.userUUID, message))
    # Without a global notification, a registration matched by no entry gets nothing to show.
    message = localized_message(common) if common else Message(Content())
    priority = common.notification.priority if common else None
    target = Target(TargetKind.BULK, bulk=tuple(entries))
    return await _send(runtime, app_id, target, message, priority)


async def push_to_application(request: Request, runtime: RuntimeDep) -> Response:
    """Push to Application: every registration of the app (push_all)."""
    app_id = await _app(request, runtime, TargetKind.APP)
    body = await read(request, NotificationIn)
    return await _send(runtime, app_id, Target(TargetKind.APP), flat_message(body), body.priority)


async def push_to_topic(request: Request, runtime: RuntimeDep) -> Response:
    """Push to Topic: subscribers of any of the topics (once per device), optionally only
    those of the users. Topic names are not validated: an unknown one reaches nobody."""
    app_id = await _app(request, runtime, TargetKind.TOPICS)
    body = await read(request, TopicPushIn)
    target = Target(
        TargetKind.TOPICS,
        topics=tuple(dict.fromkeys(body.topics)),
        users=tuple(body.users),
        user_uuids=tuple(body.userUUIDs),
    )
    message = localized_message(body.notification)
    return await _send(runtime, app_id, target, message, body.notification.notification.priority)


async def push_to_group(request: Request, runtime: RuntimeDep) -> Response:
    """Push to Push Group (deprecated by SAP in favour of topics)."""
    app_id = await _app(request, runtime, TargetKind.PUSH_GROUP)
    body = await read(request, NotificationIn)
    target = Target(TargetKind.PUSH_GROUP, push_group=request.path_params["group"])
    return await _send(runtime, app_id, target, flat_message(body), body.priority)


async def push_to_capability(request: Request, runtime: RuntimeDep) -> Response:
    """Push to Capability (deprecated by SAP): registrations with the capability, optionally
    only those users' and form factors'."""
    app_id = await _app(request, runtime, TargetKind.CAPABILITY)
    body = await read(request, CapabilityPushIn)
    target = Target(
        TargetKind.CAPABILITY,
        capability=request.path_params["capability"],
        capability_users=tuple(
            CapabilityUser(u.user, u.userUUID, tuple(u.formFactor)) for u in body.users
        ),
    )
    message = flat_message(body.notification)
    return await _send(runtime, app_id, target, message, body.notification.priority)


_APP = "/v1/backend/applications/{applicationId}"
_V2_APP = "/v2/backend/applications/{applicationId}"
_DEVICE = path_parameters("applicationId", "username", "deviceId")
for _path in (
    _APP + "/users/{username}/devices/{deviceId}/notifications",
    # the path form of the document's curl samples
    _APP + "/notifications/users/{username}/devices/{deviceId}/notifications",
):
    paths.add(
        router,
        _path,
        push_to_device,
        ["POST"],
        **push_operation("Push to device", NotificationIn, examples.DEVICE, _DEVICE, device=True),
    )
paths.add(
    router,
    _V2_APP + "/notifications/users",
    push_to_users,
    ["POST"],
    **push_operation(
        "Push to users", UsersPushIn, examples.USERS, path_parameters("applicationId")
    ),
)
paths.add(
    router,
    _V2_APP + "/notifications/bulk",
    bulk_push,
    ["POST"],
    **push_operation("Bulk push", BulkPushIn, examples.BULK, path_parameters("applicationId")),
)
paths.add(
    router,
    _APP + "/notifications",
    push_to_application,
    ["POST"],
    **push_operation(
        "Push to application", NotificationIn, examples.FLAT, path_parameters("applicationId")
    ),
)
paths.add(
    router,
    _V2_APP + "/topics/notifications",
    push_to_topic,
    ["POST"],
    **push_operation(
        "Push to topic", TopicPushIn, examples.TOPIC, path_parameters("applicationId")
    ),
)
paths.add(
    router,
    _APP + "/groups/{group}/notifications",
    push_to_group,
    ["POST"],
    **push_operation(
        "Push to push group",
        NotificationIn,
        examples.FLAT,
        path_parameters("applicationId", "group"),
    ),
)
paths.add(
    router,
    "/v1/backend/capabilities/{capability}/notifications",
    push_to_capability,
    ["POST"],
    **push_operation(
        "Push to capability", CapabilityPushIn, examples.CAPABILITY, path_parameters("capability")
    ),
)
