"""Topics (tags) of an app."""

from __future__ import annotations

from datetime import datetime

from pushgate.domain.names import check_topic_name
from pushgate.domain.records import Topic
from pushgate.errors import NotFound
from pushgate.store.uow import UnitOfWork


async def create_topic(
    uow: UnitOfWork, app_id: int, name: str, description: str, now: datetime
) -> Topic:
    return await uow.topics.create(app_id, check_topic_name(name), description, now)


async def get_topic(uow: UnitOfWork, app_id: int, name: str) -> Topic:
    topic = await uow.topics.get(app_id, name)
    if topic is None:
        raise NotFound("no topic with this name", field="name")
    return topic


async def update_topic(
    uow: UnitOfWork, app_id: int, name: str, description: str, now: datetime
) -> Topic:
    topic = await get_topic(uow, app_id, name)
    await uow.topics.update(topic.id, description, now)
    return await get_topic(uow, app_id, name)


async def delete_topic(uow: UnitOfWork, app_id: int, name: str) -> None:
    """Delete the topic and its subscriptions; the registrations stay."""
    topic = await get_topic(uow, app_id, name)
    await uow.topics.delete(topic.id)
