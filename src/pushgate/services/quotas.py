"""Notification quotas per app: how many notifications a front door accepts in a window.

The SAP seed's 429 ("You have reached the maximum number of notifications for your trial
account"): an app over its quota is refused before anything is stored. Every notification of
the app counts, whichever front door accepted it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pushgate.errors import ErrorCode, PushgateError
from pushgate.store.engine import Database
from pushgate.store.uow import unit_of_work

QUOTA_WINDOW = timedelta(hours=24)


class QuotaExceeded(PushgateError):
    """The app reached its notification quota; front doors that know quotas answer 429."""

    code = ErrorCode.FORBIDDEN


async def check_quota(db: Database, app_id: int, limit: int | None, now: datetime) -> None:
    """Refuse a further notification when the app had `limit` in the last 24 hours."""
    if limit is None:
        return
    async with unit_of_work(db, readonly=True) as uow:
        used = await uow.notification_usage.count_since(app_id, now - QUOTA_WINDOW, cap=limit)
    if used >= limit:
        raise QuotaExceeded(
            f"the app reached its quota of {limit} notifications in 24 hours",
            field="quota",
            details={"limit": limit},
        )
