"""The recovery sweep: notifications whose work vanished are planned again, nothing lost.

Needed by queues that live outside the database (Redis Streams): the queue write follows the
database commit, so a process can die between the two, and a Redis without persistence
loses every stream when it restarts. The database is the record: a notification that makes
no progress for `stall_s` is re-planned under a new epoch (work of older epochs is dropped
when claimed), and its fan-out skips every registration that already has a delivery row.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from pushgate.delivery.queue import Queue
from pushgate.domain.jobs import JobKind, NewJob
from pushgate.store.engine import Database
from pushgate.store.uow import unit_of_work

_log = structlog.get_logger("pushgate.sweep")


async def sweep_stalled(
    db: Database,
    queue: Queue,
    clock: Callable[[], datetime],
    *,
    stall_s: float,
    limit: int = 100,
) -> int:
    """Re-plan notifications stalled for `stall_s`; how many were."""
    now = clock()
    replanned = 0
    async with unit_of_work(db) as uow:
        for stalled in await uow.notifications.stalled(now - timedelta(seconds=stall_s), limit):
            epoch = await uow.notifications.replan(stalled.id, stalled.epoch, now)
            if epoch is None:
                continue  # another worker's sweep took it
            job = NewJob(stalled.id, JobKind.FANOUT, stalled.lane, epoch, now)
            await queue.enqueue(uow, job)
            replanned += 1
            _log.warning(
                "notification stalled; planned again", notification=stalled.id, epoch=epoch
            )
    return replanned
