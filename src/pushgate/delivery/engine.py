"""The delivery engine of one process: queue, planner, batch runner and adapters, wired once.

Both front doors use it: the API delivers small targets inline through it, and the worker
loops (worker.py) drive it from the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import structlog

from pushgate.delivery.adapters import AdapterPool, FallbackCredential
from pushgate.delivery.batches import BatchDone, BatchRunner
from pushgate.delivery.fanout import Planner
from pushgate.delivery.limiter import LocalLimiter, RateLimiter
from pushgate.delivery.prepared import PreparedCache
from pushgate.delivery.queue import LaneBacklog, Queue
from pushgate.delivery.retry import RetryPolicy
from pushgate.delivery.sender import Sender
from pushgate.domain.jobs import Job, JobKind
from pushgate.domain.records import JsonObject
from pushgate.errors import StorageUnavailable
from pushgate.providers.kinds import ProviderRegistry
from pushgate.store.engine import Database
from pushgate.store.uow import unit_of_work

T = TypeVar("T")
_log = structlog.get_logger("pushgate.delivery")


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    page_size: int = 1000  # registrations per batch
    inline_max: int = 100  # small targets up to this size are delivered inside the request
    inline_deadline_s: float = 5.0  # what takes longer is answered as queued
    lease_s: float = 30.0  # a job's lease; renewed every third of it while worked on
    send_timeout_s: float = 10.0  # total deadline of one provider attempt
    poll_s: float = 0.5  # how often idle workers look for work from other processes
    fast_concurrency: int = 16  # jobs in flight per worker, fast lane
    bulk_concurrency: int = 2  # batches in flight per worker, bulk lane
    retry_group: int = 500  # due retries claimed at once
    explode_after: int = 3  # a batch claimed this often is retried delivery by delivery
    stall_s: float = 120.0  # no progress for this long: re-planned (queues that need a sweep)
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @property
    def retry_lease_s(self) -> float:
        """A claimed retry's lease: longer than any attempt can take (no renewal)."""
        return self.send_timeout_s + self.lease_s


class DeliveryEngine:
    def __init__(
        self,
        db: Database,
        queue: Queue,
        registry: ProviderRegistry,
        open_secret: Callable[[str], JsonObject],
        *,
        config: DeliveryConfig,
        clock: Callable[[], datetime],
        rng: random.Random | None = None,
        limiter: RateLimiter | None = None,
        fallback_credentials: Mapping[str, FallbackCredential] | None = None,
    ) -> None:
        self.db = db
        self.queue = queue
        self.registry = registry
        self.config = config
        self.clock = clock
        self._background: set[asyncio.Task[Any]] = set()
        self._in_hand: dict[object, Job] = {}  # per run_job call: the job it holds now
        self._lease_keeper: asyncio.Task[None] | None = None
        cache = PreparedCache()
        self.adapters = AdapterPool(registry, db, open_secret, fallback=fallback_credentials)
        self.limiter = limiter or LocalLimiter()
        sender = Sender(
            self.adapters,
            registry,
            policy=config.retry,
            send_timeout_s=config.send_timeout_s,
            clock=clock,
            rng=rng,
            limiter=self.limiter,
        )
        self.planner = Planner(db, queue, cache, page_size=config.page_size, clock=clock)
        self.batches = BatchRunner(
            db,
            queue,
            cache,
            sender,
            clock=clock,
            explode_after=config.explode_after,
            retry_lease_s=config.retry_lease_s,
            retry_group=config.retry_group,
        )

    async def run_job(self, job: Job, *, page_size: int | None = None) -> list[BatchDone]:
        """Do one claimed job: plan a page and send it, or send a batch.

        Cancelled (a shutdown past its grace), it gives back the job in hand, which is the
        planned batch once a fan-out page is planned: its lease is released, so a restarted
        or other process takes it over at once, not after lease_s (reliability.md F3).
        """
        in_hand = job
        slot = object()
        self._in_hand[slot] = job
        self._keep_leases()
        try:
            if job.kind is JobKind.BATCH:
                done = await self.batches.run(job)
                return [done] if done else []
            planned = await self.planner.plan(job, page_size=page_size)
            if planned is None or planned.batch is None:
                return []
            in_hand = planned.batch
            # The batch the planner leased to itself is what is held now: its lease is the one
            # to renew while it is sent (else a lease shorter than an attempt lets another
            # worker take it over mid-send and send it twice at once, reliability.md F10).
            self._in_hand[slot] = in_hand
            done = await self.batches.run(in_hand, prepared=planned.prepared, rows=planned.rows)
            return [done] if done else []
        except asyncio.CancelledError:
            with contextlib.suppress(StorageUnavailable):  # else its lease runs out on its own
                await self.queue.postpone(in_hand, self.clock(), count_attempt=False)
            raise
        finally:
            self._in_hand.pop(slot, None)

    def jobs_in_hand(self) -> list[Job]:
        """The jobs this process is working on now (worker and inline sends): their leases are
        renewed while they are (Worker)."""
        return list(self._in_hand.values())

    def _keep_leases(self) -> None:
        """Start the lease keeper of this process, once: the first job taken in hand does, in
        a worker as in an API-only process's inline sends (PUSHGATE_WORKER=false), which
        otherwise nothing would renew."""
        if self._lease_keeper is None or self._lease_keeper.done():
            self._lease_keeper = asyncio.get_running_loop().create_task(
                self._renew_leases(), name="pushgate-leases"
            )

    async def _renew_leases(self) -> None:
        """Every third of lease_s: renew the leases of the jobs in hand (else a lease shorter
        than an attempt lets another worker take a batch over mid-send and send it twice at
        once, reliability.md F10), and close the adapters retired long enough ago."""
        while True:
            await asyncio.sleep(self.config.lease_s / 3)
            try:
                held = self.jobs_in_hand()
                if held:
                    await self.queue.extend(held)
                await self.adapters.close_retired(older_than_s=self.config.send_timeout_s * 3)
            except StorageUnavailable:
                pass  # the next round tries again; a lease may run out meanwhile (at-least-once)
            except Exception:
                _log.exception("lease renewal failed")

    def spawn(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run work that must outlive its request (inline delivery past the deadline)."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def backlog(self) -> list[LaneBacklog]:
        """Each lane's queued jobs and, as lane "retry", the deliveries waiting for a retry
        (read when /metrics is scraped)."""
        now = self.clock()
        lanes = await self.queue.backlog(now)
        async with unit_of_work(self.db, readonly=True) as uow:
            retries, oldest = await uow.deliveries.retry_backlog(now)
        return [*lanes, LaneBacklog("retry", retries, oldest)]

    async def aclose(self, grace_s: float = 5.0) -> None:
        """Let background work finish for `grace_s`; what is cancelled then gives its job back
        (run_job)."""
        if self._background:
            _, pending = await asyncio.wait(list(self._background), timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._lease_keeper is not None:
            self._lease_keeper.cancel()
            await asyncio.gather(self._lease_keeper, return_exceptions=True)
        await self.adapters.aclose()
        await self.limiter.aclose()
        await self.queue.aclose()
