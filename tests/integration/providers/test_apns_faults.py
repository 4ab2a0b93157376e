"""The APNs adapter under connection faults: stream limit 1, GOAWAY, resets, slow answers."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from h2.config import H2Configuration
from h2.connection import H2Connection

from pushgate.domain.statuses import Outcome
from pushgate.fakes.apns import FakeApns
from pushgate.fakes.inbox import Inbox
from pushgate.fakes.tls import FakeCertificates
from pushgate.providers.apns import ApnsProvider
from pushgate.providers.base import ProviderOptions, SendResult
from tests.integration.providers.apns_setup import (
    Clock,
    alert_push,
    batch,
    hex_tokens,
    token_credential,
    wait_until,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def provider(
    fake_apns: FakeApns,
    apns_key: ec.EllipticCurvePrivateKey,
    clock: Clock,
    provider_options: ProviderOptions,
) -> AsyncIterator[ApnsProvider]:
    adapter = ApnsProvider(token_credential(apns_key, fake_apns.url), provider_options, clock=clock)
    yield adapter
    await adapter.aclose()


def assert_nothing_lost(tokens: list[str], results: list[SendResult], inbox: Inbox) -> None:
    """Every delivery has an answer; each SENT is in the fake's ledger exactly once."""
    assert len(results) == len(tokens)
    sent = [t for t, r in zip(tokens, results, strict=True) if r.outcome is Outcome.SENT]
    duplicates = [t for t, n in Counter(inbox.tokens()).items() if n > 1]
    assert not duplicates
    assert set(sent) <= set(inbox.tokens())
    for result in results:
        assert result.outcome in (Outcome.SENT, Outcome.RETRY), result


async def test_stream_limit_1_at_connection_start_with_many_concurrent_sends(
    provider: ApnsProvider, fake_apns: FakeApns, inbox: Inbox, clock: Clock
) -> None:
    fake_apns.plan.initial_max_streams = 1
    fake_apns.plan.max_streams = 500
    fake_apns.plan.delay_s = 0.02  # answers wait, so concurrent streams are visible
    tokens = hex_tokens(600)
    results = await provider.send(batch(tokens, alert_push(clock)))
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert sorted(inbox.tokens()) == sorted(tokens)
    assert fake_apns.max_open_streams > 1  # the limit was raised after the first valid token


async def test_goaway_mid_batch_loses_nothing(
    provider: ApnsProvider, fake_apns: FakeApns, inbox: Inbox, clock: Clock
) -> None:
    fake_apns.plan.goaway_after_streams = 300
    tokens = hex_tokens(1000)
    results = await provider.send(batch(tokens, alert_push(clock)))
    assert fake_apns.goaways_sent >= 1
    assert fake_apns.opened_connections > 1
    assert_nothing_lost(tokens, results, inbox)
    # libcurl resent what each GOAWAY left unprocessed on fresh connections by itself
    assert [r.outcome for r in results] == [Outcome.SENT] * len(tokens)
    assert sorted(inbox.tokens()) == sorted(tokens)


async def test_goaway_storm_retries_what_libcurl_gave_up_on(
    provider: ApnsProvider, fake_apns: FakeApns, inbox: Inbox, clock: Clock
) -> None:
    # GOAWAY after every 10 streams with 400 in flight: some requests are refused on more
    # connections in a row than libcurl resends (5); they come back as RETRY, never delivered.
    fake_apns.plan.goaway_after_streams = 10
    tokens = hex_tokens(1000)
    results = await provider.send(batch(tokens, alert_push(clock)))
    assert_nothing_lost(tokens, results, inbox)
    retried = {t for t, r in zip(tokens, results, strict=True) if r.outcome is Outcome.RETRY}
    assert retried
    assert not retried & set(inbox.tokens())


async def test_connection_reset_mid_batch_answers_every_delivery(
    provider: ApnsProvider, fake_apns: FakeApns, inbox: Inbox, clock: Clock
) -> None:
    fake_apns.plan.reset_after_streams = 100
    tokens = hex_tokens(400)
    results = await provider.send(batch(tokens, alert_push(clock)))
    assert fake_apns.resets_sent >= 1
    assert_nothing_lost(tokens, results, inbox)
    retried = [r for r in results if r.outcome is Outcome.RETRY]
    assert retried
    assert all(r.reason and r.reason.startswith("ConnectionLost") for r in retried)


async def test_a_slow_token_is_bounded_by_the_batch_deadline(
    provider: ApnsProvider, inbox: Inbox, clock: Clock
) -> None:
    tokens = hex_tokens(1, "5105") + hex_tokens(5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    sent = batch(tokens, alert_push(clock), seconds=1.0)
    results = await provider.send(sent)
    assert loop.time() <= sent.deadline + 0.2
    assert (results[0].outcome, results[0].reason) == (Outcome.RETRY, "timeout")
    assert [r.outcome for r in results[1:]] == [Outcome.SENT] * 5
    assert loop.time() - started < 2.0
    assert tokens[0] not in inbox.tokens()  # its stream was abandoned before the answer


async def test_closing_ends_open_sends_as_retry(
    provider: ApnsProvider, fake_apns: FakeApns, clock: Clock
) -> None:
    fake_apns.plan.delay_s = 30.0
    sending = asyncio.ensure_future(provider.send(batch(hex_tokens(3), alert_push(clock))))
    await wait_until(lambda: fake_apns.inbox.attempts.total() >= 3)
    await provider.aclose()
    results = await asyncio.wait_for(sending, 5)
    assert [r.outcome for r in results] == [Outcome.RETRY] * 3
    [after] = await provider.send(batch(hex_tokens(1), alert_push(clock)))
    assert (after.outcome, after.unsent) == (Outcome.RETRY, True)


async def test_several_connections_when_one_is_saturated(
    fake_apns: FakeApns,
    apns_key: ec.EllipticCurvePrivateKey,
    clock: Clock,
    provider_options: ProviderOptions,
    inbox: Inbox,
) -> None:
    # each connection carries at most 50 streams at once, from its start
    fake_apns.plan.initial_max_streams = fake_apns.plan.max_streams = 50
    fake_apns.plan.delay_s = 0.05
    adapter = ApnsProvider(
        token_credential(apns_key, fake_apns.url), provider_options, clock=clock, max_connections=4
    )
    try:
        tokens = hex_tokens(400)
        results = await adapter.send(batch(tokens, alert_push(clock)))
    finally:
        await adapter.aclose()
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert sorted(inbox.tokens()) == sorted(tokens)
    assert 1 < fake_apns.max_connections_open <= 4
    assert len({r.connection for r in inbox.received}) > 1
    assert fake_apns.max_open_streams <= 50
    # Before a new connection's SETTINGS arrive libcurl may open up to its own cap (100)
    # streams; the fake refuses the excess like nghttp2 servers do (REFUSED_STREAM), and
    # libcurl resends those on a fresh connection: more connections over time, none lost.


async def test_a_client_closing_with_requests_unanswered_leaves_the_fake_serving(
    provider: ApnsProvider, fake_apns: FakeApns, certs: FakeCertificates, clock: Clock
) -> None:
    # h2load ends a run like this: the last requests and a GOAWAY in one write, then the
    # socket closes. The fake answered streams of a connection h2 had closed: a ProtocolError
    # ("Fatal error on SSL protocol") per connection, and writes to the dead socket.
    loop = asyncio.get_running_loop()
    errors: list[dict[str, object]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    try:
        context = certs.client_context()
        context.set_alpn_protocols(["h2"])
        host, port = urlsplit(fake_apns.url).hostname, urlsplit(fake_apns.url).port
        _, writer = await asyncio.open_connection(host, port, ssl=context)
        client = H2Connection(H2Configuration(client_side=True))
        client.initiate_connection()
        for stream_id in range(1, 41, 2):
            client.send_headers(stream_id, [(":method", "POST"), (":scheme", "https"),
                (":authority", "api.push.apple.com"), (":path", f"/3/device/{'ab' * 32}")],
                end_stream=True)  # fmt: skip
        client.close_connection()
        writer.write(client.data_to_send())
        await writer.drain()
        writer.close()
        await wait_until(lambda: not fake_apns.connections)
        # The fake still serves: a real send on a new connection.
        results = await provider.send(batch(hex_tokens(1), alert_push(clock)))
    finally:
        loop.set_exception_handler(previous)
    assert [r.outcome for r in results] == [Outcome.SENT]
    assert errors == []
