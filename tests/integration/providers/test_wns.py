"""The WNS adapter against FakeWns over TLS on loopback: every answer the fake can give."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from defusedxml.ElementTree import fromstring

from pushgate.domain.payload import Content
from pushgate.domain.platforms import Platform
from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.fakes.behaviour import ServerPlan
from pushgate.fakes.inbox import Inbox
from pushgate.fakes.tls import FakeCertificates
from pushgate.fakes.wns import FakeWns
from pushgate.providers.base import Delivery, ProviderCredential, ProviderOptions, Push
from pushgate.providers.http_httpx import HttpxTransport
from pushgate.providers.wns import WnsProvider
from tests.integration.providers.wns_sms_support import (
    ManualClock,
    check_failing_once_then_sent,
    check_scripted_status,
    options,
    push,
    send,
)
from tests.integration.providers.wns_sms_support import delivery as make_delivery

pytestmark = pytest.mark.anyio

CLIENT_ID = "ms-app://s-1-15-2-2024"
SECRET = "wns-secret-" + secrets.token_hex(8)


def delivery(token: str, shared: Push | None = None) -> Delivery:
    return make_delivery(token, Platform.WNS, shared)


@pytest.fixture
async def fake(certs: FakeCertificates, plan: ServerPlan) -> AsyncIterator[FakeWns]:
    async with FakeWns(certs, Inbox(), plan) as server:
        server.register_client(CLIENT_ID, SECRET)
        yield server


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def credential(fake: FakeWns, secret: str = SECRET) -> ProviderCredential:
    return ProviderCredential(
        app_id=1,
        provider="wns",
        settings={"client_id": CLIENT_ID},
        secret={"client_secret": secret},
        endpoint=fake.url,
        version="1",
    )


@pytest.fixture
async def provider(
    fake: FakeWns, certs: FakeCertificates, clock: ManualClock
) -> AsyncIterator[WnsProvider]:
    adapter = WnsProvider(
        credential(fake),
        ProviderOptions(ca_file=str(certs.ca_file), allow_private_addresses=True),
        clock=clock,
    )
    yield adapter
    await adapter.aclose()


def texts(xml: str) -> list[str | None]:
    return [element.text for element in fromstring(xml).iter("text")]


async def test_toast_is_received_and_answered_with_its_message_id(
    provider: WnsProvider, fake: FakeWns
) -> None:
    [result] = await send(provider, delivery(fake.channel()))
    assert result.outcome is Outcome.SENT
    [received] = fake.inbox.received
    assert result.provider_ref == received.message_id
    assert received.headers["x-wns-type"] == "wns/toast"
    assert received.headers["content-type"] == "text/xml"
    assert 3500 <= int(received.headers["x-wns-ttl"]) <= 3600
    assert texts(received.payload) == ["Hello", "World"]


async def test_hostile_text_is_escaped_into_well_formed_xml(
    provider: WnsProvider, fake: FakeWns
) -> None:
    hostile = "<script>&\"'</script> ]]> \x00 <!-- -->"
    content = Content(title=hostile, body="&amp; <b>", data={"k": '"><x/>'})
    [result] = await send(provider, delivery(fake.channel(), push(content)))
    assert result.outcome is Outcome.SENT
    root = fromstring(fake.inbox.received[0].payload)
    assert [t.text for t in root.iter("text")] == [hostile.replace("\x00", "\ufffd"), "&amp; <b>"]
    assert root.get("launch") == '{"k":"\\"><x/>"}'


async def test_badge_only_is_a_badge_notification(provider: WnsProvider, fake: FakeWns) -> None:
    [result] = await send(provider, delivery(fake.channel(), push(Content(badge=7))))
    assert result.outcome is Outcome.SENT
    [received] = fake.inbox.received
    assert received.headers["x-wns-type"] == "wns/badge"
    assert fromstring(received.payload).get("value") == "7"


async def test_data_only_is_raw_octets(provider: WnsProvider, fake: FakeWns) -> None:
    [result] = await send(provider, delivery(fake.channel(), push(Content(data={"a": "1"}))))
    assert result.outcome is Outcome.SENT
    [received] = fake.inbox.received
    assert received.headers["x-wns-type"] == "wns/raw"
    assert received.headers["content-type"] == "application/octet-stream"
    assert received.payload == '{"a":"1"}'


async def test_tile_override_is_sent_as_given(provider: WnsProvider, fake: FakeWns) -> None:
    xml = '<tile><visual><binding template="TileMedium"><text>7</text></binding></visual></tile>'
    content = Content(title="ignored", wns={"type": "wns/tile", "xml": xml})
    [result] = await send(provider, delivery(fake.channel(), push(content)))
    assert result.outcome is Outcome.SENT
    assert fake.inbox.received[0].headers["x-wns-type"] == "wns/tile"
    assert fake.inbox.received[0].payload == xml


@pytest.mark.parametrize(
    "override",
    [
        {"type": "wns/toast", "xml": "<toast><visual>"},  # not well-formed
        {"type": "wns/toast", "xml": "<tile/>"},  # root does not match the type
        {"xml": '<!DOCTYPE t [<!ENTITY a "aaaa">]><toast>&a;</toast>'},  # entities refused
        {"type": "wns/raw"},  # raw without its body
        {"type": "wns/toast", "xml": "<toast/>", "sound": "x"},  # unknown field
    ],
)
async def test_bad_override_is_rejected_before_sending(
    provider: WnsProvider, fake: FakeWns, override: dict[str, str]
) -> None:
    channel = fake.channel()
    [result] = await send(provider, delivery(channel, push(Content(wns=override))))
    assert (result.outcome, result.code) == (Outcome.REJECTED, ResultCode.INVALID_DATA)
    assert fake.inbox.attempts[channel.rsplit("/", 1)[1]] == 0


async def test_over_5000_bytes_is_rejected_before_sending(
    provider: WnsProvider, fake: FakeWns
) -> None:
    channel = fake.channel()
    content = Content(title="€" * 2000)  # 6000 bytes of UTF-8
    [result] = await send(provider, delivery(channel, push(content)))
    assert (result.outcome, result.code) == (Outcome.REJECTED, ResultCode.TOO_LARGE)
    assert not fake.inbox.attempts


@pytest.mark.parametrize(
    ("prefix", "outcome", "code"),
    [
        ("dead", Outcome.DEAD_TOKEN, ResultCode.REGISTRATION_EXPIRED),  # 410
        ("bad", Outcome.DEAD_TOKEN, ResultCode.TOKEN_REJECTED),  # 404
        ("dropped", Outcome.REJECTED, ResultCode.NOT_ACCEPTED),
        ("throttled", Outcome.RETRY, ResultCode.TOO_MANY_FOR_DEVICE),
    ],
)
async def test_channel_prefix_answers(
    provider: WnsProvider, fake: FakeWns, prefix: str, outcome: Outcome, code: ResultCode
) -> None:
    [result] = await send(provider, delivery(fake.channel(prefix)))
    assert (result.outcome, result.code) == (outcome, code)
    assert not fake.inbox.received


@pytest.mark.parametrize(
    ("prefix", "code", "retry_after"),
    [("429", ResultCode.QUOTA_EXCEEDED, 1.0), ("500", ResultCode.RECOVERABLE_IO, None)],
)
async def test_failing_once_is_retried_then_accepted(
    provider: WnsProvider, fake: FakeWns, prefix: str, code: ResultCode, retry_after: float | None
) -> None:
    await check_failing_once_then_sent(provider, delivery(fake.channel(prefix)), code, retry_after)


@pytest.mark.parametrize(
    ("status", "outcome", "code"),
    [
        (400, Outcome.REJECTED, ResultCode.INVALID_DATA),
        (403, Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED),
        (404, Outcome.DEAD_TOKEN, ResultCode.TOKEN_REJECTED),
        (405, Outcome.REJECTED, ResultCode.INVALID_DATA),
        (406, Outcome.RETRY, ResultCode.TOO_MANY_FOR_DEVICE),
        (410, Outcome.DEAD_TOKEN, ResultCode.REGISTRATION_EXPIRED),
        (413, Outcome.REJECTED, ResultCode.TOO_LARGE),
        (429, Outcome.RETRY, ResultCode.QUOTA_EXCEEDED),
        (500, Outcome.RETRY, ResultCode.RECOVERABLE_IO),
        (503, Outcome.RETRY, ResultCode.RECOVERABLE_IO),
    ],
)
async def test_scripted_status_answers(
    provider: WnsProvider,
    fake: FakeWns,
    plan: ServerPlan,
    status: int,
    outcome: Outcome,
    code: ResultCode,
) -> None:
    target = delivery(fake.channel())
    await check_scripted_status(provider, plan, target, status, (outcome, code), retry_after="7")


async def test_http2_transport_reaches_the_fake_too(
    fake: FakeWns, certs: FakeCertificates, clock: ManualClock
) -> None:
    transport = HttpxTransport(ca_file=str(certs.ca_file), http2=True)
    adapter = WnsProvider(
        credential(fake),
        ProviderOptions(ca_file=str(certs.ca_file), allow_private_addresses=True),
        transport=transport,
    )
    try:
        results = await send(adapter, *(delivery(fake.channel()) for _ in range(5)))
    finally:
        await adapter.aclose()
        await transport.aclose()  # an injected transport belongs to the caller
    assert {r.outcome for r in results} == {Outcome.SENT}


async def test_http_channel_is_refused_without_a_request(
    provider: WnsProvider, fake: FakeWns
) -> None:
    channel = fake.channel().replace("https://", "http://")
    [result] = await send(provider, delivery(channel))
    assert (result.outcome, result.code) == (Outcome.DEAD_TOKEN, ResultCode.TOKEN_REJECTED)
    assert fake.token_requests == 0


async def test_slow_channel_ends_at_the_batch_deadline(
    provider: WnsProvider, fake: FakeWns
) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    fast, slow = delivery(fake.channel()), delivery(fake.channel("5105"))
    results = await send(provider, fast, slow, within_s=1.5)
    elapsed = loop.time() - start
    assert results[0].outcome is Outcome.SENT
    assert (results[1].outcome, results[1].reason) == (Outcome.RETRY, "timeout")
    assert 1.4 <= elapsed < 2.5


async def test_collapse_id_once_and_expiry_headers(provider: WnsProvider, fake: FakeWns) -> None:
    short = push(delivery_options=options(collapse_id="score", once=True))
    long = push(delivery_options=options(collapse_id="match-1234-live-score"))
    expired = push(delivery_options=options(ttl=timedelta(seconds=-1)))
    results = await send(
        provider,
        delivery(fake.channel(), short),
        delivery(fake.channel(), long),
        delivery(fake.channel(), expired),
    )
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.SENT, Outcome.REJECTED]
    first, second = (r.headers for r in fake.inbox.received)
    assert (first["x-wns-tag"], first["x-wns-cache-policy"]) == ("score", "no-cache")
    assert len(second["x-wns-tag"]) == 16
    assert "x-wns-cache-policy" not in second
    assert results[2].code is ResultCode.PROVIDER_FAILED


async def test_results_keep_the_batch_order(provider: WnsProvider, fake: FakeWns) -> None:
    channels = [fake.channel("dead"), fake.channel(), fake.channel("bad"), "http://x/y"]
    results = await send(provider, *(delivery(c) for c in channels))
    assert [r.outcome for r in results] == [
        Outcome.DEAD_TOKEN,
        Outcome.SENT,
        Outcome.DEAD_TOKEN,
        Outcome.DEAD_TOKEN,
    ]
    assert [r.code for r in results] == [
        ResultCode.REGISTRATION_EXPIRED,
        ResultCode.SENT,
        ResultCode.TOKEN_REJECTED,
        ResultCode.TOKEN_REJECTED,
    ]


async def test_a_channel_uri_on_a_private_address_is_refused_unsent(
    fake: FakeWns, certs: FakeCertificates
) -> None:
    # Without fake-provider mode the guard refuses the loopback fake's own channels.
    adapter = WnsProvider(credential(fake), ProviderOptions(ca_file=str(certs.ca_file)))
    try:
        [result] = await send(adapter, delivery(fake.channel()))
    finally:
        await adapter.aclose()
    assert (result.outcome, result.code, result.reason) == (
        Outcome.REJECTED,
        ResultCode.INVALID_DATA,
        "EndpointRefused",
    )
    assert fake.inbox.received == []
