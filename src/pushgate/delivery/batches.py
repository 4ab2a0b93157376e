"""Run batches and due retries: load the audience, send, record in one transaction.

A batch's results, its counters, the deactivations it caused and the removal of its job are
one transaction, so a batch is recorded once or not at all (then it is claimed again when
its lease ends, and re-sent: at-least-once, duplicates bounded by the batches in flight).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from pushgate.delivery.fanout import prepare
from pushgate.delivery.prepared import Prepared, PreparedCache
from pushgate.delivery.queue import Queue
from pushgate.delivery.sender import Sender, SendReport
from pushgate.domain.events import EventKind
from pushgate.domain.jobs import Job
from pushgate.domain.notifications import NotificationState
from pushgate.domain.statuses import DeliveryStatus, ResultCode
from pushgate.domain.webhooks import device_data
from pushgate.store.engine import Database
from pushgate.store.repos.audience import AudienceRow, PageQuery
from pushgate.store.repos.deliveries import EXPLODED_REASON, DeliveryRow, DueDelivery
from pushgate.store.repos.notifications import BatchOutcome
from pushgate.store.uow import UnitOfWork, unit_of_work

_log = structlog.get_logger("pushgate.delivery")


@dataclass(frozen=True, slots=True)
class BatchDone:
    notification_id: str
    rows: list[DeliveryRow]  # what was recorded (the inline path answers with it)


async def _invalidated(
    uow: UnitOfWork, app_id: int, registration_ids: list[str], now: datetime
) -> None:
    """device.token_invalidated for each registration deactivated just now, while a webhook
    of the app wants it (a token re-registered after its cutoff stayed active: no event)."""
    kind = EventKind.DEVICE_TOKEN_INVALIDATED.value
    if not await uow.webhooks.subscribers(app_id, kind):
        return
    gone = await uow.registrations.deactivated(registration_ids, now)
    items = [(r.id, device_data(r, reason=r.deactivation_reason)) for r in gone]
    await uow.events.append_many(app_id, kind, items, now, only_if_wanted=True)


class BatchRunner:
    def __init__(
        self,
        db: Database,
        queue: Queue,
        cache: PreparedCache,
        sender: Sender,
        *,
        clock: Callable[[], datetime],
        explode_after: int,
        retry_lease_s: float,
        retry_group: int,
    ) -> None:
        self._db = db
        self._queue = queue
        self._cache = cache
        self._sender = sender
        self._clock = clock
        self._explode_after = explode_after
        self._retry_lease = timedelta(seconds=retry_lease_s)
        self._retry_group = retry_group

    async def run(
        self, job: Job, *, prepared: Prepared | None = None, rows: list[AudienceRow] | None = None
    ) -> BatchDone | None:
        """Send one batch job (its rows given when the planner just read them)."""
        if prepared is None or rows is None:
            loaded = await self._load(job)
            if loaded is None:
                return None
            prepared, rows = loaded
        if job.attempts >= self._explode_after:
            await self._explode(job, rows)
            return None
        history = await self._history(prepared, rows)
        report = await self._sender.send(prepared, rows, [job.attempts] * len(rows), history)
        outcome = BatchOutcome(
            planned_done=job.expected,
            batches_done=1,
            targeted=len(rows),
            sent=report.sent,
            errors=report.errors,
        )
        await self._record(prepared, report, outcome, job=job, fresh=job.attempts <= 1)
        return BatchDone(prepared.notification.id, report.rows)

    async def _load(self, job: Job) -> tuple[Prepared, list[AudienceRow]] | None:
        """A claimed batch's notification and audience, read again (its planner is gone)."""
        async with unit_of_work(self._db) as uow:
            notification = await uow.notifications.get(job.notification_id)
            if (
                notification is None
                or notification.epoch != job.epoch  # re-planned by a sweep
                or notification.state in (NotificationState.CANCELLED, NotificationState.DONE)
            ):
                await self._queue.complete(uow, job)
                return None
            prepared = await prepare(uow, self._cache, notification)
            # Re-claimed or re-planned work skips what was recorded before.
            skip = notification.id if job.attempts > 1 or job.epoch > 0 else None
            target = prepared.request.target
            if job.ids is not None:
                rows = await uow.audience.by_ids(
                    notification.app_id, target, job.ids, skip_done_for=skip
                )
                return prepared, rows
            rows = []
            after = job.after_id
            while True:
                query = PageQuery(after=after, upto=job.upto_id, limit=1000, skip_done_for=skip)
                page = await uow.audience.page(
                    notification.app_id, target, query, topic_ids=prepared.topic_ids
                )
                rows.extend(page.rows)
                if page.exhausted or page.last_scanned is None:
                    return prepared, rows
                after = page.last_scanned

    async def _history(
        self, prepared: Prepared, rows: Sequence[AudienceRow]
    ) -> dict[str, set[str]] | None:
        if not prepared.needs_history or not rows:
            return None
        async with unit_of_work(self._db, readonly=True) as uow:
            return await uow.audience.history([r.registration_id for r in rows])

    async def _explode(self, job: Job, rows: Sequence[AudienceRow]) -> None:
        """A batch that keeps failing as a whole (a worker dying on it): hand its deliveries to
        the retry loop, where each counts its own attempts and gives up on its own."""
        now = self._clock()
        _log.warning(
            "batch failed repeatedly; its deliveries go to the retry loop",
            notification=job.notification_id,
            attempts=job.attempts,
        )
        queued = [
            (
                job.notification_id,
                row.registration_id,
                int(DeliveryStatus.QUEUED),
                int(ResultCode.RECOVERABLE_IO),
                job.attempts,
                row.platform.value,
                EXPLODED_REASON,
                None,
                now,
                now,
            )
            for row in rows
        ]
        async with unit_of_work(self._db) as uow:
            if not await self._queue.complete(uow, job):
                return  # another worker holds it now
            outcome = BatchOutcome(planned_done=job.expected, batches_done=1, targeted=len(rows))
            await uow.notifications.apply(job.notification_id, outcome, now, epoch=job.epoch)
            await uow.deliveries.write(queued, fresh=False)

    async def _record(
        self,
        prepared: Prepared,
        report: SendReport,
        outcome: BatchOutcome,
        *,
        job: Job | None,
        fresh: bool,
    ) -> None:
        n = prepared.notification
        now = self._clock()
        async with unit_of_work(self._db) as uow:
            # Completing first: it is what tells whether these results are still ours to
            # record (and on PostgreSQL it opens the transaction the COPY then joins).
            if job is not None and not await self._queue.complete(uow, job):
                _log.warning(
                    "batch taken over by another worker; its results stand",
                    notification=n.id,
                    job=job.id,
                )
                return
            epoch = job.epoch if job is not None else None
            await uow.notifications.apply(n.id, outcome, now, epoch=epoch)
            await uow.deliveries.write(report.rows, fresh=fresh)
            await self._side_effects(uow, prepared, report, now)

    @staticmethod
    async def _side_effects(
        uow: UnitOfWork, prepared: Prepared, report: SendReport, now: datetime
    ) -> None:
        app_id = prepared.notification.app_id
        if report.deactivations:
            dead = [(d.registration_id, d.reason, d.cutoff) for d in report.deactivations]
            await uow.registrations.deactivate_dead(dead, now)
            await _invalidated(uow, app_id, [d[0] for d in dead], now)
        for suspect in report.suspects:
            _log.warning(
                "credential suspect: mass invalid-token answers",
                app=app_id,
                provider=suspect.provider,
                notification=prepared.notification.id,
            )
            if await uow.credentials.mark_suspect(app_id, suspect.provider, suspect.reason, now):
                await uow.events.append(
                    app_id,
                    EventKind.CREDENTIAL_SUSPECT.value,
                    suspect.provider,
                    {
                        "provider": suspect.provider,
                        "reason": suspect.reason,
                        "notification_id": prepared.notification.id,
                    },
                    now,
                )

    async def run_due(self, limit: int | None = None) -> int:
        """Send the retries whose time has come; the number of deliveries tried."""
        now = self._clock()
        async with unit_of_work(self._db) as uow:
            due = await uow.deliveries.claim_due(
                now, now + self._retry_lease, limit or self._retry_group
            )
        groups: dict[tuple[bool, str], list[DueDelivery]] = defaultdict(list)
        for item in due:
            groups[(item.alone, item.notification_id)].append(item)
        # The suspect (claim_due) goes last and alone: if its attempt kills this worker, the
        # others' answers are recorded already.
        for (_alone, notification_id), items in sorted(groups.items(), key=lambda g: g[0][0]):
            await self._retry(notification_id, items)
        return len(due)

    async def _retry(self, notification_id: str, items: list[DueDelivery]) -> None:
        attempts = {i.registration_id: i.attempts for i in items}
        async with unit_of_work(self._db, readonly=True) as uow:
            notification = await uow.notifications.get(notification_id)
            if notification is None:
                return
            prepared = await prepare(uow, self._cache, notification)
            rows = await uow.audience.by_ids(
                notification.app_id, prepared.request.target, sorted(attempts)
            )
        history = await self._history(prepared, rows)
        report = await self._sender.send(
            prepared, rows, [attempts[r.registration_id] for r in rows], history
        )
        gone = sorted(set(attempts) - {r.registration_id for r in rows})
        now = self._clock()
        for registration_id in gone:  # deactivated or no longer targeted meanwhile
            report.rows.append(
                (
                    notification_id,
                    registration_id,
                    int(DeliveryStatus.ERROR),
                    int(ResultCode.TARGET_NOT_FOUND),
                    attempts[registration_id],
                    "",
                    "registration no longer active or targeted",
                    None,
                    None,
                    now,
                )
            )
            report.errors += 1
        outcome = BatchOutcome(sent=report.sent, errors=report.errors)
        await self._record(prepared, report, outcome, job=None, fresh=False)
