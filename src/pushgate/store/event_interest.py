"""Which event kinds each app's webhooks want, cached for a moment per process.

The hot registration upsert (store/fast.py) is one statement and cannot append an event in
its transaction; services/registrations.py asks this cache whether any webhook of the app
wants device events, and only then takes the UnitOfWork path, which records them. A webhook
created or deleted in this process is seen at once (forget); one created by another process
within TTL_S seconds (docs/decisions.md, "Webhooks").
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from pushgate.store.repos.webhooks import WebhookRepo

if TYPE_CHECKING:
    from pushgate.store.engine import Database

TTL_S = 2.0
_LIMIT = 10_000


class EventInterest:
    def __init__(self, ttl_s: float = TTL_S) -> None:
        self._ttl_s = ttl_s
        self._cache: dict[int, tuple[float, frozenset[str]]] = {}

    async def kinds(self, db: Database, app_id: int) -> frozenset[str]:
        """The kinds the app's webhooks want (`*`: all of them)."""
        entry = self._cache.get(app_id)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        async with db.connect(readonly=True) as conn:
            wanted = await WebhookRepo(conn).wanted_kinds(app_id)
        if len(self._cache) >= _LIMIT:
            self._cache.clear()
        self._cache[app_id] = (time.monotonic() + self._ttl_s, wanted)
        return wanted

    def forget(self, app_id: int) -> None:
        self._cache.pop(app_id, None)
