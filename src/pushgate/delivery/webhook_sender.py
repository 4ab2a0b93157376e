"""The webhook sender: signed POSTs of recorded events, retried with backoff, in order.

Each webhook's deliveries form a line in the database (webhook_deliveries, written with the
event). A sender claims a webhook with a lease on its row (compare-and-set, like the job
queue's), sends its oldest pending delivery, records the outcome, and goes on to the next
one; a failure sets the webhook's next_attempt_at (backoff) and gives the line up until then.
So one webhook gets its events one at a time, oldest first, and a slow or dead endpoint
delays only its own line. Any number of senders (one per `serve` or `worker` process) share
the work; a sender that dies holds its lines until their leases end. Delivery is at least
once: an attempt whose outcome could not be recorded is made again, with the same event id.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import structlog

from pushgate.domain.records import JsonObject
from pushgate.domain.webhooks import DeliveryState, gives_up, retry_delay, signed_request
from pushgate.errors import InvalidInput, StorageUnavailable
from pushgate.providers.addresses import check_public_url
from pushgate.providers.http import HttpTransport, TransportError
from pushgate.store.engine import Database
from pushgate.store.repos.webhooks import Head
from pushgate.store.uow import unit_of_work

_log = structlog.get_logger("pushgate.webhooks")
_USER_AGENT = "pushgate-webhooks/1"
_PRUNE_EVERY = timedelta(hours=1)
KEEP_FINISHED = timedelta(days=7)  # delivered and failed deliveries stay visible this long


@dataclass(frozen=True, slots=True)
class SenderConfig:
    poll_s: float = 0.5  # how often an idle sender looks for due webhooks
    lease_s: float = 30.0  # a claimed line's lease; renewed with every recorded attempt
    timeout_s: float = 10.0  # one attempt, headers and body
    lines: int = 8  # webhooks worked at once by one sender
    per_claim: int = 100  # deliveries sent before a line is given back (fairness)
    allow_private: bool = False  # the SSRF guard's settings (services/webhooks.py)
    allow_hosts: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class _Outcome:
    ok: bool
    http_status: int | None
    error: str | None


class WebhookSender:
    def __init__(
        self,
        db: Database,
        open_secret: Callable[[str], JsonObject],
        transport: HttpTransport,
        *,
        owner: str,
        clock: Callable[[], datetime],
        config: SenderConfig | None = None,
    ) -> None:
        self._db = db
        self._open = open_secret
        self._transport = transport
        self._owner = owner
        self._clock = clock
        self._config = config or SenderConfig()
        self._stopping = asyncio.Event()
        self._next_prune: datetime | None = None

    async def run(self) -> None:
        """Send until stop() is called."""
        while not self._stopping.is_set():
            try:
                worked = await self.run_once()
            except StorageUnavailable:
                worked = 0
            except Exception:
                _log.exception("webhook round failed")
                worked = 0
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._config.poll_s)

    async def stop(self) -> None:
        self._stopping.set()

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def run_once(self) -> int:
        """Claim the due webhooks and work their lines; the number of attempts made."""
        now = self._clock()
        await self._prune(now)
        until = now + timedelta(seconds=self._config.lease_s)
        # Looked up read-only first: an idle sender polls twice a second, and a write
        # transaction each time would queue behind (and hold up) SQLite's one writer.
        async with unit_of_work(self._db, readonly=True) as uow:
            due = await uow.webhooks.due(now, self._config.lines)
        if not due:
            return 0
        async with unit_of_work(self._db) as uow:
            claimed = [w for w in due if await uow.webhooks.claim(w, self._owner, now, until)]
        if not claimed:
            return 0
        counts = await asyncio.gather(*(self._line(w) for w in claimed))
        return sum(counts)

    async def _line(self, webhook_id: int) -> int:
        attempts = 0
        try:
            while attempts < self._config.per_claim and not self._stopping.is_set():
                async with unit_of_work(self._db, readonly=True) as uow:
                    head = await uow.webhooks.head(webhook_id, self._owner)
                if head is None:
                    break
                outcome = await self._attempt(head)
                attempts += 1
                if not await self._record(webhook_id, head, outcome):
                    break
        finally:
            with contextlib.suppress(StorageUnavailable):
                async with unit_of_work(self._db) as uow:
                    await uow.webhooks.release(webhook_id, self._owner)
        return attempts

    async def _attempt(self, head: Head) -> _Outcome:
        now = self._clock()
        try:
            await self._guard(head.url)
        except InvalidInput as exc:
            return _Outcome(False, None, f"refused: {exc.message}")
        secret = str(self._open(head.sealed_secret)["secret"])
        request = signed_request(head.event, head.app_name, head.webhook_name, secret, now)
        headers = [*request.headers, ("user-agent", _USER_AGENT)]
        try:
            response = await self._transport.request(
                "POST", head.url, headers, request.body, timeout_s=self._config.timeout_s
            )
        except TransportError as exc:
            return _Outcome(False, None, f"{type(exc).__name__}: {exc}")
        if 200 <= response.status < 300:
            return _Outcome(True, response.status, None)
        return _Outcome(False, response.status, f"HTTP {response.status}")

    async def _guard(self, url: str) -> None:
        """The SSRF guard again at send time: the name may resolve elsewhere by now."""
        scheme = urlsplit(url).scheme.lower()
        try:
            async with asyncio.timeout(self._config.timeout_s):
                await check_public_url(
                    url,
                    allow_private=self._config.allow_private,
                    allow_hosts=self._config.allow_hosts,
                    field="url",
                    scheme=scheme,
                )
        except TimeoutError:
            raise InvalidInput("the host did not resolve in time", field="url") from None

    async def _record(self, webhook_id: int, head: Head, outcome: _Outcome) -> bool:
        """Store the attempt; True when the line goes on now (delivered or given up, and the
        lease still ours), False when its head waits for a retry or another sender has it."""
        now = self._clock()
        retry_at: datetime | None = None
        if outcome.ok:
            state = DeliveryState.DELIVERED
        elif gives_up(head.attempts + 1, head.event.created_at, now):
            state = DeliveryState.FAILED
            _log.warning(
                "webhook delivery given up",
                webhook=head.webhook_name,
                app=head.app_name,
                event=head.event.id,
                error=outcome.error,
            )
        else:
            state = DeliveryState.PENDING
            retry_at = now + retry_delay(head.attempts + 1)
        async with unit_of_work(self._db) as uow:
            held = await uow.webhooks.record(
                webhook_id,
                self._owner,
                head.delivery_id,
                status=state,
                http_status=outcome.http_status,
                error=outcome.error,
                now=now,
                retry_at=retry_at,
            )
            if held:
                await uow.webhooks.extend(
                    webhook_id, self._owner, now + timedelta(seconds=self._config.lease_s)
                )
        return held and state != DeliveryState.PENDING

    async def _prune(self, now: datetime) -> None:
        if self._next_prune is not None and now < self._next_prune:
            return
        self._next_prune = now + _PRUNE_EVERY
        async with unit_of_work(self._db) as uow:
            await uow.webhooks.prune(now - KEEP_FINISHED)
