"""The database outbox: jobs live in the `jobs` table, committed with their notification.

An accepted notification and its fan-out job are one transaction, so neither exists
without the other. Claims take a lease (SKIP LOCKED on PostgreSQL); a batch's completion is
deleted in the same transaction that records its results, so a batch is never recorded
twice. In-process enqueues wake the lane's workers at once; other processes poll.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from pushgate.delivery.queue import LaneBacklog
from pushgate.domain.jobs import Job, JobKind, NewJob
from pushgate.domain.notifications import Lane
from pushgate.store.engine import Database
from pushgate.store.uow import UnitOfWork, unit_of_work


class DbQueue:
    name = "database"
    needs_sweep = False  # a job and its notification commit together

    def __init__(
        self,
        db: Database,
        *,
        owner: str,
        lease_s: float,
        clock: Callable[[], datetime],
    ) -> None:
        self.owner = owner
        self._db = db
        self._lease = timedelta(seconds=lease_s)
        self._clock = clock
        self._wakeups = {lane: asyncio.Event() for lane in Lane}

    def _lease_until(self) -> datetime:
        return self._clock() + self._lease

    def _wake_after_commit(self, uow: UnitOfWork, lane: Lane) -> None:
        async def wake() -> None:
            self._wakeups[lane].set()

        uow.after_commit.append(wake)

    async def enqueue(self, uow: UnitOfWork, job: NewJob) -> None:
        await uow.jobs.insert(job)
        self._wake_after_commit(uow, job.lane)

    async def enqueue_leased(self, uow: UnitOfWork, job: NewJob, *, local: bool) -> Job | None:
        # Always a row, local or not: committed with its notification, it is recoverable.
        return await uow.jobs.insert_leased(job, self.owner, self._lease_until())

    async def claim(self, lane: Lane, limit: int) -> list[Job]:
        now = self._clock()
        async with unit_of_work(self._db) as uow:
            return await uow.jobs.claim(lane, self.owner, now, now + self._lease, limit)

    async def extend(self, jobs: Sequence[Job]) -> None:
        if not jobs:
            return
        async with unit_of_work(self._db) as uow:
            await uow.jobs.extend([j.id for j in jobs], self.owner, self._lease_until())

    async def advance(self, uow: UnitOfWork, fanout: Job, after_id: str) -> bool:
        assert fanout.kind is JobKind.FANOUT  # noqa: S101 - callers pass their fan-out job
        if not await uow.jobs.advance(fanout.id, self.owner, after_id):
            return False
        self._wake_after_commit(uow, fanout.lane)
        return True

    async def complete(self, uow: UnitOfWork, job: Job) -> bool:
        return await uow.jobs.delete(job.id, self.owner)

    async def postpone(self, job: Job, available_at: datetime, *, count_attempt: bool) -> None:
        async with unit_of_work(self._db) as uow:
            await uow.jobs.release(job.id, self.owner, available_at, count_attempt=count_attempt)

    async def wait(self, lane: Lane, timeout_s: float) -> None:
        event = self._wakeups[lane]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout_s)
        event.clear()

    async def backlog(self, now: datetime) -> list[LaneBacklog]:
        async with unit_of_work(self._db, readonly=True) as uow:
            found = {lane: (jobs, oldest) for lane, jobs, oldest in await uow.jobs.backlog(now)}
        return [LaneBacklog(lane.value, *found.get(lane.value, (0, None))) for lane in Lane]

    async def aclose(self) -> None:
        return None
