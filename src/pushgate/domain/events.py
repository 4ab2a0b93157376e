"""The kinds of event pushgate records per app: the event log, which webhooks deliver."""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    # The mass-invalidation guard stopped deactivating on a credential: most of a batch came
    # back "invalid token", the sign of a sandbox/production or topic mismatch of ours.
    CREDENTIAL_SUSPECT = "credential.suspect"

    # Messages (one event per notification, not per device: a broadcast is one event).
    MESSAGE_ACCEPTED = "message.accepted"  # stored with its job; delivery starts now or later
    # Finished (every targeted device has a final status) with at least one device reached.
    MESSAGE_DELIVERED = "message.delivered"
    # Finished with no device reached: every target failed, or none was targeted.
    MESSAGE_FAILED = "message.failed"
    # Devices (registrations). Recorded only while a webhook of the app subscribes to the
    # kind: a log row per registration write would double the hottest write for no reader.
    DEVICE_REGISTERED = "device.registered"
    DEVICE_UPDATED = "device.updated"
    DEVICE_DELETED = "device.deleted"
    # The provider called the token dead.
    DEVICE_TOKEN_INVALIDATED = "device.token_invalidated"  # noqa: S105 - a kind, no secret
    DEVICE_SUBSCRIBED = "device.subscribed"  # to a topic (tag)
    DEVICE_UNSUBSCRIBED = "device.unsubscribed"


# Kinds recorded only while some webhook of the app wants them (see above).
ON_DEMAND_KINDS: frozenset[EventKind] = frozenset(k for k in EventKind if k.startswith("device."))
