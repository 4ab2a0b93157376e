"""Audiences: the registrations a target selects, one keyset page at a time.

Memory never grows with the audience: fan-out asks for the next `limit` registrations after
a cursor (ids are time-ordered, so pages follow creation order and new registrations land
at the end). Topics and capabilities are scanned on their (name, registration_id) indexes;
the rest on registrations' (app_id, ...) indexes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, exists, or_, select, text, true, tuple_, union_all

from pushgate.domain.platforms import Platform
from pushgate.domain.recipients import Recipient
from pushgate.domain.targets import CapabilityUser, Target, TargetKind
from pushgate.store.repos._base import Repo
from pushgate.store.tables import (
    deliveries,
    registration_accounts,
    registration_capabilities,
    registrations,
    subscriptions,
    topics,
    user_uuid_history,
)

_R = registrations
_COLUMNS = (
    _R.c.id,
    _R.c.platform,
    _R.c.token,
    _R.c.p256dh,
    _R.c.auth_secret,
    _R.c.sandbox,
    _R.c.user_name,
    _R.c.user_uuid,
    _R.c.locale,
    _R.c.time_zone,
)


AudienceRow = Recipient  # what a page holds: the recipient, with what content depends on
_PLATFORMS = {p.value: p for p in Platform}


@dataclass(frozen=True, slots=True)
class AudiencePage:
    rows: list[AudienceRow]
    last_scanned: str | None  # the keyset position reached: the next page starts after it
    exhausted: bool  # nothing lies beyond last_scanned


@dataclass(frozen=True, slots=True)
class PageQuery:
    after: str | None = None
    upto: str | None = None  # inclusive upper bound (a batch's range)
    limit: int = 1000
    # Re-claimed or re-planned work: leave out registrations this notification already has
    # a delivery row for.
    skip_done_for: str | None = None


def _rows(result: Iterable[Any]) -> list[AudienceRow]:
    platforms = _PLATFORMS
    return [
        Recipient(rid, platforms[platform], token, bool(sandbox), p256dh, auth, user, uuid, loc, tz)
        for rid, platform, token, p256dh, auth, sandbox, user, uuid, loc, tz in result
    ]


def _users_match(users: Sequence[str], user_uuids: Sequence[str]) -> Any:
    """A user by name, or by global user id, current or past (the SAP seed keeps history).

    By name also matches a device synced to that user by its owner (Discord seed). That
    test is an uncorrelated IN, not EXISTS: SQLite then answers the OR from two indexes
    (user_name, and the synced names); a correlated EXISTS made it walk the whole app (measured
    on 300k registrations: 0.2 ms against 350 ms a page).
    """
    conditions: list[Any] = []
    if users:
        conditions.append(_R.c.user_name.in_(users))
        synced = select(
            registration_accounts.c.registration_id, registration_accounts.c.owner_name
        ).where(registration_accounts.c.user_name.in_(users))
        # Only while the device still belongs to the user who synced it (see tables.py).
        conditions.append(tuple_(_R.c.id, _R.c.user_name).in_(synced))
    if user_uuids:
        conditions.append(_R.c.user_uuid.in_(user_uuids))
        conditions.append(
            exists().where(
                user_uuid_history.c.registration_id == _R.c.id,
                user_uuid_history.c.user_uuid.in_(user_uuids),
            )
        )
    return or_(*conditions)


def _capability_users(entries: Sequence[CapabilityUser]) -> Any:
    alternatives: list[Any] = []
    for entry in entries:
        parts: list[Any] = []
        if entry.user or entry.user_uuid:
            users = [entry.user] if entry.user else []
            parts.append(_users_match(users, [entry.user_uuid] if entry.user_uuid else []))
        if entry.form_factors:
            parts.append(_R.c.form_factor.in_(entry.form_factors))
        alternatives.append(and_(*parts) if parts else _R.c.id.is_not(None))
    return or_(*alternatives)


# PostgreSQL plans by statistics, and a freshly imported audience has none yet (autovacuum
# analyzes it a minute or more later): then it guesses a handful of rows and sorts whole
# topics per page (measured: 140 ms a page, 4.7 s with the outer join, against 2 ms). A
# page is always "walk an index in order, probe by key", so the fan-out transaction says so.
_PIN_PLAN = text(
    "SELECT set_config('enable_sort', 'off', true), set_config('enable_bitmapscan', 'off', "
    "true), set_config('enable_material', 'off', true), set_config('enable_hashjoin', 'off', "
    "true), set_config('enable_mergejoin', 'off', true)"
)


class AudienceRepo(Repo):
    _pinned = False

    async def _pin_plan(self) -> None:
        """Index-order plans for the rest of this transaction (PostgreSQL; see _PIN_PLAN)."""
        if not self.is_sqlite and not self._pinned:
            await self.conn.execute(_PIN_PLAN)
            self._pinned = True

    async def topic_ids(self, app_id: int, names: Sequence[str]) -> list[int]:
        stmt = select(topics.c.id).where(topics.c.app_id == app_id, topics.c.name.in_(names))
        return sorted(int(i) for i in (await self.conn.execute(stmt)).scalars())

    async def page(
        self, app_id: int, target: Target, query: PageQuery, *, topic_ids: Sequence[int] = ()
    ) -> AudiencePage:
        """The next page of `target`'s audience after query.after (up to query.upto)."""
        await self._pin_plan()
        if target.kind in (TargetKind.TOPICS, TargetKind.CAPABILITY):
            return await self._candidate_page(app_id, target, query, topic_ids)
        stmt = self._rows(app_id, target, query)
        if query.after is not None:
            stmt = stmt.where(_R.c.id > query.after)
        if query.upto is not None:
            stmt = stmt.where(_R.c.id <= query.upto)
        found = _rows(await self.conn.execute(stmt.order_by(_R.c.id).limit(query.limit)))
        return AudiencePage(
            found, found[-1].registration_id if found else None, len(found) < query.limit
        )

    async def by_ids(
        self, app_id: int, target: Target, ids: Sequence[str], *, skip_done_for: str | None = None
    ) -> list[AudienceRow]:
        """The registrations among `ids` that the target still selects (retries, local time)."""
        await self._pin_plan()
        query = PageQuery(limit=len(ids), skip_done_for=skip_done_for)
        stmt = self._rows(app_id, target, query, among=ids)
        return _rows(await self.conn.execute(stmt.order_by(_R.c.id)))

    async def history(self, registration_ids: Sequence[str]) -> dict[str, set[str]]:
        """Past global user ids per registration (bulk sends match entries against them)."""
        h = user_uuid_history
        stmt = select(h.c.registration_id, h.c.user_uuid).where(
            h.c.registration_id.in_(registration_ids)
        )
        found: dict[str, set[str]] = defaultdict(set)
        for registration_id, user_uuid in await self.conn.execute(stmt):
            found[registration_id].add(user_uuid)
        return found

    async def _candidate_page(
        self, app_id: int, target: Target, query: PageQuery, topic_ids: Sequence[int]
    ) -> AudiencePage:
        """Topics and capabilities: the next ids from their index, joined to registrations.

        One statement. The candidate ids come first, limited (a fence the planner cannot
        reorder, so the plan does not depend on fresh statistics); the outer join keeps
        candidates that fail the filters, so the cursor moves past them.
        """
        candidates = self._candidates(target, query, topic_ids)
        if candidates is None:
            return AudiencePage([], None, True)
        conditions = self._conditions(app_id, target, query)
        if self.is_sqlite:
            joined = candidates.outerjoin(_R, and_(_R.c.id == candidates.c.id, *conditions))
            stmt = select(candidates.c.id, *_COLUMNS).select_from(joined)
        else:
            # LATERAL: one primary-key probe per candidate whatever the planner estimates
            # (it guessed one candidate for a bounded range and scanned the app per row).
            probe = (
                select(*_COLUMNS)
                .where(_R.c.id == candidates.c.id, *conditions)
                .limit(1)  # a fence: the planner may not flatten it into a plain join
                .lateral()
            )
            joined = candidates.outerjoin(probe, true())
            stmt = select(candidates.c.id, *probe.c).select_from(joined)
        stmt = stmt.order_by(candidates.c.id)
        scanned = (await self.conn.execute(stmt)).all()
        if not scanned:
            return AudiencePage([], None, True)
        found = _rows(row[1:] for row in scanned if row[1] is not None)
        return AudiencePage(found, scanned[-1][0], len(scanned) < query.limit)

    def _candidates(self, target: Target, query: PageQuery, topic_ids: Sequence[int]) -> Any:
        """The next `limit` ids of the topics' subscribers (or the capability's holders).

        One ordered, limited index scan per topic: the `limit` smallest ids of the union are
        among the `limit` smallest of each topic, and no scan sorts a whole topic.
        """
        if target.kind is TargetKind.CAPABILITY:
            c = registration_capabilities
            scans = [self._scan(c.c.registration_id, c.c.name == target.capability, query)]
        else:
            s = subscriptions
            scans = [self._scan(s.c.registration_id, s.c.topic_id == t, query) for t in topic_ids]
        if not scans:
            return None
        if len(scans) == 1:
            return scans[0].subquery("candidates")
        merged = union_all(*(select(scan.subquery().c.id) for scan in scans)).subquery()
        return (
            select(merged.c.id)
            .distinct()
            .order_by(merged.c.id)
            .limit(query.limit)
            .subquery("candidates")
        )

    @staticmethod
    def _scan(column: Any, condition: Any, query: PageQuery) -> Select[Any]:
        stmt = select(column.label("id")).where(condition)
        if query.after is not None:
            stmt = stmt.where(column > query.after)
        if query.upto is not None:
            stmt = stmt.where(column <= query.upto)
        return stmt.order_by(column).limit(query.limit)

    def _rows(
        self, app_id: int, target: Target, query: PageQuery, *, among: Sequence[str] = ()
    ) -> Select[Any]:
        stmt = select(*_COLUMNS).where(*self._conditions(app_id, target, query))
        if among:
            stmt = stmt.where(_R.c.id.in_(among))
        return stmt

    def _conditions(self, app_id: int, target: Target, query: PageQuery) -> list[Any]:
        """What a registration must be to belong to the audience (besides its keyset place)."""
        conditions: list[Any] = [_R.c.app_id == app_id, _R.c.active.is_(True)]
        if target.platforms:
            conditions.append(_R.c.platform.in_(sorted(p.value for p in target.platforms)))
        conditions.extend(_kind_conditions(target))
        if query.skip_done_for is not None:
            d = deliveries
            # Any row: a final one is done, a QUEUED one belongs to the retry loop.
            conditions.append(
                ~exists().where(
                    d.c.notification_id == query.skip_done_for, d.c.registration_id == _R.c.id
                )
            )
        return conditions


def _kind_conditions(target: Target) -> list[Any]:
    kind = target.kind
    if kind is TargetKind.REGISTRATIONS:
        return [_R.c.id.in_(target.registration_ids)]
    if kind is TargetKind.DEVICE:
        owner = _users_match([target.user] if target.user else [], target.user_uuids)
        return [_R.c.device_id == target.device_id, owner]
    if kind is TargetKind.USERS:
        return [_users_match(target.users, target.user_uuids)]
    if kind is TargetKind.BULK:
        users = [e.user for e in target.bulk if e.user]
        uuids = [e.user_uuid for e in target.bulk if e.user_uuid]
        return [_users_match(users, uuids)]
    if kind is TargetKind.PUSH_GROUP:
        return [_R.c.push_group == target.push_group]
    if kind is TargetKind.TOPICS and (target.users or target.user_uuids):
        return [_users_match(target.users, target.user_uuids)]
    if kind is TargetKind.CAPABILITY and target.capability_users:
        return [_capability_users(target.capability_users)]
    return []  # APP, and TOPICS / CAPABILITY without filters: the candidate scan decides
