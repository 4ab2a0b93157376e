"""Delivery rows: a batch's results in one driver call, due retries, status reads, receipts.

The results of a batch are the hottest write of the product (one row per device reached).
They bypass SQLAlchemy's per-row processing: asyncpg's COPY on PostgreSQL for a batch's
first attempt (measured: 1,000,000 rows in 1.2-3.7 s, against 6-9 s for executemany), one
executemany on SQLite; retries and re-claimed batches upsert, never overwriting a final
status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal_column, select, text, tuple_, update

from pushgate.domain.statuses import DeliveryStatus, ResultCode
from pushgate.store.fast import sqlite_time
from pushgate.store.repos._base import Repo
from pushgate.store.tables import deliveries

_D = deliveries
COLUMNS = (
    "notification_id",
    "registration_id",
    "status",
    "code",
    "attempts",
    "platform",
    "reason",
    "provider_ref",
    "next_attempt_at",
    "updated_at",
)
# (notification_id, registration_id, status, code, attempts, platform, reason, provider_ref,
#  next_attempt_at, updated_at): plain tuples, the cheapest row on the hot path.
DeliveryRow = tuple[str, str, int, int, int, str, str | None, str | None, datetime | None, datetime]

_UPDATE_QUEUED = (
    "ON CONFLICT (notification_id, registration_id) DO UPDATE SET status = excluded.status, "
    "code = excluded.code, attempts = excluded.attempts, reason = excluded.reason, "
    "provider_ref = excluded.provider_ref, next_attempt_at = excluded.next_attempt_at, "
    "updated_at = excluded.updated_at WHERE deliveries.status = 0"
)
_SQLITE_UPSERT = (
    f"INSERT INTO deliveries ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "  # noqa: S608 - our constants  # nosec B608
    + _UPDATE_QUEUED
)
_SQLITE_INSERT = (
    f"INSERT INTO deliveries ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"  # noqa: S608 - our constants  # nosec B608
)
_PG_TYPES = ("text", "text", "int2", "int2", "int2", "text", "text", "text") + ("timestamptz",) * 2
_PG_UPSERT = (
    f"INSERT INTO deliveries ({', '.join(COLUMNS)}) SELECT * FROM unnest("  # noqa: S608 - our constants  # nosec B608
    + ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(_PG_TYPES))
    + ") "
    + _UPDATE_QUEUED
)


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    notification_id: str
    registration_id: str
    status: DeliveryStatus
    code: ResultCode
    attempts: int
    platform: str
    reason: str | None
    provider_ref: str | None
    next_attempt_at: datetime | None
    updated_at: datetime


# Written on a retry when it is claimed, replaced by the attempt's answer when it is recorded:
# a due retry still showing it was never recorded (its worker died on it, reliability.md F11)
# is a suspect. (A batch handed over after its workers kept dying, EXPLODED_REASON, is sent as
# one group first: its deliveries become suspects only if that attempt is lost too, so that a
# batch lost for another reason, a database outage, is not sent one delivery at a time.)
IN_FLIGHT_REASON = "attempt in flight, or lost with its worker"
EXPLODED_REASON = "batch failed repeatedly"
SUSPECT_REASONS = (IN_FLIGHT_REASON,)
SUSPECT_SCAN = 100  # due rows a claim looks at for a suspect


@dataclass(frozen=True, slots=True)
class DueDelivery:
    notification_id: str
    registration_id: str
    attempts: int  # including the attempt just claimed
    alone: bool = False  # a suspect: sent in an adapter call of its own


def _record(row: Any) -> DeliveryRecord:
    return DeliveryRecord(
        row.notification_id,
        row.registration_id,
        DeliveryStatus(row.status),
        ResultCode(row.code),
        row.attempts,
        row.platform,
        row.reason,
        row.provider_ref,
        row.next_attempt_at,
        row.updated_at,
    )


class DeliveryRepo(Repo):
    async def write(self, rows: Sequence[DeliveryRow], *, fresh: bool) -> None:
        """Store results; `fresh` promises no row exists yet (a batch's first attempt)."""
        if not rows:
            return
        if self.is_sqlite:
            # A batch's rows share a few instants: format each once, not once per row.
            texts: dict[datetime, str] = {}

            def text_of(value: datetime | None) -> str | None:
                if value is None:
                    return None
                text = texts.get(value)
                if text is None:
                    text = texts[value] = sqlite_time(value)
                return text

            params = [(*r[:8], text_of(r[8]), text_of(r[9])) for r in rows]
            await self.conn.exec_driver_sql(_SQLITE_INSERT if fresh else _SQLITE_UPSERT, params)
            return
        driver = await self._asyncpg()
        if fresh:
            await driver.copy_records_to_table("deliveries", records=rows, columns=COLUMNS)
        else:
            await driver.execute(_PG_UPSERT, *(list(column) for column in zip(*rows, strict=True)))

    async def _asyncpg(self) -> Any:
        raw = await self.conn.get_raw_connection()
        driver: Any = raw.driver_connection
        if not driver.is_in_transaction():
            # SQLAlchemy's adapter opens the transaction at its first statement; a raw call
            # before that would autocommit on its own.
            await self.conn.execute(text("SELECT 1"))
        return driver

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[DueDelivery]:
        """Take retries whose time has come: attempts counted now, leased until lease_until.

        At most one suspect (SUSPECT_REASONS) per claim, marked `alone`: a delivery whose
        attempt kills its worker is then sent, and dies, alone, instead of taking every
        delivery claimed with it down each time until they all reach their maximum attempts.
        The suspect is looked for among the next SUSPECT_SCAN due rows only: a bounded read of
        the due index, not a scan of every due retry when there is none.
        """
        key = (_D.c.notification_id, _D.c.registration_id)
        due = (_D.c.status == 0, _D.c.next_attempt_at <= now)
        plain = (
            select(*key)
            .where(*due, _D.c.reason.is_(None) | _D.c.reason.not_in(SUSPECT_REASONS))
            .order_by(_D.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed = await self._claim(tuple_(*key).in_(plain), lease_until)
        oldest = (
            select(*key, _D.c.reason)
            .where(*due)
            .order_by(_D.c.next_attempt_at)
            .limit(SUSPECT_SCAN)
            .subquery()
        )
        first_suspect = (
            select(oldest.c.notification_id, oldest.c.registration_id)
            .where(oldest.c.reason.in_(SUSPECT_REASONS))
            .limit(1)
        )
        # `due` again on the row itself: a worker that claimed it meanwhile moved it past now.
        alone = await self._claim(and_(tuple_(*key).in_(first_suspect), *due), lease_until)
        return [DueDelivery(nid, rid, attempts) for nid, rid, attempts in claimed] + [
            DueDelivery(nid, rid, attempts, alone=True) for nid, rid, attempts in alone
        ]

    async def _claim(self, where: ColumnElement[bool], lease_until: datetime) -> list[Any]:
        stmt = (
            update(_D)
            .where(where)
            .values(
                next_attempt_at=lease_until, attempts=_D.c.attempts + 1, reason=IN_FLIGHT_REASON
            )
            .returning(_D.c.notification_id, _D.c.registration_id, _D.c.attempts)
        )
        return list(await self.conn.execute(stmt))

    async def get(self, notification_id: str, registration_id: str) -> DeliveryRecord | None:
        stmt = select(_D).where(
            _D.c.notification_id == notification_id, _D.c.registration_id == registration_id
        )
        row = (await self.conn.execute(stmt)).first()
        return _record(row) if row else None

    async def list_page(
        self,
        notification_id: str,
        *,
        status: DeliveryStatus | None,
        after: str | None,
        limit: int,
    ) -> list[DeliveryRecord]:
        stmt = select(_D).where(_D.c.notification_id == notification_id)
        if status is not None:
            stmt = stmt.where(_D.c.status == status.value)
        if after is not None:
            stmt = stmt.where(_D.c.registration_id > after)
        rows = await self.conn.execute(stmt.order_by(_D.c.registration_id).limit(limit))
        return [_record(r) for r in rows]

    async def retry_backlog(self, now: datetime) -> tuple[int, datetime | None]:
        """Deliveries waiting for a retry, and the oldest due retry's time (ix_deliveries_due:
        the partial index of QUEUED rows)."""
        queued = _D.c.status == DeliveryStatus.QUEUED.value
        due = case((_D.c.next_attempt_at <= now, _D.c.next_attempt_at))
        stmt = select(func.count(), func.min(due)).where(queued, _D.c.next_attempt_at.is_not(None))
        count, oldest = (await self.conn.execute(stmt)).one()
        return int(count), oldest

    async def error_counts(self, notification_id: str, limit: int) -> list[tuple[int, str, int]]:
        """(code, reason, count) of the notification's ERROR deliveries, most frequent first.

        A range of the primary key (one notification's rows), grouped: read when asked (an
        operator following a send), never on the delivery path.
        """
        count = func.count().label("n")
        # A literal, not a bound parameter: PostgreSQL matches the GROUP BY expression to the
        # selected one only when both are the same text ($1 and $4 are not).
        reason = func.coalesce(_D.c.reason, literal_column("''"))
        stmt = (
            select(_D.c.code, reason, count)
            .where(
                _D.c.notification_id == notification_id,
                _D.c.status == DeliveryStatus.ERROR.value,
            )
            .group_by(_D.c.code, reason)
            .order_by(count.desc(), _D.c.code)
            .limit(limit)
        )
        rows = await self.conn.execute(stmt)
        return [(int(code), str(reason), int(n)) for code, reason, n in rows]

    async def set_status(
        self,
        notification_id: str,
        registration_id: str,
        old: DeliveryStatus,
        new: DeliveryStatus,
        now: datetime,
    ) -> bool:
        """Move one delivery from `old` to `new`; False when it was no longer `old`."""
        result = await self.conn.execute(
            update(_D)
            .where(
                _D.c.notification_id == notification_id,
                _D.c.registration_id == registration_id,
                _D.c.status == old.value,
            )
            .values(status=new.value, updated_at=now)
        )
        return bool(result.rowcount)
