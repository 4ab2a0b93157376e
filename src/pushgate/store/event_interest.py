"""Which event kinds each app's webhooks want, cached for a moment per process.

The hot registration upsert (store/fast.py) is one statement and cannot append an event in
its transaction; services/registrations.py asks this cache whether any webhook of the app
wants device events, and only then takes the UnitOfWork path, which records them. A webhook
created or deleted in this process is seen at once (forget); one created by another process
within TTL_S seconds (docs/decisions.md, "Webhooks").

One read per app refreshes an expired entry, and every request that finds it expired meanwhile
waits for that read: each of them reading on its own made a burst of database reads every
TTL_S under load, as many as requests in flight, and those waited for pool connections
(measured: registration upserts p99 ~200 ms instead of ~50 ms, bench/registrations.py).
"""

from __future__ import annotations

import asyncio
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
        self._loading: dict[int, asyncio.Task[frozenset[str]]] = {}
        self.reads = 0  # database reads made: tests and benches

    async def kinds(self, db: Database, app_id: int) -> frozenset[str]:
        """The kinds the app's webhooks want (`*`: all of them)."""
        entry = self._cache.get(app_id)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        loading = self._loading.get(app_id)
        if loading is None:
            loading = asyncio.get_running_loop().create_task(self._load(db, app_id))
            self._loading[app_id] = loading
            loading.add_done_callback(lambda done: self._loaded(app_id, done))
        # Shielded: a request cancelled while it waits does not cancel the others' read.
        return await asyncio.shield(loading)

    def forget(self, app_id: int) -> None:
        self._cache.pop(app_id, None)
        self._loading.pop(app_id, None)  # a read begun before the change is not cached

    async def _load(self, db: Database, app_id: int) -> frozenset[str]:
        self.reads += 1
        async with db.connect(readonly=True) as conn:
            wanted = await WebhookRepo(conn).wanted_kinds(app_id)
        if self._loading.get(app_id) is asyncio.current_task():
            if len(self._cache) >= _LIMIT:
                self._cache.clear()
            self._cache[app_id] = (time.monotonic() + self._ttl_s, wanted)
        return wanted

    def _loaded(self, app_id: int, done: asyncio.Task[frozenset[str]]) -> None:
        if self._loading.get(app_id) is done:
            del self._loading[app_id]
        if not done.cancelled():
            done.exception()  # retrieved: waiters got it; none may be left to
