"""The Redis Streams queue: one stream per lane, one consumer group of workers.

PUSHGATE_QUEUE=redis. Run Redis with append-only persistence (appendonly yes): the queue
then survives a Redis restart. Even without it nothing accepted is lost, because the
database stays the record: a notification whose work vanished (Redis lost its data, or a
process died between the database commit and the queue write) stops making progress, and
the recovery sweep (sweep.py) plans it again under a new epoch, skipping every delivery
already recorded.

Leases are the consumer group's pending entries: a claimed job is pending for its consumer,
and one idle for longer than the lease is claimed by another worker (XAUTOCLAIM). Queue
writes that belong to a database transaction run in one MULTI block after it commits.
Jobs due later (schedules, local time) wait in a sorted set until a claim moves them.
Completing a batch inserts a mark in the database (batch_marks) in the results'
transaction, so a batch redelivered after its results were recorded is recognised.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import redis.asyncio as redis_async
import structlog
from redis.exceptions import RedisError, ResponseError

from pushgate.delivery.queue import LaneBacklog
from pushgate.domain.jobs import Job, JobKind, NewJob
from pushgate.domain.notifications import Lane
from pushgate.errors import StorageUnavailable
from pushgate.store.uow import UnitOfWork

_log = structlog.get_logger("pushgate.queue")
GROUP = "workers"
# Move due delayed jobs into their streams, atomically (a job is never in both or neither).
_MOVE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, member in ipairs(due) do
  local job = cjson.decode(member)
  redis.call('XADD', ARGV[3] .. job['lane'], '*', 'job', member)
  redis.call('ZREM', KEYS[1], member)
end
return #due
"""


class QueueUnavailable(StorageUnavailable):
    """Redis is unreachable: claims wait; accepted notifications wait for the sweep."""


def _encode(job: NewJob | Job) -> str:
    return json.dumps(
        {
            "nid": job.notification_id,
            "kind": job.kind.value,
            "lane": job.lane.value,
            "epoch": job.epoch,
            "after": job.after_id,
            "upto": job.upto_id,
            "expected": job.expected,
            "ids": list(job.ids) if job.ids is not None else None,
            "nonce": secrets.token_hex(4),  # identical delayed jobs stay distinct members
        },
        separators=(",", ":"),
    )


def _decode(entry_id: str, raw: str, attempts: int) -> Job:
    fields = json.loads(raw)
    return Job(
        entry_id,
        fields["nid"],
        JobKind(fields["kind"]),
        Lane(fields["lane"]),
        fields["epoch"],
        fields["after"],
        fields["upto"],
        fields["expected"],
        tuple(fields["ids"]) if fields["ids"] is not None else None,
        attempts,
    )


class RedisQueue:
    name = "redis"
    needs_sweep = True

    def __init__(
        self,
        url: str,
        *,
        owner: str,
        lease_s: float,
        clock: Callable[[], datetime],
        prefix: str = "pushgate",
    ) -> None:
        self.owner = owner
        self._redis = redis_async.from_url(url, decode_responses=True)
        self._lease_ms = int(lease_s * 1000)
        self._clock = clock
        self._prefix = prefix
        self._delayed = f"{prefix}:delayed"
        self._move_due = self._redis.register_script(_MOVE_DUE)
        self._groups_ready: set[str] = set()
        self._buffer: dict[Lane, list[Job]] = {lane: [] for lane in Lane}

    def _stream(self, lane: Lane) -> str:
        return f"{self._prefix}:jobs:{lane.value}"

    async def _call(self, action: Awaitable[Any]) -> Any:
        try:
            return await action
        except RedisError as exc:
            raise QueueUnavailable("the queue (Redis) is unreachable; retry shortly") from exc

    async def _ensure_group(self, stream: str) -> None:
        if stream in self._groups_ready:
            return
        try:
            await self._redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._groups_ready.add(stream)

    def _ops(self, uow: UnitOfWork) -> list[tuple[str, tuple[Any, ...]]]:
        """The queue writes of `uow`, flushed in one MULTI block after it commits."""
        ops: list[tuple[str, tuple[Any, ...]]] | None = getattr(uow, "_redis_ops", None)
        if ops is None:
            ops = []
            setattr(uow, "_redis_ops", ops)  # noqa: B010 - per-transaction scratch space

            async def flush() -> None:
                await self._flush(ops)

            uow.after_commit.append(flush)
        return ops

    async def _flush(self, ops: list[tuple[str, tuple[Any, ...]]]) -> None:
        try:
            await self._flush_raising(ops)
        except RedisError:
            # Committed in the database, not queued: the recovery sweep re-plans it.
            _log.warning("queue write failed after commit; the sweep will recover it")

    def _add(self, ops: list[tuple[str, tuple[Any, ...]]], job: NewJob) -> None:
        if job.available_at > self._clock():
            member = _encode(job)
            ops.append(("zadd", (self._delayed, {member: job.available_at.timestamp()})))
        else:
            ops.append(("xadd", (self._stream(job.lane), {"job": _encode(job)})))

    def _done(self, ops: list[tuple[str, tuple[Any, ...]]], job: Job) -> None:
        if job.local:
            return  # never in a stream
        stream = self._stream(job.lane)
        ops.append(("xack", (stream, GROUP, job.id)))
        ops.append(("xdel", (stream, job.id)))

    async def enqueue(self, uow: UnitOfWork, job: NewJob) -> None:
        self._add(self._ops(uow), job)

    async def enqueue_leased(self, uow: UnitOfWork, job: NewJob, *, local: bool) -> Job | None:
        if local:
            return Job(
                "local:" + secrets.token_hex(8),
                job.notification_id,
                job.kind,
                job.lane,
                job.epoch,
                job.after_id,
                job.upto_id,
                job.expected,
                job.ids,
                1,
                local=True,
            )
        self._add(self._ops(uow), job)
        return None  # a stream entry belongs to whoever reads it first

    async def advance(self, uow: UnitOfWork, fanout: Job, after_id: str) -> bool:
        ops = self._ops(uow)
        self._add(ops, NewJob(fanout.notification_id, JobKind.FANOUT, fanout.lane,
                              fanout.epoch, self._clock(), after_id=after_id))  # fmt: skip
        self._done(ops, fanout)
        return True

    async def complete(self, uow: UnitOfWork, job: Job) -> bool:
        first = True
        if job.kind is JobKind.BATCH:
            first = await uow.jobs.mark_batch(job.notification_id, _batch_key(job), self._clock())
        self._done(self._ops(uow), job)
        return first

    async def claim(self, lane: Lane, limit: int) -> list[Job]:
        try:
            return await self._claim(lane, limit)
        except QueueUnavailable as exc:
            if "NOGROUP" not in str(exc.__cause__):
                raise
            # The stream vanished with its group (a Redis restart without persistence):
            # make the group again; the sweep re-plans what was in it.
            self._groups_ready.discard(self._stream(lane))
            return await self._claim(lane, limit)

    async def _claim(self, lane: Lane, limit: int) -> list[Job]:
        stream = self._stream(lane)
        await self._call(self._ensure_group(stream))
        await self._call(self._move_due(keys=[self._delayed],
                                        args=[self._clock().timestamp(), 100,
                                              f"{self._prefix}:jobs:"]))  # fmt: skip
        claimed = self._buffer[lane][:limit]
        self._buffer[lane] = self._buffer[lane][limit:]
        if len(claimed) < limit:
            claimed += await self._call(self._stale(stream, limit - len(claimed)))
        if len(claimed) < limit:
            claimed += await self._call(self._read(lane, limit - len(claimed), block_ms=None))
        return claimed

    async def _stale(self, stream: str, limit: int) -> list[Job]:
        """Entries another consumer holds past their lease (it died or hangs)."""
        _, entries, _ = await self._redis.xautoclaim(
            stream, GROUP, self.owner, self._lease_ms, "0-0", count=limit
        )
        if not entries:
            return []
        first, last = entries[0][0], entries[-1][0]
        pending = await self._redis.xpending_range(
            stream, GROUP, first, last, len(entries) + 10, consumername=self.owner
        )
        counts = {p["message_id"]: int(p["times_delivered"]) for p in pending}
        return [_decode(eid, f["job"], counts.get(eid, 2)) for eid, f in entries if f]

    async def _read(self, lane: Lane, limit: int, *, block_ms: int | None) -> list[Job]:
        answer: Any = await self._redis.xreadgroup(
            GROUP, self.owner, {self._stream(lane): ">"}, count=limit, block=block_ms
        )
        # RESP2 answers [[stream, [(id, fields)...]]...]
        return [_decode(eid, f["job"], 1) for _, entries in answer or () for eid, f in entries]

    async def extend(self, jobs: Sequence[Job]) -> None:
        by_stream: dict[str, list[Any]] = {}
        for job in jobs:
            if job.local:
                continue
            by_stream.setdefault(self._stream(job.lane), []).append(job.id)
        for stream, ids in by_stream.items():
            await self._call(self._redis.xclaim(stream, GROUP, self.owner, 0, ids, justid=True))

    async def postpone(self, job: Job, available_at: datetime, *, count_attempt: bool) -> None:
        ops: list[tuple[str, tuple[Any, ...]]] = []
        self._add(ops, _again(job, available_at))
        self._done(ops, job)
        await self._call(self._flush_raising(ops))

    async def _flush_raising(self, ops: list[tuple[str, tuple[Any, ...]]]) -> None:
        """The writes as one MULTI/EXEC block: all of them, or none."""
        async with self._redis.pipeline(transaction=True) as pipe:
            for name, args in ops:
                getattr(pipe, name)(*args)
            await pipe.execute()

    async def wait(self, lane: Lane, timeout_s: float) -> None:
        """Block on the stream itself, so work queued by any process wakes us at once."""
        try:
            await self._ensure_group(self._stream(lane))
            # One entry: more would sit in our buffer, idle, past their lease.
            found = await self._read(lane, 1, block_ms=max(1, int(timeout_s * 1000)))
        except RedisError as exc:
            if "NOGROUP" in str(exc):  # the stream vanished: make the group again next time
                self._groups_ready.discard(self._stream(lane))
            await asyncio.sleep(timeout_s)
            return
        self._buffer[lane].extend(found)

    async def backlog(self, now: datetime) -> list[LaneBacklog]:
        """Entries in each lane's stream (claimed ones stay until completed); the oldest's
        age is its entry id's time. Scheduled jobs wait in the sorted set, not counted."""
        found: list[LaneBacklog] = []
        for lane in Lane:
            stream = self._stream(lane)
            jobs = int(await self._call(self._redis.xlen(stream)))
            first = await self._call(self._redis.xrange(stream, count=1)) if jobs else []
            oldest = None
            if first:
                millis = int(str(first[0][0]).split("-", 1)[0])
                oldest = datetime.fromtimestamp(millis / 1000, tz=now.tzinfo)
            found.append(LaneBacklog(lane.value, jobs, oldest))
        return found

    async def aclose(self) -> None:
        await self._redis.aclose()


def _batch_key(job: Job) -> str:
    """What identifies a batch across redeliveries: its epoch and range (or first id)."""
    if job.ids is not None:
        return f"{job.epoch}:ids:{job.ids[0] if job.ids else ''}:{len(job.ids)}"
    return f"{job.epoch}:{job.after_id or ''}:{job.upto_id or ''}"


def _again(job: Job, available_at: datetime) -> NewJob:
    return NewJob(
        job.notification_id,
        job.kind,
        job.lane,
        job.epoch,
        available_at,
        after_id=job.after_id,
        upto_id=job.upto_id,
        expected=job.expected,
        ids=job.ids,
    )
