"""The kinds of event pushgate records per app (the event log, and later its webhooks)."""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    # The mass-invalidation guard stopped deactivating on a credential: most of a batch came
    # back "invalid token", the sign of a sandbox/production or topic mismatch of ours.
    CREDENTIAL_SUSPECT = "credential.suspect"
