"""reliability.md F6, the parts tests/integration/providers/test_apns_faults.py leaves open:
REFUSED_STREAM, GOAWAY(last_stream_id) with 100 in flight (unprocessed streams resent without
counting an attempt, no stream on the GOAWAY'd connection), the metric of ambiguous streams
after a TCP reset mid-stream, and reconnects after resets.

Against the fake APNs (raw h2 over TLS: it scripts SETTINGS, GOAWAY, REFUSED_STREAM and RSTs)
with the real adapter. "Processed" is what the fake counted for a token (Inbox.attempts: a
stream the fake refused or left above a GOAWAY's last-stream-id is never counted there).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from h2.events import RequestReceived
from prometheus_client import REGISTRY

from pushgate.domain.statuses import Outcome
from pushgate.fakes.apns import FakeApns
from pushgate.fakes.apns_connection import ApnsConnection
from pushgate.fakes.inbox import Inbox
from pushgate.fakes.tls import FakeCertificates
from pushgate.providers.apns import ApnsProvider
from pushgate.providers.base import ProviderOptions, SendResult
from tests.integration.providers.apns_setup import (
    KEY_ID,
    TEAM_ID,
    TOPIC,
    Clock,
    alert_push,
    batch,
    hex_tokens,
    token_credential,
)

pytestmark = pytest.mark.anyio

AMBIGUOUS = "pushgate_provider_ambiguous_total"
# A stream may reach the fake after its GOAWAY only if the client sent it before reading the
# GOAWAY. A new stream opened on the GOAWAY'd connection could only come once a slot frees,
# i.e. after the first held answer (ServerPlan.delay_s, 0.5 s): anything up to 0.4 s is the
# burst already on the wire (measured: 0.4 to 52 ms on a loaded machine).
LATE_AFTER_GOAWAY_S = 0.4


class WatchedConnection(ApnsConnection):
    """The fake's connection, noting how long after its GOAWAY each later stream came."""

    def __init__(self, fake: WatchedApns, environment: str, number: int) -> None:
        super().__init__(fake, environment, number)
        self.watcher = fake
        self.goaway_at: float | None = None

    def _on_request(self, event: RequestReceived) -> None:
        now = time.monotonic()
        if self.goaway_at is not None:
            self.watcher.after_goaway.append((self.number, now - self.goaway_at))
        super()._on_request(event)
        if self.goaway_at is None and self.last_stream_id is not None:
            self.goaway_at = now  # this stream made the fake send its GOAWAY


class WatchedApns(FakeApns):
    after_goaway: list[tuple[int, float]]  # (connection, seconds after its GOAWAY)
    certs: FakeCertificates

    def _connection(self, environment: str) -> ApnsConnection:
        self.opened_connections += 1
        return WatchedConnection(self, environment, self.opened_connections)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
async def fake(tmp_path: Path, inbox: Inbox, clock: Clock) -> AsyncIterator[WatchedApns]:
    certs = FakeCertificates(tmp_path / "certs")
    watched = WatchedApns(certs, inbox, topics=[TOPIC], clock=clock)
    watched.after_goaway = []
    watched.certs = certs
    async with watched:
        yield watched


@pytest.fixture
def key(fake: WatchedApns) -> ec.EllipticCurvePrivateKey:
    private = ec.generate_private_key(ec.SECP256R1())
    fake.add_key(KEY_ID, TEAM_ID, private.public_key())
    return private


def adapter(
    fake: WatchedApns, key: ec.EllipticCurvePrivateKey, clock: Clock, max_connections: int = 4
) -> ApnsProvider:
    options = ProviderOptions(ca_file=str(fake.certs.ca_file))
    credential = token_credential(key, fake.url)
    return ApnsProvider(credential, options, clock=clock, max_connections=max_connections)


def ambiguous(failure: str) -> float:
    labels = {"provider": "apns", "failure": failure}
    return REGISTRY.get_sample_value(AMBIGUOUS, labels) or 0.0


def outcomes(results: Iterable[SendResult]) -> Counter[tuple[str, str, bool]]:
    return Counter((r.outcome.value, (r.reason or "")[:40], r.unsent) for r in results)


async def test_refused_streams_are_resent_and_processed_once(
    fake: WatchedApns, key: ec.EllipticCurvePrivateKey, clock: Clock, inbox: Inbox
) -> None:
    # APNs' own pattern: 1 stream on a new connection until a token was accepted. libcurl
    # opens more before the SETTINGS arrive; the fake refuses the excess (REFUSED_STREAM).
    fake.plan.initial_max_streams = 1
    fake.plan.max_streams = 50
    fake.plan.delay_s = 0.02
    provider = adapter(fake, key, clock, max_connections=2)
    tokens = hex_tokens(300)
    try:
        results = await provider.send(batch(tokens, alert_push(clock)))
    finally:
        await provider.aclose()
    print(  # noqa: T201 - the test's figures
        f"REFUSED_STREAM: {fake.refused_streams} refusals over {fake.opened_connections} "
        f"connections; results {dict(outcomes(results))}"
    )
    assert fake.refused_streams > 0
    assert [r.outcome for r in results] == [Outcome.SENT] * len(tokens)
    # Resent by libcurl, never processed twice: one attempt each, as the engine counts them.
    assert set(inbox.attempts.values()) == {1}
    assert sorted(inbox.tokens()) == sorted(tokens)


async def test_goaway_with_100_in_flight_resends_the_unprocessed_on_a_new_connection(
    fake: WatchedApns, key: ec.EllipticCurvePrivateKey, clock: Clock, inbox: Inbox
) -> None:
    fake.plan.goaway_after_streams = 50
    # Answers wait, so 100 streams are open when the GOAWAY goes out, and the GOAWAY'd
    # connection stays open (until its 50 answers are out) for a new stream to be caught.
    fake.plan.delay_s = 0.5
    provider = adapter(fake, key, clock, max_connections=1)  # 100 streams on it
    tokens = hex_tokens(200)
    try:
        results = await provider.send(batch(tokens, alert_push(clock)))
    finally:
        await provider.aclose()
    by_connection = Counter(r.connection for r in inbox.received)
    late = max((after for _, after in fake.after_goaway), default=0.0)
    # In flight on the first connection when its GOAWAY went out: the 50 it processed
    # (answers held) and the streams above the GOAWAY's last-stream-id, already sent.
    beyond = sum(1 for number, _ in fake.after_goaway if number == 1)
    print(  # noqa: T201 - the test's figures
        f"GOAWAY: {fake.goaways_sent} sent, {by_connection[1] + beyond} in flight at the first, "
        f"accepted per connection {dict(sorted(by_connection.items()))}; streams after a "
        f"GOAWAY {len(fake.after_goaway)}, the latest {late * 1000:.1f} ms after it; "
        f"results {dict(outcomes(results))}"
    )
    assert by_connection[1] + beyond == 100
    assert fake.goaways_sent >= 1
    # No loss; the unprocessed streams were resent (by libcurl, on a new connection) and
    # are each processed once: the delivery's one result is its one attempt.
    assert [r.outcome for r in results] == [Outcome.SENT] * len(tokens)
    assert set(inbox.attempts.values()) == {1}
    assert sorted(inbox.tokens()) == sorted(tokens)
    assert by_connection[1] == 50
    # What reached the GOAWAY'd connection after the GOAWAY was already on its way.
    assert late <= LATE_AFTER_GOAWAY_S


async def test_reset_mid_stream_counts_ambiguous_streams_in_a_metric(
    fake: WatchedApns, key: ec.EllipticCurvePrivateKey, clock: Clock, inbox: Inbox
) -> None:
    fake.plan.reset_after_streams = 100
    provider = adapter(fake, key, clock)
    tokens = hex_tokens(400)
    lost_before, late_before = ambiguous("connection_lost"), ambiguous("timeout")
    try:
        results = await provider.send(batch(tokens, alert_push(clock)))
        # And a stream cut by the deadline: sent, no answer (the fake answers it after 5 s).
        [slow] = await provider.send(batch(hex_tokens(1, "5105"), alert_push(clock), seconds=1))
    finally:
        await provider.aclose()
    lost = [r for r in results if r.outcome is Outcome.RETRY and not r.unsent]
    counted_lost = ambiguous("connection_lost") - lost_before
    counted_late = ambiguous("timeout") - late_before
    print(  # noqa: T201 - the test's figures
        f"reset mid-stream: {fake.resets_sent} resets; results {dict(outcomes(results))}; "
        f"{AMBIGUOUS} connection_lost +{counted_lost:.0f}, timeout +{counted_late:.0f}"
    )
    assert fake.resets_sent >= 1
    assert lost
    assert all(r.reason and r.reason.startswith("ConnectionLost") for r in lost)
    assert counted_lost == len(lost)
    assert (slow.outcome, slow.reason, counted_late) == (Outcome.RETRY, "timeout", 1)
    # No loss: every SENT was processed once; the ambiguous are retried.
    sent = [t for t, r in zip(tokens, results, strict=True) if r.outcome is Outcome.SENT]
    assert sorted(inbox.tokens()) == sorted(sent)
    assert {r.outcome for r in results} <= {Outcome.SENT, Outcome.RETRY}


async def test_reconnects_to_a_server_that_drops_every_connection_are_rate_limited(
    fake: WatchedApns, key: ec.EllipticCurvePrivateKey, clock: Clock, inbox: Inbox
) -> None:
    # Every connection serves one stream, then GOAWAY: each request needs a connection of
    # its own, and libcurl resends the refused ones on fresh connections (up to 5 times).
    fake.plan.goaway_after_streams = 1
    connections = 1  # its budget: 4 at once, then 1 a second
    provider = adapter(fake, key, clock, max_connections=connections)
    loop = asyncio.get_running_loop()
    start = loop.time()
    results: list[SendResult] = []
    try:
        for round_ in range(3):  # a busy engine sending again at once
            tokens = hex_tokens(100, f"{round_}")
            results += await provider.send(batch(tokens, alert_push(clock), seconds=3))
    finally:
        await provider.aclose()
    elapsed = loop.time() - start
    budget = 4 * connections + connections * elapsed  # http_curl.ConnectBudget's
    refused = [r for r in results if r.reason and r.reason.startswith("ConnectFailed")]
    print(  # noqa: T201 - the test's figures
        f"reconnects: {fake.opened_connections} connections in {elapsed:.2f} s "
        f"({fake.opened_connections / elapsed:.1f}/s, budget {budget:.0f}); "
        f"results {dict(outcomes(results))}"
    )
    assert fake.opened_connections <= budget + 1
    assert refused  # past the budget: failed at once...
    assert all(r.outcome is Outcome.RETRY and r.unsent for r in refused)  # ...as never sent
    processed = {t for t, n in inbox.attempts.items() if n}
    assert len(inbox.tokens()) == len(processed)  # nothing processed twice


@pytest.mark.xfail(
    strict=True,
    reason="libcurl reports a request refused on 5 connections in a row as 'Connection "
    "died, tried 5 times', the same error as a reused connection dying after the request "
    "left: the adapter cannot tell it was never processed, so it counts an attempt",
)
async def test_streams_libcurl_gave_up_resending_count_no_attempt(
    fake: WatchedApns, key: ec.EllipticCurvePrivateKey, clock: Clock, inbox: Inbox
) -> None:
    fake.plan.goaway_after_streams = 1
    provider = adapter(fake, key, clock)
    tokens = hex_tokens(100)
    try:
        results = await provider.send(batch(tokens, alert_push(clock), seconds=3))
    finally:
        await provider.aclose()
    never_processed = [r for t, r in zip(tokens, results, strict=True) if not inbox.attempts[t]]
    print(f"GOAWAY after every stream: {dict(outcomes(results))}")  # noqa: T201
    assert never_processed
    assert all(r.unsent for r in never_processed)
