"""The database queue's table: jobs inserted with their notification, claimed with a lease.

PostgreSQL claims with FOR UPDATE SKIP LOCKED, so workers on many machines never wait for
each other's rows; SQLite has one writer, which serializes claims on its own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update

from pushgate.domain.jobs import Job, JobKind, NewJob
from pushgate.domain.notifications import Lane
from pushgate.store.repos._base import Repo
from pushgate.store.tables import batch_marks, jobs

_J = jobs


def _job(row: Any) -> Job:
    return Job(
        str(row.id),
        row.notification_id,
        JobKind(row.kind),
        Lane(row.lane),
        row.epoch,
        row.after_id,
        row.upto_id,
        row.expected,
        tuple(json.loads(row.ids)) if row.ids else None,
        row.attempts,
    )


def _values(new: NewJob) -> dict[str, Any]:
    return {
        "notification_id": new.notification_id,
        "kind": new.kind.value,
        "lane": new.lane.value,
        "epoch": new.epoch,
        "after_id": new.after_id,
        "upto_id": new.upto_id,
        "expected": new.expected,
        "ids": json.dumps(list(new.ids)) if new.ids is not None else None,
        "available_at": new.available_at,
    }


class JobRepo(Repo):
    async def insert(self, new: NewJob) -> None:
        await self.conn.execute(insert(_J).values(**_values(new), attempts=0))

    async def insert_leased(self, new: NewJob, owner: str, lease_until: datetime) -> Job:
        """A job its creator processes at once (a planned page), already leased to it."""
        stmt = (
            insert(_J)
            .values(**_values(new), attempts=1, lease_owner=owner, lease_until=lease_until)
            .returning(*_J.c)
        )
        return _job((await self.conn.execute(stmt)).one())

    async def claim(
        self, lane: Lane, owner: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[Job]:
        free = (
            select(_J.c.id)
            .where(
                _J.c.lane == lane.value,
                _J.c.available_at <= now,
                or_(_J.c.lease_until.is_(None), _J.c.lease_until < now),
            )
            .order_by(_J.c.available_at, _J.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(_J)
            .where(_J.c.id.in_(free))
            .values(lease_owner=owner, lease_until=lease_until, attempts=_J.c.attempts + 1)
            .returning(*_J.c)
        )
        return sorted((_job(r) for r in await self.conn.execute(stmt)), key=lambda j: int(j.id))

    async def extend(self, ids: Sequence[str], owner: str, lease_until: datetime) -> None:
        await self.conn.execute(
            update(_J)
            .where(_J.c.id.in_([int(i) for i in ids]), _J.c.lease_owner == owner)
            .values(lease_until=lease_until)
        )

    async def advance(self, job_id: str, owner: str, after_id: str) -> bool:
        """A fan-out job planned one more page: move its cursor and free it for any worker.

        False when `owner` no longer holds it (its lease ran out and another worker took it).
        """
        result = await self.conn.execute(
            update(_J)
            .where(_J.c.id == int(job_id), _J.c.lease_owner == owner)
            .values(after_id=after_id, lease_owner=None, lease_until=None, attempts=0)
        )
        return bool(result.rowcount)

    async def release(
        self, job_id: str, owner: str, available_at: datetime, *, count_attempt: bool
    ) -> None:
        values: dict[str, Any] = {
            "lease_owner": None,
            "lease_until": None,
            "available_at": available_at,
        }
        if not count_attempt:
            values["attempts"] = _J.c.attempts - 1
        await self.conn.execute(
            update(_J).where(_J.c.id == int(job_id), _J.c.lease_owner == owner).values(**values)
        )

    async def delete(self, job_id: str, owner: str) -> bool:
        """Remove a finished job; False when `owner` no longer holds it (taken over)."""
        result = await self.conn.execute(
            delete(_J).where(_J.c.id == int(job_id), _J.c.lease_owner == owner)
        )
        return bool(result.rowcount)

    async def backlog(self, now: datetime) -> list[tuple[str, int, datetime | None]]:
        """(lane, jobs due or leased, the oldest one's available_at) per lane with jobs.

        The jobs table holds cursors and batches (a thousand registrations each), not
        deliveries: a scan of it is small even for a broadcast to millions.
        """
        due = _J.c.available_at <= now
        stmt = (
            select(_J.c.lane, func.count(), func.min(_J.c.available_at))
            .where(due)
            .group_by(_J.c.lane)
        )
        return [(lane, int(jobs), oldest) for lane, jobs, oldest in await self.conn.execute(stmt)]

    async def mark_batch(self, notification_id: str, batch_key: str, now: datetime) -> bool:
        """Record that a batch's results are in; False when they already were."""
        stmt = (
            self.upsert_insert(batch_marks)
            .values(notification_id=notification_id, batch_key=batch_key, created_at=now)
            .on_conflict_do_nothing(index_elements=["notification_id", "batch_key"])
        )
        return bool((await self.conn.execute(stmt)).rowcount)
