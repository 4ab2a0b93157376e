"""A notification made ready to deliver: its request parsed once, a Push per variant.

Many registrations share a locale, so the Push of each (bulk entry, locale) is built once
and shared: providers render (and cache) their payload once per Push, not once per token.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence

from pushgate.domain.notifications import Notification, NotificationRequest
from pushgate.domain.payload import Message
from pushgate.domain.targets import TargetKind
from pushgate.providers.base import Push
from pushgate.store.repos.audience import AudienceRow


class Prepared:
    def __init__(
        self,
        notification: Notification,
        request: NotificationRequest,
        rate_limits: Mapping[str, float],
        topic_ids: Sequence[int],
    ) -> None:
        self.notification = notification
        self.request = request
        self.rate_limits = dict(rate_limits)
        self.topic_ids = tuple(topic_ids)
        self._pushes: dict[tuple[int, str | None], Push] = {}
        target = request.target
        self._bulk = target.kind is TargetKind.BULK
        self._by_user = {e.user: i for i, e in reversed(list(enumerate(target.bulk))) if e.user}
        self._by_uuid = {
            e.user_uuid: i for i, e in reversed(list(enumerate(target.bulk))) if e.user_uuid
        }

    @property
    def needs_history(self) -> bool:
        """Bulk entries by global user id also match registrations by past ids."""
        return bool(self._by_uuid)

    def push_for(self, row: AudienceRow, history: Mapping[str, set[str]] | None = None) -> Push:
        entry = self._entry_of(row, history) if self._bulk else -1
        key = (entry, row.locale)
        push = self._pushes.get(key)
        if push is None:
            message = self._message(entry)
            push = Push(message.for_locale(row.locale), self.request.options)
            self._pushes[key] = push
        return push

    def _message(self, entry: int) -> Message:
        if entry < 0:
            return self.request.message
        return self.request.target.bulk[entry].message

    def _entry_of(self, row: AudienceRow, history: Mapping[str, set[str]] | None) -> int:
        """The bulk entry a registration belongs to: by user name, then global id, then past id."""
        if row.user_name is not None and row.user_name in self._by_user:
            return self._by_user[row.user_name]
        if row.user_uuid is not None and row.user_uuid in self._by_uuid:
            return self._by_uuid[row.user_uuid]
        for past in sorted((history or {}).get(row.registration_id, ())):
            if past in self._by_uuid:
                return self._by_uuid[past]
        return -1


class PreparedCache:
    """The prepared notifications of recent batches, by (id, epoch); bounded."""

    def __init__(self, limit: int = 256) -> None:
        self._limit = limit
        self._items: OrderedDict[tuple[str, int], Prepared] = OrderedDict()

    def get(self, notification_id: str, epoch: int) -> Prepared | None:
        key = (notification_id, epoch)
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, prepared: Prepared) -> Prepared:
        key = (prepared.notification.id, prepared.notification.epoch)
        self._items[key] = prepared
        self._items.move_to_end(key)
        while len(self._items) > self._limit:
            self._items.popitem(last=False)
        return prepared
