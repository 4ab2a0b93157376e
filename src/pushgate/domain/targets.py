"""Target selectors: which registrations of an app one notification goes to.

Inactive registrations are never targeted. A platform filter narrows any kind. The role a
key needs depends on the kind: one device (push_single), several (push_multiple), the whole
app (push_all), as the SAP seed's service-key roles say.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pushgate.domain.payload import JsonObject, Message
from pushgate.domain.platforms import Platform
from pushgate.domain.roles import Role
from pushgate.errors import InvalidInput, MissingField

MAX_LISTED = 10_000  # ids, users or topics in one request: beyond that, use a topic


class TargetKind(StrEnum):
    REGISTRATIONS = "registrations"
    DEVICE = "device"
    USERS = "users"
    BULK = "bulk"
    APP = "app"
    TOPICS = "topics"
    PUSH_GROUP = "push_group"
    CAPABILITY = "capability"


@dataclass(frozen=True, slots=True)
class BulkEntry:
    """One user's own variant of a bulk notification (merged over the common one)."""

    user: str | None
    user_uuid: str | None
    message: Message


@dataclass(frozen=True, slots=True)
class CapabilityUser:
    """A capability target's filter: a user (or any user) on some form factors (or any)."""

    user: str | None = None
    user_uuid: str | None = None
    form_factors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Target:
    kind: TargetKind
    registration_ids: tuple[str, ...] = ()
    device_id: str | None = None
    user: str | None = None  # with device_id: the device's user
    users: tuple[str, ...] = ()  # user names (also the users filter of a topic send)
    user_uuids: tuple[str, ...] = ()  # global user ids, past ones included
    bulk: tuple[BulkEntry, ...] = ()
    topics: tuple[str, ...] = ()
    push_group: str | None = None
    capability: str | None = None
    capability_users: tuple[CapabilityUser, ...] = ()
    platforms: frozenset[Platform] = frozenset()  # empty: every platform

    @property
    def is_single(self) -> bool:
        """Aimed at one device: the push_single role, and the fast lane."""
        return self.kind is TargetKind.DEVICE or (
            self.kind is TargetKind.REGISTRATIONS and len(self.registration_ids) == 1
        )

    @property
    def is_small(self) -> bool:
        """Named devices or users: worth delivering inline so the answer has results."""
        return self.kind in (
            TargetKind.REGISTRATIONS,
            TargetKind.DEVICE,
            TargetKind.USERS,
            TargetKind.BULK,
        )

    def to_dict(self) -> JsonObject:
        out: JsonObject = {"kind": self.kind.value}
        for name in ("registration_ids", "users", "user_uuids", "topics"):
            if getattr(self, name):
                out[name] = list(getattr(self, name))
        for name in ("device_id", "user", "push_group", "capability"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.bulk:
            out["bulk"] = [
                {"user": e.user, "user_uuid": e.user_uuid, "message": e.message.to_dict()}
                for e in self.bulk
            ]
        if self.capability_users:
            out["capability_users"] = [
                {"user": c.user, "user_uuid": c.user_uuid, "form_factors": list(c.form_factors)}
                for c in self.capability_users
            ]
        if self.platforms:
            out["platforms"] = sorted(p.value for p in self.platforms)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Target:
        return cls(
            kind=TargetKind(raw["kind"]),
            registration_ids=tuple(raw.get("registration_ids", ())),
            device_id=raw.get("device_id"),
            user=raw.get("user"),
            users=tuple(raw.get("users", ())),
            user_uuids=tuple(raw.get("user_uuids", ())),
            bulk=tuple(
                BulkEntry(e["user"], e["user_uuid"], Message.from_dict(e["message"]))
                for e in raw.get("bulk", ())
            ),
            topics=tuple(raw.get("topics", ())),
            push_group=raw.get("push_group"),
            capability=raw.get("capability"),
            capability_users=tuple(
                CapabilityUser(c["user"], c["user_uuid"], tuple(c["form_factors"]))
                for c in raw.get("capability_users", ())
            ),
            platforms=frozenset(Platform(p) for p in raw.get("platforms", ())),
        )


def required_role(target: Target) -> Role:
    if target.kind is TargetKind.APP:
        return Role.PUSH_ALL
    return Role.PUSH_SINGLE if target.is_single else Role.PUSH_MULTIPLE


def check_target(target: Target) -> Target:
    """The rules a selector's shape must follow, naming the field that breaks one."""
    kind = target.kind
    if kind is TargetKind.REGISTRATIONS and not target.registration_ids:
        raise MissingField("name at least one registration id", field="target.registrations")
    if kind is TargetKind.DEVICE and not target.device_id:
        raise MissingField("a device target needs device and user", field="target.device")
    if kind is TargetKind.DEVICE and not (target.user or target.user_uuids):
        raise MissingField("a device target needs device and user", field="target.user")
    if kind is TargetKind.USERS and not (target.users or target.user_uuids):
        raise MissingField("name at least one user or user uuid", field="target.users")
    if kind is TargetKind.BULK:
        if not target.bulk:
            raise MissingField("name at least one user's notification", field="target.bulk")
        for index, entry in enumerate(target.bulk):
            if not (entry.user or entry.user_uuid):
                raise MissingField(
                    "each entry names a user or a user uuid", field=f"target.bulk[{index}].user"
                )
    if kind is TargetKind.TOPICS and not target.topics:
        raise MissingField("name at least one topic", field="target.topics")
    if kind is TargetKind.PUSH_GROUP and not target.push_group:
        raise MissingField("name the push group", field="target.push_group")
    if kind is TargetKind.CAPABILITY and not target.capability:
        raise MissingField("name the capability", field="target.capability")
    for name in ("registration_ids", "users", "user_uuids", "topics", "bulk"):
        if len(getattr(target, name)) > MAX_LISTED:
            raise InvalidInput(f"lists at most {MAX_LISTED} entries", field=f"target.{name}")
    return target
