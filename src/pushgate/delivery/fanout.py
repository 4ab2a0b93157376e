"""Fan-out: turn a notification's target into batches, one keyset page at a time.

A fan-out job is a cursor. Each claim plans one page in one transaction: the page becomes a
batch job (leased to the planner, which sends it right away from memory) and the cursor
moves on, freed for any worker to plan the next page. So several workers share a large
audience, memory stays one page per worker, and a planner killed mid-way loses nothing: its
batch is claimed again when the lease runs out, the cursor was already saved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from pushgate.delivery.prepared import Prepared, PreparedCache
from pushgate.delivery.queue import Queue
from pushgate.domain.jobs import Job, JobKind, NewJob
from pushgate.domain.notifications import Notification, NotificationState
from pushgate.domain.targets import TargetKind
from pushgate.domain.timezones import resolve_time_zone
from pushgate.store.engine import Database
from pushgate.store.repos.audience import AudienceRow, PageQuery
from pushgate.store.uow import UnitOfWork, unit_of_work

_FINISHED = (NotificationState.CANCELLED, NotificationState.DONE)
_log = structlog.get_logger("pushgate.delivery")


class _TakenOver(Exception):
    """This process's lease on a job ran out and another process holds it now."""


@dataclass(frozen=True, slots=True)
class PlannedPage:
    prepared: Prepared
    batch: Job | None  # leased to us: send `rows` now (None: queued for whoever claims it)
    rows: list[AudienceRow]


async def prepare(uow: UnitOfWork, cache: PreparedCache, notification: Notification) -> Prepared:
    """The notification ready to deliver (cached per id and epoch)."""
    found = cache.get(notification.id, notification.epoch)
    if found is not None:
        return found
    request = notification.request()
    topic_ids: list[int] = []
    if request.target.kind is TargetKind.TOPICS:
        topic_ids = await uow.audience.topic_ids(notification.app_id, request.target.topics)
    limits = await uow.apps.rate_limits(notification.app_id)
    return cache.put(Prepared(notification, request, limits, topic_ids))


class Planner:
    def __init__(
        self,
        db: Database,
        queue: Queue,
        cache: PreparedCache,
        *,
        page_size: int,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._queue = queue
        self._cache = cache
        self._page_size = page_size
        self._clock = clock

    async def plan(self, job: Job, *, page_size: int | None = None) -> PlannedPage | None:
        """Plan the next page of a fan-out job; None when there is nothing to send now."""
        try:
            return await self._plan(job, page_size)
        except _TakenOver:
            _log.warning("fan-out job taken over by another worker", job=job.id)
            return None

    async def _plan(self, job: Job, page_size: int | None) -> PlannedPage | None:
        now = self._clock()
        async with unit_of_work(self._db) as uow:
            notification = await uow.notifications.get(job.notification_id)
            if (
                notification is None
                or notification.state in _FINISHED
                or notification.epoch != job.epoch
            ):
                await self._queue.complete(uow, job)  # cancelled, or re-planned by a sweep
                return None
            if notification.state is not NotificationState.SENDING:
                await uow.notifications.mark_sending(notification.id, now)
            prepared = await prepare(uow, self._cache, notification)
            query = PageQuery(after=job.after_id, limit=page_size or self._page_size)
            page = await uow.audience.page(
                notification.app_id,
                prepared.request.target,
                query,
                topic_ids=prepared.topic_ids,
            )
            groups = self._groups(job, prepared, page.rows, page.last_scanned, now)
            leased: Job | None = None
            sent_now: list[AudienceRow] = []
            for new, rows in groups:
                if leased is None and new.available_at <= now:
                    leased = await self._queue.enqueue_leased(uow, new, local=job.local)
                    sent_now = rows
                else:
                    await self._queue.enqueue(uow, new)
            if page.exhausted:
                held = await self._queue.complete(uow, job)
            else:
                assert page.last_scanned is not None  # noqa: S101 - a full page has a last id
                held = await self._queue.advance(uow, job, page.last_scanned)
            if not held:
                # Our lease ran out and another worker took the job over: the page is
                # theirs to plan; everything this transaction did is rolled back.
                raise _TakenOver
            await uow.notifications.add_planned(
                notification.id, len(page.rows), len(groups), fanout_done=page.exhausted, now=now
            )
        return PlannedPage(prepared, leased, sent_now if leased is not None else [])

    def _groups(
        self,
        fanout: Job,
        prepared: Prepared,
        rows: list[AudienceRow],
        last_scanned: str | None,
        now: datetime,
    ) -> list[tuple[NewJob, list[AudienceRow]]]:
        """The batch jobs of one page: its keyset range, or (local time) one per due time."""
        if not rows:
            return []
        nid, lane, epoch = fanout.notification_id, fanout.lane, fanout.epoch
        if not prepared.request.local_time:
            batch = NewJob(
                nid,
                JobKind.BATCH,
                lane,
                epoch,
                now,
                after_id=fanout.after_id,
                upto_id=last_scanned,
                expected=len(rows),
            )
            return [(batch, rows)]
        wall = prepared.request.send_at
        assert wall is not None  # noqa: S101 - local_time requires send_at (services check)
        by_due: dict[datetime, list[AudienceRow]] = {}
        for row in rows:
            by_due.setdefault(local_due(wall, row.time_zone), []).append(row)
        return [
            (
                NewJob(
                    nid,
                    JobKind.BATCH,
                    lane,
                    epoch,
                    due,
                    expected=len(members),
                    ids=tuple(r.registration_id for r in members),
                ),
                members,
            )
            for due, members in sorted(by_due.items())
        ]


def local_due(wall: datetime, time_zone: str | None) -> datetime:
    """`wall` (a wall-clock reading stored as UTC) in the registration's zone, as UTC.

    Registrations without a known zone get the wall time in UTC.
    """
    zone = resolve_time_zone(time_zone) if time_zone else None
    naive = wall.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    return naive.replace(tzinfo=zone or UTC).astimezone(UTC)
