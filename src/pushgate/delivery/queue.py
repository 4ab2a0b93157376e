"""The queue interface, implemented by the database outbox (queue_db) and Redis Streams.

Work is claimed with a lease: a worker that dies loses nothing, its jobs are claimed again
when the lease runs out (at-least-once). Jobs that join a database transaction (enqueue with
the notification, completion with the results) take the UnitOfWork: the database queue
writes in it; other back ends act after it commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pushgate.domain.jobs import Job, NewJob
from pushgate.domain.notifications import Lane
from pushgate.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class LaneBacklog:
    """Work waiting in a lane (due or being worked on), and since when the oldest waits."""

    lane: str
    jobs: int
    oldest_due_at: datetime | None


class Queue(Protocol):
    name: str
    owner: str  # this process's lease owner id
    # True when its writes follow the database commit (not part of it): the worker then
    # runs the recovery sweep (sweep.py).
    needs_sweep: bool

    async def enqueue(self, uow: UnitOfWork, job: NewJob) -> None:
        """Queue a job as part of the transaction (or right after it commits)."""
        ...

    async def enqueue_leased(self, uow: UnitOfWork, job: NewJob, *, local: bool) -> Job | None:
        """Queue a job already leased to this process (it works on it at once).

        None when the back end cannot hand out a job before it is claimed; the job is
        then simply queued and whoever claims it does the work. `local` asks for a job this
        process keeps to itself even so (inline delivery; see Job.local).
        """
        ...

    async def claim(self, lane: Lane, limit: int) -> list[Job]:
        """Up to `limit` available jobs of the lane, leased to this process."""
        ...

    async def extend(self, jobs: Sequence[Job]) -> None:
        """Renew the leases of jobs still being worked on."""
        ...

    async def advance(self, uow: UnitOfWork, fanout: Job, after_id: str) -> bool:
        """A fan-out job planned a page: move its cursor past `after_id` and free it.

        False when this process no longer holds the job (another took it over): the
        caller must then roll its transaction back, its page is the other's to plan.
        """
        ...

    async def complete(self, uow: UnitOfWork, job: Job) -> bool:
        """The job's work is being recorded in `uow`: remove the job.

        False when the job was already completed or taken over by another process: the
        caller must not record its results then (they would count twice).
        """
        ...

    async def postpone(self, job: Job, available_at: datetime, *, count_attempt: bool) -> None:
        """Give a job back to be claimed again at `available_at`."""
        ...

    async def wait(self, lane: Lane, timeout_s: float) -> None:
        """Return when work may have arrived on the lane, or after `timeout_s`."""
        ...

    async def backlog(self, now: datetime) -> list[LaneBacklog]:
        """Each lane's jobs that are due or being worked on (read for /metrics)."""
        ...

    async def aclose(self) -> None: ...
