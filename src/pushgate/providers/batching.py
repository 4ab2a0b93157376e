"""Send a batch's deliveries concurrently, each answered by the batch's deadline.

For the adapters that make one HTTP request per delivery (WNS, SMS). Transport errors become
RETRY results here, at the adapter's edge; what is still open at Batch.deadline is cancelled
and answered RETRY "timeout" (unsent when it never started).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.providers.base import SendResult
from pushgate.providers.http import TimedOut, TransportError

T = TypeVar("T")

TIMED_OUT = SendResult(Outcome.RETRY, ResultCode.RECOVERABLE_IO, "timeout")
NOT_STARTED = SendResult(Outcome.RETRY, ResultCode.RECOVERABLE_IO, "timeout", unsent=True)


def transport_result(exc: TransportError) -> SendResult:
    """RETRY naming the failure's class only: messages can carry URLs with channel tokens."""
    if isinstance(exc, TimedOut):  # the same answer as a request cut off at the batch deadline
        return NOT_STARTED if exc.unsent else TIMED_OUT
    return SendResult(
        Outcome.RETRY, ResultCode.RECOVERABLE_IO, type(exc).__name__, unsent=exc.unsent
    )


def remaining_s(deadline: float) -> float:
    return deadline - asyncio.get_running_loop().time()


async def send_all(
    items: Sequence[T],
    send_one: Callable[[T], Awaitable[SendResult]],
    *,
    deadline: float,
    concurrency: int,
) -> list[SendResult]:
    """One result per item, in order, all in by `deadline` (loop.time())."""
    if not items:
        return []
    gate = asyncio.Semaphore(concurrency)
    started: set[int] = set()

    async def guarded(index: int, item: T) -> SendResult:
        async with gate:
            if remaining_s(deadline) <= 0:
                return NOT_STARTED
            started.add(index)
            try:
                return await send_one(item)
            except TransportError as exc:
                return transport_result(exc)

    tasks = [asyncio.create_task(guarded(i, item)) for i, item in enumerate(items)]
    _, pending = await asyncio.wait(tasks, timeout=max(remaining_s(deadline), 0.0))
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    results: list[SendResult] = []
    for index, task in enumerate(tasks):
        if task in pending:
            results.append(TIMED_OUT if index in started else NOT_STARTED)
        else:
            results.append(task.result())  # a bug in send_one propagates to the worker's edge
    return results
