"""Send a batch's deliveries concurrently, each answered by the batch's deadline.

For the adapters that make one HTTP request per delivery (FCM, Web Push, WNS, SMS). Each
delivery's request waits for a slot of the adapter's gate; one whose slot comes after
Batch.deadline is not sent. Transport errors that the send path lets through become RETRY
results here, at the adapter's edge; what is still open at the deadline is cancelled and
answered RETRY "timeout" (unsent when its request never started).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.providers.base import SendResult
from pushgate.providers.http import TimedOut, TransportError
from pushgate.telemetry import PROVIDER_AMBIGUOUS

T = TypeVar("T")

TIMED_OUT = SendResult(Outcome.RETRY, ResultCode.RECOVERABLE_IO, "timeout")
NOT_STARTED = SendResult(Outcome.RETRY, ResultCode.RECOVERABLE_IO, "timeout", unsent=True)


def retry(reason: str, *, retry_after_s: float | None = None, unsent: bool = False) -> SendResult:
    """A transient failure of ours or the network's: the engine sends it again later."""
    return SendResult(
        Outcome.RETRY, ResultCode.RECOVERABLE_IO, reason, retry_after_s=retry_after_s, unsent=unsent
    )


def transport_result(exc: TransportError) -> SendResult:
    """RETRY naming the failure's class only: messages can carry URLs with channel tokens."""
    if isinstance(exc, TimedOut):  # the same answer as a request cut off at the batch deadline
        return NOT_STARTED if exc.unsent else TIMED_OUT
    return retry(type(exc).__name__, unsent=exc.unsent)


def count_ambiguous(provider: str, results: Sequence[SendResult]) -> None:
    """Count the results that may have been delivered without an answer (F6 metric): RETRY,
    not provably unsent, and the connection lost or the deadline passed."""
    lost = timed_out = 0
    for result in results:
        if result.outcome is Outcome.RETRY and not result.unsent and result.reason:
            if result.reason == "timeout":
                timed_out += 1
            elif result.reason.startswith("ConnectionLost"):
                lost += 1
    if lost:
        PROVIDER_AMBIGUOUS.labels(provider, "connection_lost").inc(lost)
    if timed_out:
        PROVIDER_AMBIGUOUS.labels(provider, "timeout").inc(timed_out)


def remaining_s(deadline: float) -> float:
    return deadline - asyncio.get_running_loop().time()


class Attempt:
    """One delivery's request; the send path sets `started` once it may reach the provider."""

    __slots__ = ("started",)

    def __init__(self) -> None:
        self.started = False


def _cut(reason: str, attempt: Attempt) -> SendResult:
    if reason == "timeout":
        return TIMED_OUT if attempt.started else NOT_STARTED
    return retry(reason, unsent=not attempt.started)


async def wait_until(tasks: Sequence[asyncio.Task[Any]], deadline: float) -> set[asyncio.Task[Any]]:
    """Wait for `tasks` until `deadline` (loop time); cancel and reap what is still running.

    Returns the tasks that were still running at the deadline. When the caller is cancelled
    meanwhile, the tasks are cancelled too: no request outlives its batch.
    """
    if not tasks:
        return set()
    try:
        _, pending = await asyncio.wait(tasks, timeout=max(remaining_s(deadline), 0.0))
    finally:
        for task in tasks:
            task.cancel()  # a no-op for the finished ones
    if pending:
        await asyncio.wait(pending)
    return pending


async def send_all(
    items: Sequence[T | SendResult],
    send_one: Callable[[T, Attempt], Awaitable[SendResult]],
    *,
    deadline: float,
    gate: asyncio.Semaphore,
    on_error: Callable[[BaseException], SendResult] | None = None,
    active: set[asyncio.Task[SendResult]] | None = None,
    cut_reason: Callable[[], str] = lambda: "timeout",
) -> list[SendResult]:
    """One result per item, in order, all in by `deadline` (loop.time()).

    An item that is already a SendResult (refused before sending) is its own result. A task
    cut at the deadline, or cancelled through `active` (an adapter closing), is answered RETRY
    with `cut_reason()`. An exception other than a TransportError propagates to the worker's
    edge, unless `on_error` turns it into that delivery's result (its batch-mates' stand).
    """
    loop = asyncio.get_running_loop()
    tasks: dict[int, tuple[asyncio.Task[SendResult], Attempt]] = {}
    for index, item in enumerate(items):
        if not isinstance(item, SendResult):
            attempt = Attempt()
            task = loop.create_task(_guarded(send_one, item, attempt, gate, deadline))
            if active is not None:
                active.add(task)
                task.add_done_callback(active.discard)
            tasks[index] = (task, attempt)
    pending = await wait_until([task for task, _ in tasks.values()], deadline)
    return [
        item
        if isinstance(item, SendResult)
        else _result(*tasks[index], pending, cut_reason, on_error)
        for index, item in enumerate(items)
    ]


async def _guarded(
    send_one: Callable[[T, Attempt], Awaitable[SendResult]],
    item: T,
    attempt: Attempt,
    gate: asyncio.Semaphore,
    deadline: float,
) -> SendResult:
    async with gate:
        if remaining_s(deadline) <= 0:
            return NOT_STARTED
        try:
            return await send_one(item, attempt)
        except TransportError as exc:
            return transport_result(exc)


def _result(
    task: asyncio.Task[SendResult],
    attempt: Attempt,
    pending: set[asyncio.Task[Any]],
    cut_reason: Callable[[], str],
    on_error: Callable[[BaseException], SendResult] | None,
) -> SendResult:
    if task in pending or task.cancelled():
        return _cut(cut_reason(), attempt)
    failure = task.exception()
    if failure is not None and on_error is not None:
        return on_error(failure)
    return task.result()  # raises the send path's bug, if any
