"""Offset pages with field filters and a total count: the lists of MobileFirst's API.

Devices are an app's registrations that carry a device id, except the SMS registrations,
which hold a device's phone number. Subscriptions are (device, topic) pairs of those devices.
Offset paging needs a count and an OFFSET; acceptable for these management lists (the
native API pages with keysets instead). Lists are in creation order (ids), the same on both
databases whatever their collation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    false,
    func,
    literal,
    or_,
    select,
    true,
)

from pushgate.domain.filters import FieldFilter, Op, Term
from pushgate.domain.platforms import Platform
from pushgate.domain.records import Registration, Topic
from pushgate.errors import InvalidInput
from pushgate.store.repos._base import Repo
from pushgate.store.tables import apps, registrations, subscriptions, topics

_R = registrations.c
_SMS = Platform.SMS.value
# MobileFirst's platform letters, so that platform==A filters as the API shows it.
_LETTER = case(
    (_R.platform.in_((Platform.APNS.value, Platform.APNS_VOIP.value)), literal("A")),
    (_R.platform == Platform.FCM.value, literal("G")),
    (_R.platform == Platform.WNS.value, literal("W")),
    else_=_R.platform,
)
_phones = registrations.alias("phones")
# A device's phone number: the token of its SMS registration (one per device).
_PHONE = (
    select(_phones.c.token)
    .where(
        _phones.c.app_id == _R.app_id,
        _phones.c.device_id == _R.device_id,
        _phones.c.platform == _SMS,
    )
    .order_by(_phones.c.id.desc())
    .limit(1)
    .scalar_subquery()
)


@dataclass(frozen=True, slots=True)
class PageOf:
    rows: list[Any]
    total: int


def _match(column: Any, term: Term) -> ColumnElement[bool]:
    if term.op is Op.EQ:
        return column == term.value  # type: ignore[no-any-return]
    contains: ColumnElement[bool] = func.lower(column).contains(term.value.lower(), autoescape=True)
    return contains


def _where(columns: Mapping[str, Any], where: FieldFilter, *, field: str) -> ColumnElement[bool]:
    """The filter as SQL; a field the list does not have is a 400 naming `field`."""
    if not where:
        return true()
    groups = []
    for group in where:
        terms = []
        for term in group:
            column = columns.get(term.field)
            if column is None:
                known = ", ".join(sorted(columns))
                raise InvalidInput(f"cannot filter on {term.field!r}; use {known}", field=field)
            terms.append(_match(column, term))
        groups.append(and_(*terms))
    return or_(*groups) if groups else false()


_DEVICE_FIELDS: dict[str, Any] = {
    "deviceId": _R.device_id,
    "userId": _R.user_name,
    "platform": _LETTER,
    "token": _R.token,
    "phoneNumber": _PHONE,
    "userAgent": _R.device_model,
    "createdMode": literal("API"),
}
_SUBSCRIPTION_FIELDS: dict[str, Any] = {
    **_DEVICE_FIELDS,
    "tagName": topics.c.name,
}
_TAG_FIELDS: dict[str, Any] = {
    "name": topics.c.name,
    "tagName": topics.c.name,
    "description": topics.c.description,
    "createdMode": literal("API"),
}
_APP_FIELDS: dict[str, Any] = {"applicationId": apps.c.name, "name": apps.c.name}


class ListingRepo(Repo):
    async def _page(self, stmt: Select[Any], order: list[Any], offset: int, size: int) -> PageOf:
        total = (
            await self.conn.execute(select(func.count()).select_from(stmt.subquery()))
        ).scalar_one()
        rows = (await self.conn.execute(stmt.order_by(*order).offset(offset).limit(size))).all()
        return PageOf(list(rows), int(total))

    def _devices(self, app_id: int) -> Select[Any]:
        return select(registrations, _PHONE.label("phone_number")).where(
            _R.app_id == app_id, _R.device_id.is_not(None), _R.platform != _SMS
        )

    async def devices(self, app_id: int, where: FieldFilter, *, offset: int, size: int) -> PageOf:
        """Rows of registrations with `phone_number`; newest device id last."""
        stmt = self._devices(app_id).where(_where(_DEVICE_FIELDS, where, field="filter"))
        return await self._page(stmt, [_R.id], offset, size)

    async def subscriptions(
        self, app_id: int, where: FieldFilter, *, offset: int, size: int
    ) -> PageOf:
        """Rows of registrations with `phone_number`, `tag_name`, `topic_id`, `subscribed_at`."""
        stmt = (
            select(
                registrations,
                _PHONE.label("phone_number"),
                topics.c.name.label("tag_name"),
                topics.c.id.label("topic_id"),
                subscriptions.c.created_at.label("subscribed_at"),
            )
            .join(subscriptions, subscriptions.c.registration_id == _R.id)
            .join(topics, topics.c.id == subscriptions.c.topic_id)
            .where(_R.app_id == app_id, _R.device_id.is_not(None), _R.platform != _SMS)
            .where(_where(_SUBSCRIPTION_FIELDS, where, field="filter"))
        )
        return await self._page(stmt, [_R.id, topics.c.id], offset, size)

    async def tags(self, app_id: int, where: FieldFilter, *, offset: int, size: int) -> PageOf:
        count = (
            select(func.count())
            .select_from(subscriptions)
            .where(subscriptions.c.topic_id == topics.c.id)
            .scalar_subquery()
        )
        stmt = (
            select(topics, count.label("subscribers"))
            .where(topics.c.app_id == app_id)
            .where(_where(_TAG_FIELDS, where, field="filter"))
        )
        return await self._page(stmt, [topics.c.id], offset, size)

    async def apps(
        self, where: FieldFilter, *, only_id: int | None, offset: int, size: int
    ) -> PageOf:
        stmt = select(apps).where(_where(_APP_FIELDS, where, field="filter"))
        if only_id is not None:
            stmt = stmt.where(apps.c.id == only_id)
        return await self._page(stmt, [apps.c.id], offset, size)

    async def topic_name(self, app_id: int, topic_id: int) -> str | None:
        stmt = select(topics.c.name).where(topics.c.app_id == app_id, topics.c.id == topic_id)
        return (await self.conn.execute(stmt)).scalar_one_or_none()


def registration_of(row: Any) -> Registration:
    """A row of devices() or subscriptions() as the registration it holds."""
    fields = {c.name: getattr(row, c.name) for c in registrations.c}
    fields["platform"] = Platform(fields["platform"])
    return Registration(**fields)


def topic_of(row: Any) -> Topic:
    return Topic(
        row.id,
        row.app_id,
        row.name,
        row.description,
        row.created_at,
        row.updated_at,
        row.subscribers,
    )
