"""Poison deliveries: one token whose attempt always fails in a way nobody planned for.

reliability.md F11: an adapter that raises, a worker that dies on one token (its attempt
abandoned mid-send, as a kill leaves it), a push service that answers garbage, a malformed
status line or a 10 MB body. Pass: attempts are counted when claimed, the delivery ends in
ERROR after the maximum attempts, its batch-mates and another app's deliveries are SENT.

Real SIGKILLs of a worker process are tests/e2e/test_worker_kill.py (F1); here the kill is an
attempt cancelled in flight, which records nothing, like a killed process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from dataclasses import replace
from datetime import datetime

import httpx
import pytest

from pushgate.delivery.engine import DeliveryConfig
from pushgate.delivery.retry import RetryPolicy
from pushgate.delivery.worker import Worker
from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.fakes.tls import FakeCertificates
from pushgate.http.deps import Runtime
from pushgate.providers.base import SendResult
from pushgate.providers.kinds import ProviderKind
from pushgate.providers.registry import default_kinds
from pushgate.store.uow import unit_of_work
from tests.conftest import wait_for
from tests.integration.delivery.test_delivery_faults_harness import (
    APP,
    WIRE,
    Fakes,
    Script,
    ShiftedClock,
    app_key,
    app_with_key,
    certs,
    deliveries,
    fakes,
    register,
    register_browser,
    runtime,
    scripted_kind,
    send,
    wait_final,
    with_fcm,
)

pytestmark = pytest.mark.anyio

__all__ = ["app_key", "certs", "fakes", "runtime", "with_fcm"]  # fixtures used from there

MAX_ATTEMPTS = 3
# A short backoff, so that a poison delivery uses up its attempts in well under a second.
POISON = replace(WIRE, retry=RetryPolicy(base_s=0.05, cap_s=0.2, max_attempts=MAX_ATTEMPTS))


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture
def delivery_config() -> DeliveryConfig:
    return POISON


@pytest.fixture
def script(clock: ShiftedClock) -> Script:
    return Script(clock)


@pytest.fixture
def kinds(script: Script) -> dict[str, ProviderKind]:
    """Web Push (and the rest) for real against the fakes; APNs replaced by the Script."""
    return {**default_kinds(), "apns": scripted_kind("apns", script)}


# --- a push service that answers poison ----------------------------------------------------

TEN_MB = 10 * 1024 * 1024
ANSWERS = {
    "garbage": b"\x00\xffnot http at all\x13\x37" * 64,
    "malformed-status": b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n",
    "ten-mb-body": b"HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\n",
}


class PoisonService:
    """A TLS listener (the fakes' CA) that answers every request with `answer` and hangs up."""

    def __init__(self, certs: FakeCertificates, answer: str) -> None:
        self._context = certs.server_context(("http/1.1",))
        self._answer = answer
        self.requests = 0
        self._server: asyncio.Server | None = None

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"https://127.0.0.1:{port}/wp/poison"

    async def __aenter__(self) -> PoisonService:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self._context)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            await reader.readuntil(b"\r\n\r\n")
            self.requests += 1
            writer.write(ANSWERS[self._answer])
            if self._answer == "ten-mb-body":
                for _ in range(TEN_MB // 65536):  # the client is expected to hang up early
                    writer.write(b"x" * 65536)
                    await writer.drain()
            await writer.drain()
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


@pytest.mark.parametrize("answer", list(ANSWERS))
async def test_a_poison_answer_ends_in_error_after_max_attempts_and_spares_the_rest(
    answer: str,
    client: httpx.AsyncClient,
    app_key: dict[str, str],
    fakes: Fakes,
    certs: FakeCertificates,
    worker: Worker,
) -> None:
    other_key = await app_with_key(client, "other")
    mates = [await register_browser(client, app_key, fakes) for _ in range(3)]
    others = [await register_browser(client, other_key, fakes, app="other") for _ in range(2)]
    async with PoisonService(certs, answer) as service:
        keys = fakes.webpush.subscribe()  # valid subscription keys for the poison endpoint
        poison = await register(
            client,
            app_key,
            "webpush",
            service.endpoint,
            keys={"p256dh": keys.p256dh, "auth": keys.auth},
        )
        batch = [rid for rid, _ in mates] + [poison]
        sent, other = await asyncio.gather(
            send(client, app_key, batch),
            send(client, other_key, [rid for rid, _ in others], app="other"),
        )
        done = await wait_final(client, app_key, sent["id"], timeout_s=20)
        other_done = await wait_final(client, other_key, other["id"], app="other")
    print(  # noqa: T201 - the test's figures
        f"\npoison {answer}: {done[poison]['status']} after {done[poison]['attempts']} attempts"
        f" ({service.requests} requests): {done[poison]['message']}; batch-mates "
        f"{[done[rid]['status'] for rid, _ in mates]}, other app "
        f"{[d['status'] for d in other_done.values()]}"
    )
    assert (done[poison]["status"], done[poison]["attempts"]) == ("ERROR", MAX_ATTEMPTS)
    assert f"after {MAX_ATTEMPTS} attempts" in done[poison]["message"]
    assert service.requests == MAX_ATTEMPTS  # every request it got was a counted attempt
    assert [(done[rid]["status"], done[rid]["attempts"]) for rid, _ in mates] == [("SENT", 1)] * 3
    assert {d["status"] for d in other_done.values()} == {"SENT"}
    delivered = {r.token for r in fakes.inbox.received}
    assert {endpoint for _, endpoint in mates + others} <= delivered


# --- an adapter that raises ----------------------------------------------------------------


async def test_an_adapter_raising_on_one_token_spares_its_batch_mates_and_other_apps(
    client: httpx.AsyncClient,
    app_key: dict[str, str],
    script: Script,
    worker: Worker,
) -> None:
    script.raise_on = "poison"
    other_key = await app_with_key(client, "other")
    mates = [await register(client, app_key, "ios", f"mate{i}") for i in range(5)]
    poison = await register(client, app_key, "ios", "poison0")
    others = [await register(client, other_key, "ios", f"other{i}", app="other") for i in range(2)]
    sent, other = await asyncio.gather(
        send(client, app_key, [*mates[:2], poison, *mates[2:]]),
        send(client, other_key, others, app="other"),
    )
    done = await wait_final(client, app_key, sent["id"])
    other_done = await wait_final(client, other_key, other["id"], app="other")
    tried = {token: len(script.attempts(token)) for token in ("poison0", "mate0", "other0")}
    print(  # noqa: T201 - the test's figures
        f"\nadapter raising on one token: {done[poison]['status']} after "
        f"{done[poison]['attempts']} attempts ({done[poison]['message']}); batch-mates "
        f"{sorted({done[m]['status'] for m in mates})}; provider calls {script.batches};"
        f" tries per token {tried}"
    )
    assert (done[poison]["status"], done[poison]["attempts"]) == ("ERROR", MAX_ATTEMPTS)
    assert "adapter error" in done[poison]["message"]
    assert [(done[m]["status"], done[m]["attempts"]) for m in mates] == [("SENT", 1)] * 5
    assert {d["status"] for d in other_done.values()} == {"SENT"}


# --- a worker that dies on one token -------------------------------------------------------


async def _delivery(runtime: Runtime, nid: str, rid: str) -> tuple[int, int, datetime | None]:
    async with unit_of_work(runtime.db, readonly=True) as uow:
        found = await uow.deliveries.get(nid, rid)
    assert found is not None
    return int(found.status), found.attempts, found.next_attempt_at


async def test_an_attempt_lost_with_its_worker_was_counted_at_claim_and_max_attempts_hold(
    client: httpx.AsyncClient,
    app_key: dict[str, str],
    script: Script,
    runtime: Runtime,
    clock: ShiftedClock,
) -> None:
    # The first attempt is answered 500; every later one never returns (the worker dies).
    script.answers["killer"] = SendResult(Outcome.RETRY, ResultCode.RECOVERABLE_IO, "HTTP 500")
    script.hang_on, script.hang_from = "killer", 2
    rid = await register(client, app_key, "ios", "killer0")
    sent = await send(client, app_key, [rid])
    nid = sent["id"]
    assert (await _delivery(runtime, nid, rid))[1] == 1
    lease_s = runtime.engine.config.retry_lease_s
    for attempt in range(2, MAX_ATTEMPTS + 1):
        clock.advance(lease_s + 1)  # due (its backoff, or the lost attempt's lease, is over)
        script.hanging.clear()
        claimed = asyncio.create_task(runtime.engine.batches.run_due())
        await wait_for(lambda: _is_set(script.hanging), what=f"attempt {attempt} to hang")
        # Counted when claimed, before any answer: the worker dies now and records nothing.
        status, attempts, next_at = await _delivery(runtime, nid, rid)
        assert (status, attempts) == (0, attempt)  # QUEUED, this attempt counted
        assert next_at is not None
        assert next_at > clock()  # leased: nobody else takes it
        claimed.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await claimed
    assert len(script.attempts("killer0")) == MAX_ATTEMPTS
    clock.advance(lease_s + 1)  # the last lease runs out: claimed once more, never sent again
    await runtime.engine.batches.run_due()
    (final,) = (await deliveries(client, app_key, nid, app=APP)).values()
    print(  # noqa: T201 - the test's figures
        f"\nworker lost on one token: {final['status']} after {final['attempts']} attempts "
        f"({len(script.attempts('killer0'))} sent): {final['message']}"
    )
    assert len(script.attempts("killer0")) == MAX_ATTEMPTS
    assert (final["status"], final["attempts"]) == ("ERROR", MAX_ATTEMPTS)
    assert f"{MAX_ATTEMPTS} attempts" in final["message"]


async def _is_set(event: asyncio.Event) -> bool:
    return event.is_set()


async def test_a_retry_lost_with_its_worker_is_sent_alone_so_its_batch_mates_survive(
    client: httpx.AsyncClient,
    app_key: dict[str, str],
    script: Script,
    runtime: Runtime,
    clock: ShiftedClock,
) -> None:
    # One retry group: the killer and four mates, all answered 500 at first. From its second
    # attempt on the killer's worker dies (hangs, then is cancelled: nothing recorded). Before
    # the suspects were sent alone, the mates died with it on every claim and ended in ERROR
    # after the maximum attempts; now each lost retry is sent on its own next time.
    failed = SendResult(Outcome.RETRY, ResultCode.RECOVERABLE_IO, "HTTP 500")
    script.answers = {"killer": failed, "mate": failed}
    script.hang_on, script.hang_from = "killer", 2
    killer = await register(client, app_key, "ios", "killer0")
    mates = [await register(client, app_key, "ios", f"mate{i}") for i in range(4)]
    nid = (await send(client, app_key, [killer, *mates]))["id"]
    del script.answers["mate"]  # from now on the mates are accepted when sent
    lease_s = runtime.engine.config.retry_lease_s
    rounds = 0
    while rounds < 12:
        rounds += 1
        clock.advance(lease_s + 1)  # due: the backoff, or a lost attempt's lease, is over
        script.hanging.clear()
        claimed = asyncio.create_task(runtime.engine.batches.run_due())
        await wait_for(
            functools.partial(_is_set_or_done, script.hanging, claimed),
            what=f"retry round {rounds}",
        )
        if script.hanging.is_set():  # the worker "dies": whatever it claimed stays claimed
            claimed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await claimed
        elif not await claimed:
            break  # nothing was due any more
    done = await deliveries(client, app_key, nid, app=APP)
    print(  # noqa: T201 - the test's figures
        f"\nworker dying on one token of a retry group of 5: killer {done[killer]['status']} "
        f"after {done[killer]['attempts']} attempts; mates "
        f"{[(done[m]['status'], done[m]['attempts']) for m in mates]}; {rounds} retry rounds, "
        f"{script.batches} provider calls"
    )
    assert (done[killer]["status"], done[killer]["attempts"]) == ("ERROR", MAX_ATTEMPTS)
    # Attempt 1 answered 500, attempt 2 lost with the killer, attempt 3 alone: SENT.
    assert [(done[m]["status"], done[m]["attempts"]) for m in mates] == [("SENT", 3)] * 4


async def _is_set_or_done(event: asyncio.Event, task: asyncio.Task[int]) -> bool:
    return event.is_set() or task.done()
