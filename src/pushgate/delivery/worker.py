"""The worker: claim loops per lane, due retries, graceful stop (leases: engine.py).

`pushgate serve` runs one in-process; `pushgate worker` runs one alone; any number may run
against one PostgreSQL. Lanes have their own concurrency, so a one-device notification
never waits for a broadcast's batches to free a slot.
"""

from __future__ import annotations

import asyncio

import structlog

from pushgate.delivery.engine import DeliveryEngine
from pushgate.delivery.sweep import sweep_stalled
from pushgate.domain.jobs import Job
from pushgate.domain.notifications import Lane
from pushgate.errors import StorageUnavailable

_log = structlog.get_logger("pushgate.worker")
_OUTAGE_BACKOFF_S = (0.2, 0.5, 1.0, 2.0)  # while the database is unreachable
_RETRY_PAUSE_MAX_S = 1.0  # between two groups of retries while first attempts are sent


class Worker:
    def __init__(self, engine: DeliveryEngine) -> None:
        self._engine = engine
        self._config = engine.config
        self._stopping = asyncio.Event()
        self._running: dict[asyncio.Task[None], Job] = {}
        self._slot_freed = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []

    @property
    def in_flight(self) -> list[Job]:
        return list(self._running.values())

    async def run(self) -> None:
        """Work until stop() is called."""
        concurrency = {
            Lane.FAST: self._config.fast_concurrency,
            Lane.BULK: self._config.bulk_concurrency,
        }
        self._loops = [
            asyncio.create_task(self._lane(lane, n), name=f"pushgate-{lane}")
            for lane, n in concurrency.items()
        ]
        self._loops.append(asyncio.create_task(self._retries(), name="pushgate-retries"))
        if self._engine.queue.needs_sweep:
            self._loops.append(asyncio.create_task(self._sweep(), name="pushgate-sweep"))
        await self._stopping.wait()

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop claiming; let running jobs finish for `grace_s`, then cancel the rest, which
        gives their jobs back (DeliveryEngine.run_job releases the lease)."""
        self._stopping.set()
        for loop in self._loops:
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        running = list(self._running)
        if running:
            _, pending = await asyncio.wait(running, timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def _lane_load(self, lane: Lane) -> int:
        return sum(1 for job in self._running.values() if job.lane is lane)

    async def _lane(self, lane: Lane, concurrency: int) -> None:
        outage = 0
        while not self._stopping.is_set():
            free = concurrency - self._lane_load(lane)
            if free <= 0:
                self._slot_freed.clear()
                await self._slot_freed.wait()
                continue
            try:
                jobs = await self._engine.queue.claim(lane, free)
                outage = 0
            except StorageUnavailable:
                await asyncio.sleep(_OUTAGE_BACKOFF_S[min(outage, len(_OUTAGE_BACKOFF_S) - 1)])
                outage += 1
                continue
            if not jobs:
                await self._engine.queue.wait(lane, self._config.poll_s)
                continue
            for job in jobs:
                task = asyncio.create_task(self._work(job), name=f"pushgate-job-{job.id}")
                self._running[task] = job

    async def _work(self, job: Job) -> None:
        # This task's log lines name the job (telemetry.py merges the bound context).
        structlog.contextvars.bind_contextvars(
            job=job.id, notification=job.notification_id, lane=job.lane.value
        )
        try:
            done = await self._engine.run_job(job)
            _log.info(
                "job done",
                kind=job.kind.value,
                attempt=job.attempts,
                deliveries=sum(len(batch.rows) for batch in done),
            )
        except StorageUnavailable:
            _log.warning("database unavailable; the job is retried after its lease", job=job.id)
        except Exception:
            _log.exception("job failed", job=job.id, notification=job.notification_id)
        finally:
            self._running.pop(asyncio.current_task(), None)  # type: ignore[arg-type]
            self._slot_freed.set()

    async def _retries(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            started = loop.time()
            try:
                tried = await self._engine.batches.run_due()
            except StorageUnavailable:
                tried = 0
            except Exception:
                _log.exception("retry round failed")
                tried = 0
            if not tried:
                await asyncio.sleep(self._config.poll_s)
            elif self._running:
                # First attempts are being sent: retries (which waited already) take at most a
                # third of the worker's time meanwhile, so an app whose provider refuses
                # everything, retried group after group, does not slow the other apps' sends
                # down (reliability.md F5); alone, retries run back to back. Bounded: a group
                # that waited on a slow provider has not used the worker's time.
                pause = 2 * (loop.time() - started)
                await asyncio.sleep(min(pause, _RETRY_PAUSE_MAX_S))

    async def _sweep(self) -> None:
        engine = self._engine
        while not self._stopping.is_set():
            await asyncio.sleep(self._config.stall_s / 4)
            try:
                await sweep_stalled(
                    engine.db, engine.queue, engine.clock, stall_s=self._config.stall_s
                )
            except StorageUnavailable:
                pass
            except Exception:
                _log.exception("recovery sweep failed")
