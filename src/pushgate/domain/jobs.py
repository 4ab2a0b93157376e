"""Units of delivery work as the queue carries them: fan-out cursors and batches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pushgate.domain.notifications import Lane


class JobKind(StrEnum):
    FANOUT = "fanout"  # the audience cursor of one notification: each claim plans one page
    BATCH = "batch"  # one page of the audience: a keyset range, or explicit ids


@dataclass(frozen=True, slots=True)
class NewJob:
    notification_id: str
    kind: JobKind
    lane: Lane
    epoch: int
    available_at: datetime
    after_id: str | None = None
    upto_id: str | None = None
    expected: int = 0  # registrations the planner saw in the range
    ids: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Job:
    id: str  # the queue's own id: a row id, or a stream entry id
    notification_id: str
    kind: JobKind
    lane: Lane
    epoch: int
    after_id: str | None
    upto_id: str | None
    expected: int
    ids: tuple[str, ...] | None
    attempts: int  # claims so far, this one included
    # Held by this process only, never written to the queue (inline delivery on a queue
    # outside the database): if the process dies, the recovery sweep re-plans its work.
    local: bool = False
