"""send_all, the one concurrent send of the per-request adapters (FCM, Web Push, WNS, SMS)."""

from __future__ import annotations

import asyncio

import pytest

from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.providers.base import SENT, SendResult
from pushgate.providers.batching import NOT_STARTED, TIMED_OUT, Attempt, retry, send_all
from pushgate.providers.http import ConnectFailed

pytestmark = pytest.mark.anyio

REFUSED = SendResult(Outcome.REJECTED, ResultCode.INVALID_DATA, "refused")


async def _answer(item: str, attempt: Attempt) -> SendResult:
    if item == "hang-before":
        await asyncio.Event().wait()  # cut at the deadline before its request started
    attempt.started = True
    if item == "hang":
        await asyncio.Event().wait()
    if item == "refused-connection":
        raise ConnectFailed("connection refused")
    if item == "bug":
        raise KeyError(item)
    return SENT


def _soon() -> float:
    return asyncio.get_running_loop().time() + 0.05


async def test_results_in_order_with_refusals_and_cuts_in_place() -> None:
    items: list[str | SendResult] = ["ok", REFUSED, "hang", "hang-before", "refused-connection"]
    results = await send_all(items, _answer, deadline=_soon(), gate=asyncio.Semaphore(10))
    assert results == [SENT, REFUSED, TIMED_OUT, NOT_STARTED, retry("ConnectFailed", unsent=True)]


async def test_a_slot_after_the_deadline_is_not_sent() -> None:
    results = await send_all(["hang", "ok"], _answer, deadline=_soon(), gate=asyncio.Semaphore(1))
    assert results == [TIMED_OUT, NOT_STARTED]


async def test_a_bug_propagates_unless_on_error_answers_for_it() -> None:
    gate = asyncio.Semaphore(10)
    with pytest.raises(KeyError):
        await send_all(["ok", "bug"], _answer, deadline=_soon(), gate=gate)
    isolated = await send_all(
        ["ok", "bug"], _answer, deadline=_soon(), gate=gate, on_error=lambda _: retry("bug")
    )
    assert isolated == [SENT, retry("bug")]


async def test_tasks_cancelled_through_active_end_with_the_cut_reason() -> None:
    active: set[asyncio.Task[SendResult]] = set()
    deadline = asyncio.get_running_loop().time() + 30
    sending = asyncio.create_task(
        send_all(
            ["hang", "hang-before"],
            _answer,
            deadline=deadline,
            gate=asyncio.Semaphore(10),
            active=active,
            cut_reason=lambda: "closed",
        )
    )
    for _ in range(5):  # let send_all start both tasks and each reach its wait
        await asyncio.sleep(0)
    assert len(active) == 2
    for task in list(active):
        task.cancel()
    assert await sending == [retry("closed"), retry("closed", unsent=True)]
    assert not active
