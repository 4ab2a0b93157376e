"""Request and response bodies of /v1 notifications and deliveries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, Field

from pushgate.api.v1.common import StrictModel
from pushgate.domain.notifications import Notification, NotificationRequest, delivery_id
from pushgate.domain.payload import (
    Content,
    DeliveryOptions,
    build_message,
    expiry,
    parse_priority,
)
from pushgate.domain.platforms import resolve_platform
from pushgate.domain.targets import BulkEntry, CapabilityUser, Target, TargetKind, check_target
from pushgate.domain.timezones import LATEST_OFFSET
from pushgate.errors import InvalidInput
from pushgate.services.notifications import TargetResult
from pushgate.store.repos.deliveries import DeliveryRecord

_Name = Annotated[str, Field(min_length=1, max_length=255)]
_Names = Annotated[list[_Name], Field(max_length=10_000)]
JsonObject = dict[str, Any]


class NotificationIn(StrictModel):
    """The common fields; limits are the SAP seed's and are checked with the field named."""

    alert: str | None = Field(default=None, description="Text to show (≤ 2048 characters)")
    title: str | None = None
    body: str | None = Field(default=None, description="Shown instead of alert when given")
    badge: int | None = Field(default=None, description="0 removes the badge")
    sound: str | None = None
    data: dict[str, str] | None = Field(
        default=None, description="String values only; serialized ≤ 2000 characters"
    )
    category: str | None = None
    thread_id: str | None = None
    content_available: bool | None = None
    mutable_content: bool | None = None
    apns: JsonObject | None = Field(default=None, description="Merged over the APNs payload")
    fcm: JsonObject | None = Field(default=None, description="Merged over the FCM message")
    webpush: JsonObject | None = Field(default=None, description="Merged over the Web Push JSON")
    wns: JsonObject | None = Field(default=None, description="WNS type and XML")

    def to_content(self) -> Content:
        return Content(**self.model_dump(exclude_unset=True))


class BulkEntryIn(StrictModel):
    user: _Name | None = None
    user_uuid: _Name | None = None
    notification: NotificationIn = Field(description="Merged over the common notification")
    localized: dict[str, NotificationIn] = Field(default_factory=dict, max_length=200)


class CapabilityUserIn(StrictModel):
    user: _Name | None = None
    user_uuid: _Name | None = None
    form_factors: _Names = Field(default_factory=list)


class TargetIn(StrictModel):
    """Exactly one of registrations, device (+ user), users / user_uuids, bulk, app, topics,
    push_group, capability; `users` and `user_uuids` also filter a topics target."""

    registrations: _Names | None = None
    device: _Name | None = None
    user: _Name | None = None
    users: _Names | None = None
    user_uuids: _Names | None = None
    bulk: Annotated[list[BulkEntryIn], Field(max_length=10_000)] | None = None
    app: bool | None = None
    topics: _Names | None = None
    push_group: _Name | None = None
    capability: _Name | None = None
    capability_users: Annotated[list[CapabilityUserIn], Field(max_length=10_000)] | None = None
    platforms: Annotated[list[_Name], Field(max_length=20)] | None = None

    def kind(self) -> TargetKind:
        chosen = [
            kind
            for kind, given in (
                (TargetKind.REGISTRATIONS, self.registrations is not None),
                (TargetKind.DEVICE, self.device is not None),
                (TargetKind.BULK, self.bulk is not None),
                (TargetKind.APP, bool(self.app)),
                (TargetKind.TOPICS, self.topics is not None),
                (TargetKind.PUSH_GROUP, self.push_group is not None),
                (TargetKind.CAPABILITY, self.capability is not None),
            )
            if given
        ]
        if len(chosen) > 1:
            names = ", ".join(k.value for k in chosen)
            raise InvalidInput(f"choose one kind of target, not {names}", field="target")
        if chosen:
            return chosen[0]
        if self.users is not None or self.user_uuids is not None:
            return TargetKind.USERS
        raise InvalidInput(
            "name registrations, device + user, users, bulk, app, topics, push_group or capability",
            field="target",
        )


class SendIn(StrictModel):
    target: TargetIn
    notification: NotificationIn
    localized: dict[str, NotificationIn] = Field(
        default_factory=dict, max_length=200, description="Variants by locale (de, de-DE...)"
    )
    priority: str | None = Field(default=None, description="normal or high")
    ttl: int | None = Field(default=None, description="Seconds to keep trying (0: now or never)")
    expires_at: datetime | None = None
    collapse_id: str | None = Field(default=None, max_length=64)
    send_at: datetime | None = Field(
        default=None, description="Schedule; with local_time, a wall-clock time per device"
    )
    local_time: bool = False

    def to_request(self, now: datetime) -> NotificationRequest:
        message = build_message(
            self.notification.to_content(),
            {k: v.to_content() for k, v in self.localized.items()},
        )
        send_at = self._send_at()
        options = DeliveryOptions(
            expires_at=expiry(
                now,
                ttl=timedelta(seconds=self.ttl) if self.ttl is not None else None,
                expires_at=self.expires_at,
                start=_start(send_at, self.local_time, now),
            ),
            priority=parse_priority(self.priority) if self.priority is not None else None,
            collapse_id=self.collapse_id,
            once=self.ttl == 0,
        )
        target = check_target(self._target(message.default))
        return NotificationRequest(target, message, options, send_at, self.local_time)

    def _send_at(self) -> datetime | None:
        if self.send_at is None:
            return None
        if self.local_time:
            # A wall-clock reading: its offset, if any, is ignored; kept as if it were UTC.
            return self.send_at.replace(tzinfo=UTC)
        if self.send_at.tzinfo is None:
            raise InvalidInput(
                "must carry a time zone (e.g. Z), or set local_time", field="send_at"
            )
        return self.send_at

    def _target(self, common: Content) -> Target:
        t = self.target
        platforms = frozenset(
            resolve_platform(p, field="target.platforms").platform for p in t.platforms or ()
        )
        return Target(
            kind=t.kind(),
            registration_ids=tuple(t.registrations or ()),
            device_id=t.device,
            user=t.user,
            users=tuple(t.users or ()),
            user_uuids=tuple(t.user_uuids or ()),
            bulk=tuple(_bulk_entry(e, i, common) for i, e in enumerate(t.bulk or ())),
            topics=tuple(t.topics or ()),
            push_group=t.push_group,
            capability=t.capability,
            capability_users=tuple(
                CapabilityUser(c.user, c.user_uuid, tuple(c.form_factors))
                for c in t.capability_users or ()
            ),
            platforms=platforms,
        )


def _start(send_at: datetime | None, local_time: bool, now: datetime) -> datetime:
    """When TTL starts counting: the last wall-clock zone's send time for local time."""
    if send_at is None:
        return now
    return send_at + LATEST_OFFSET if local_time else max(send_at, now)


def _bulk_entry(entry: BulkEntryIn, index: int, common: Content) -> BulkEntry:
    default = entry.notification.to_content().merged_over(common)
    message = build_message(
        default,
        {k: v.to_content() for k, v in entry.localized.items()},
        field=f"target.bulk[{index}].localized",
        default_field=f"target.bulk[{index}].notification",
    )
    return BulkEntry(entry.user, entry.user_uuid, message)


class ResultOut(BaseModel):
    registration_id: str
    delivery_id: str
    platform: str
    status: str
    code: int = Field(description="SAP result code: -1 queued, 0 sent, 1..14 errors")
    message: str | None

    @classmethod
    def of(cls, r: TargetResult) -> ResultOut:
        return cls(
            registration_id=r.registration_id,
            delivery_id=r.delivery_id,
            platform=r.platform,
            status=r.status.name,
            code=int(r.code),
            message=r.message,
        )


class NotificationOut(BaseModel):
    id: str
    kind: str
    state: str
    counts: dict[str, int]
    fanout_done: bool
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    send_at: datetime | None
    local_time: bool
    expires_at: datetime
    request: JsonObject | None = None
    results: list[ResultOut] | None = None

    @classmethod
    def of(
        cls, n: Notification, *, results: list[TargetResult] | None = None, detail: bool = False
    ) -> NotificationOut:
        request = n.request()
        return cls(
            id=n.id,
            kind=n.kind,
            state=n.state.value,
            counts=n.counts.by_status(),
            fanout_done=n.fanout_done,
            created_at=n.created_at,
            started_at=n.started_at,
            completed_at=n.completed_at,
            send_at=n.send_at,
            local_time=n.local_time,
            expires_at=n.expires_at,
            request={
                "target": request.target.to_dict(),
                "message": request.message.to_dict(),
                "options": request.options.to_dict(),
            }
            if detail
            else None,
            results=[ResultOut.of(r) for r in results] if results is not None else None,
        )


class NotificationList(BaseModel):
    items: list[NotificationOut]
    next_cursor: str | None


class DeliveryOut(BaseModel):
    id: str
    notification_id: str
    registration_id: str
    platform: str
    status: str
    code: int
    message: str | None
    provider_ref: str | None
    attempts: int
    next_attempt_at: datetime | None
    updated_at: datetime

    @classmethod
    def of(cls, d: DeliveryRecord) -> DeliveryOut:
        return cls(
            id=delivery_id(d.notification_id, d.registration_id),
            notification_id=d.notification_id,
            registration_id=d.registration_id,
            platform=d.platform,
            status=d.status.name,
            code=int(d.code),
            message=d.reason,
            provider_ref=d.provider_ref,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at,
            updated_at=d.updated_at,
        )


class DeliveryList(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None


class ReceiptIn(StrictModel):
    status: str = Field(description="RECEIVED, CONSUMED or CONFIRMED")
