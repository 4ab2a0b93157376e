"""Topics (tags) and the subscriptions that link registrations to them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from pushgate.domain.records import Topic
from pushgate.errors import Conflict
from pushgate.store.repos._base import Repo
from pushgate.store.tables import subscriptions, topics


def _topic(row: Any, subscribers: int | None = None) -> Topic:
    return Topic(
        row.id,
        row.app_id,
        row.name,
        row.description,
        row.created_at,
        row.updated_at,
        subscribers,
    )


class TopicRepo(Repo):
    async def create(self, app_id: int, name: str, description: str, now: datetime) -> Topic:
        stmt = insert(topics).values(
            app_id=app_id, name=name, description=description, created_at=now, updated_at=now
        )
        try:
            async with self.conn.begin_nested():
                row = (await self.conn.execute(stmt.returning(*topics.c))).one()
        except IntegrityError:
            raise Conflict("a topic with this name exists", field="name") from None
        return _topic(row, 0)

    async def ensure(self, app_id: int, names: Iterable[str], now: datetime) -> dict[str, int]:
        """Ids of the named topics, creating the missing ones (concurrent creators agree)."""
        wanted = sorted(set(names))
        if not wanted:
            return {}
        stmt = (
            self.upsert_insert(topics)
            .values(
                [
                    {
                        "app_id": app_id,
                        "name": n,
                        "description": "",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in wanted
                ]
            )
            .on_conflict_do_nothing(index_elements=["app_id", "name"])
        )
        await self.conn.execute(stmt)
        rows = await self.conn.execute(
            select(topics.c.name, topics.c.id).where(
                topics.c.app_id == app_id, topics.c.name.in_(wanted)
            )
        )
        return {r.name: r.id for r in rows}

    async def get(self, app_id: int, name: str) -> Topic | None:
        count = (
            select(func.count())
            .select_from(subscriptions)
            .where(subscriptions.c.topic_id == topics.c.id)
            .scalar_subquery()
        )
        stmt = select(topics, count.label("subscribers")).where(
            topics.c.app_id == app_id, topics.c.name == name
        )
        row = (await self.conn.execute(stmt)).first()
        return _topic(row, row.subscribers) if row else None

    async def list_page(self, app_id: int, *, after: str | None, limit: int) -> list[Topic]:
        count = (
            select(func.count())
            .select_from(subscriptions)
            .where(subscriptions.c.topic_id == topics.c.id)
            .scalar_subquery()
        )
        stmt = (
            select(topics, count.label("subscribers"))
            .where(topics.c.app_id == app_id)
            .order_by(topics.c.name)
            .limit(limit)
        )
        if after is not None:
            stmt = stmt.where(topics.c.name > after)
        return [_topic(r, r.subscribers) for r in await self.conn.execute(stmt)]

    async def update(self, topic_id: int, description: str, now: datetime) -> None:
        await self.conn.execute(
            update(topics)
            .where(topics.c.id == topic_id)
            .values(description=description, updated_at=now)
        )

    async def delete(self, topic_id: int) -> None:
        await self.conn.execute(delete(topics).where(topics.c.id == topic_id))

    async def subscribe(self, registration_id: str, topic_id: int, now: datetime) -> None:
        stmt = (
            self.upsert_insert(subscriptions)
            .values(registration_id=registration_id, topic_id=topic_id, created_at=now)
            .on_conflict_do_nothing(index_elements=["registration_id", "topic_id"])
        )
        await self.conn.execute(stmt)

    async def unsubscribe(self, registration_id: str, topic_id: int) -> bool:
        stmt = delete(subscriptions).where(
            subscriptions.c.registration_id == registration_id,
            subscriptions.c.topic_id == topic_id,
        )
        return bool((await self.conn.execute(stmt)).rowcount)

    async def replace_subscriptions(
        self, registration_id: str, topic_ids: Iterable[int], now: datetime, *, fresh: bool
    ) -> None:
        """Make the registration's subscriptions exactly topic_ids."""
        ids = sorted(set(topic_ids))
        if not fresh:
            stale = delete(subscriptions).where(subscriptions.c.registration_id == registration_id)
            if ids:
                stale = stale.where(subscriptions.c.topic_id.not_in(ids))
            await self.conn.execute(stale)
        if ids:
            stmt = (
                self.upsert_insert(subscriptions)
                .values(
                    [
                        {"registration_id": registration_id, "topic_id": t, "created_at": now}
                        for t in ids
                    ]
                )
                .on_conflict_do_nothing(index_elements=["registration_id", "topic_id"])
            )
            await self.conn.execute(stmt)
