"""Audiences: the registrations a target selects, one keyset page at a time.

Memory never grows with the audience: fan-out asks for the next `limit` registrations after
a cursor (ids are time-ordered, so pages follow creation order and new registrations land
at the end). Topics and capabilities are scanned on their (name, registration_id) indexes;
the rest on registrations' (app_id, ...) indexes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, exists, or_, select, union_all

from pushgate.domain.platforms import Platform
from pushgate.domain.targets import CapabilityUser, Target, TargetKind
from pushgate.store.repos._base import Repo
from pushgate.store.tables import (
    deliveries,
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


@dataclass(frozen=True, slots=True)
class AudienceRow:
    id: str
    platform: Platform
    token: str
    p256dh: str | None
    auth_secret: str | None
    sandbox: bool
    user_name: str | None
    user_uuid: str | None
    locale: str | None
    time_zone: str | None


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
    # Re-claimed work: leave out registrations this notification already reached.
    skip_done_for: str | None = None


def _row(row: Any) -> AudienceRow:
    return AudienceRow(
        row.id,
        Platform(row.platform),
        row.token,
        row.p256dh,
        row.auth_secret,
        bool(row.sandbox),
        row.user_name,
        row.user_uuid,
        row.locale,
        row.time_zone,
    )


def _users_match(users: Sequence[str], user_uuids: Sequence[str]) -> Any:
    """A user by name, or by global user id, current or past (the SAP seed keeps history)."""
    conditions: list[Any] = []
    if users:
        conditions.append(_R.c.user_name.in_(users))
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


class AudienceRepo(Repo):
    async def topic_ids(self, app_id: int, names: Sequence[str]) -> list[int]:
        stmt = select(topics.c.id).where(topics.c.app_id == app_id, topics.c.name.in_(names))
        return sorted(int(i) for i in (await self.conn.execute(stmt)).scalars())

    async def page(
        self, app_id: int, target: Target, query: PageQuery, *, topic_ids: Sequence[int] = ()
    ) -> AudiencePage:
        """The next page of `target`'s audience after query.after (up to query.upto)."""
        if target.kind in (TargetKind.TOPICS, TargetKind.CAPABILITY):
            return await self._candidate_page(app_id, target, query, topic_ids)
        stmt = self._rows(app_id, target, query)
        if query.after is not None:
            stmt = stmt.where(_R.c.id > query.after)
        if query.upto is not None:
            stmt = stmt.where(_R.c.id <= query.upto)
        found = [
            _row(r) for r in await self.conn.execute(stmt.order_by(_R.c.id).limit(query.limit))
        ]
        return AudiencePage(found, found[-1].id if found else None, len(found) < query.limit)

    async def by_ids(
        self, app_id: int, target: Target, ids: Sequence[str], *, skip_done_for: str | None = None
    ) -> list[AudienceRow]:
        """The registrations among `ids` that the target still selects (retries, local time)."""
        query = PageQuery(limit=len(ids), skip_done_for=skip_done_for)
        stmt = self._rows(app_id, target, query, among=ids)
        return [_row(r) for r in await self.conn.execute(stmt.order_by(_R.c.id))]

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
        candidates = await self._candidates(target, query, topic_ids)
        if not candidates:
            return AudiencePage([], None, True)
        stmt = self._rows(app_id, target, query, among=candidates)
        found = [_row(r) for r in await self.conn.execute(stmt.order_by(_R.c.id))]
        return AudiencePage(found, candidates[-1], len(candidates) < query.limit)

    async def _candidates(
        self, target: Target, query: PageQuery, topic_ids: Sequence[int]
    ) -> list[str]:
        """The next ids of the topics' subscribers (or the capability's holders), merged.

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
            return []
        stmt = scans[0] if len(scans) == 1 else union_all(*scans)
        ids = sorted({row[0] for row in await self.conn.execute(stmt)})
        return ids[: query.limit]

    @staticmethod
    def _scan(column: Any, condition: Any, query: PageQuery) -> Select[Any]:
        stmt = select(column).where(condition)
        if query.after is not None:
            stmt = stmt.where(column > query.after)
        if query.upto is not None:
            stmt = stmt.where(column <= query.upto)
        inner = stmt.order_by(column).limit(query.limit).subquery()
        return select(inner.c[0])

    def _rows(
        self, app_id: int, target: Target, query: PageQuery, *, among: Sequence[str] = ()
    ) -> Select[Any]:
        stmt = select(*_COLUMNS).where(_R.c.app_id == app_id, _R.c.active.is_(True))
        if among:
            stmt = stmt.where(_R.c.id.in_(among))
        if target.platforms:
            stmt = stmt.where(_R.c.platform.in_(sorted(p.value for p in target.platforms)))
        for condition in _kind_conditions(target):
            stmt = stmt.where(condition)
        if query.skip_done_for is not None:
            d = deliveries
            stmt = stmt.where(
                ~exists().where(
                    d.c.notification_id == query.skip_done_for,
                    d.c.registration_id == _R.c.id,
                    d.c.status != 0,
                )
            )
        return stmt


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
