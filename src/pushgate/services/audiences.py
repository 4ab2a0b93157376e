"""Who a send reaches, before and right after it is accepted.

Vendor APIs answer "no registration found" (404) instead of accepting a notification that
reaches nobody, and list a result for each registration a queued send reaches (the SAP
seed's pushResults: notification ids and their initial status). Both read the audience the
fan-out will read, one bounded page of it.
"""

from __future__ import annotations

from pushgate.domain.notifications import delivery_id
from pushgate.domain.statuses import DeliveryStatus, ResultCode
from pushgate.domain.targets import Target, TargetKind
from pushgate.services.notifications import TargetResult
from pushgate.store.engine import Database
from pushgate.store.repos.audience import AudiencePage, PageQuery
from pushgate.store.uow import UnitOfWork, unit_of_work

MAX_LISTED_RESULTS = 1000  # per answer; every delivery's status stays queryable by its id


async def _page(uow: UnitOfWork, app_id: int, target: Target, query: PageQuery) -> AudiencePage:
    topic_ids: list[int] = []
    if target.kind is TargetKind.TOPICS:
        topic_ids = await uow.audience.topic_ids(app_id, target.topics)
    return await uow.audience.page(app_id, target, query, topic_ids=topic_ids)


async def reaches_anyone(db: Database, app_id: int, target: Target) -> bool:
    """True when the target selects at least one active registration."""
    async with unit_of_work(db, readonly=True) as uow:
        page = await _page(uow, app_id, target, PageQuery(limit=1))
        # Topics and capabilities page through candidates, which may all be inactive.
        while not page.rows and not page.exhausted:
            query = PageQuery(after=page.last_scanned, limit=MAX_LISTED_RESULTS)
            page = await _page(uow, app_id, target, query)
        return bool(page.rows)


async def listed_results(
    db: Database, app_id: int, notification_id: str, target: Target
) -> list[TargetResult]:
    """The first registrations of a queued send's audience, each as recorded so far (most
    still queued, code -1)."""
    async with unit_of_work(db, readonly=True) as uow:
        page = await _page(uow, app_id, target, PageQuery(limit=MAX_LISTED_RESULTS))
        recorded = {
            d.registration_id: d
            for d in await uow.deliveries.list_page(
                notification_id, status=None, after=None, limit=MAX_LISTED_RESULTS
            )
        }
    results: list[TargetResult] = []
    for row in page.rows:
        rid = row.registration_id
        found = recorded.get(rid)
        status = found.status if found else DeliveryStatus.QUEUED
        final = found is not None and found.status.is_final
        results.append(
            TargetResult(
                rid,
                delivery_id(notification_id, rid),
                row.platform.value,
                status,
                found.code if found is not None and final else ResultCode.QUEUED,
                found.reason if found else None,
            )
        )
    return results
