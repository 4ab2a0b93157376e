"""The APNs adapter against the fake APNs over TLS + HTTP/2: headers, payloads, answers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from pushgate.domain.payload import Content, Priority
from pushgate.domain.platforms import Platform
from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.fakes.apns import FakeApns
from pushgate.fakes.inbox import Inbox
from pushgate.providers.apns import ApnsProvider
from pushgate.providers.apns_payload import apns_id
from pushgate.providers.base import ProviderOptions, Push
from tests.integration.providers.apns_setup import (
    TOPIC,
    Clock,
    alert_push,
    batch,
    hex_tokens,
    options,
    token_credential,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def provider(
    fake_apns: FakeApns,
    apns_key: ec.EllipticCurvePrivateKey,
    clock: Clock,
    provider_options: ProviderOptions,
) -> AsyncIterator[ApnsProvider]:
    credential = token_credential(apns_key, fake_apns.url, fake_apns.sandbox_url)
    adapter = ApnsProvider(credential, provider_options, clock=clock)
    yield adapter
    await adapter.aclose()


async def test_alert_arrives_with_every_header(
    provider: ApnsProvider, inbox: Inbox, clock: Clock
) -> None:
    push = alert_push(clock, "hello", collapse_id="news")
    sent = batch(hex_tokens(1), push)
    [result] = await provider.send(sent)
    [received] = inbox.received
    delivery_id = sent.deliveries[0].delivery_id
    assert result.outcome is Outcome.SENT
    assert result.provider_ref == apns_id(delivery_id) == received.message_id
    assert received.token == hex_tokens(1)[0]
    assert received.payload == {"aps": {"alert": "hello"}}
    assert received.headers["apns-topic"] == TOPIC
    assert received.headers["apns-push-type"] == "alert"
    assert received.headers["apns-priority"] == "10"
    assert received.headers["apns-expiration"] == str(int(clock.now + 3600))
    assert received.headers["apns-collapse-id"] == "news"
    assert uuid.UUID(received.headers["apns-id"]).version == 5


async def test_apns_id_is_the_same_on_every_attempt(
    provider: ApnsProvider, inbox: Inbox, clock: Clock
) -> None:
    sent = batch(hex_tokens(1, "500"), alert_push(clock))
    first = await provider.send(sent)
    second = await provider.send(sent)
    assert [first[0].outcome, second[0].outcome] == [Outcome.RETRY, Outcome.SENT]
    assert first[0].provider_ref == second[0].provider_ref == inbox.received[0].message_id


async def test_background_push_is_forced_to_priority_5(
    provider: ApnsProvider, inbox: Inbox, clock: Clock
) -> None:
    push = Push(
        Content(content_available=True, data={"k": "v"}), options(clock, priority=Priority.HIGH)
    )
    [result] = await provider.send(batch(hex_tokens(1), push))
    assert result.outcome is Outcome.SENT
    [received] = inbox.received
    assert received.headers["apns-push-type"] == "background"
    assert received.headers["apns-priority"] == "5"
    assert received.payload == {"aps": {"content-available": 1}, "k": "v"}


async def test_normal_priority_is_5_and_once_is_expiration_0(
    provider: ApnsProvider, inbox: Inbox, clock: Clock
) -> None:
    push = alert_push(clock, priority=Priority.NORMAL, once=True)
    await provider.send(batch(hex_tokens(1), push))
    headers = inbox.received[0].headers
    assert (headers["apns-priority"], headers["apns-expiration"]) == ("5", "0")


async def test_voip_uses_its_topic_suffix_and_5120_byte_limit(
    provider: ApnsProvider, inbox: Inbox, clock: Clock
) -> None:
    push = alert_push(clock, "x" * 4500)  # over 4096, under VoIP's 5120
    [voip] = await provider.send(batch(hex_tokens(1), push, platform=Platform.APNS_VOIP))
    [alert] = await provider.send(batch(hex_tokens(1), push))
    assert voip.outcome is Outcome.SENT
    assert (alert.outcome, alert.code) == (Outcome.REJECTED, ResultCode.TOO_LARGE)
    [received] = inbox.received
    assert received.headers["apns-topic"] == TOPIC + ".voip"
    assert received.headers["apns-push-type"] == "voip"


async def test_payload_over_the_limit_makes_no_request(
    provider: ApnsProvider, fake_apns: FakeApns, inbox: Inbox, clock: Clock
) -> None:
    results = await provider.send(batch(hex_tokens(3), alert_push(clock, "x" * 4100)))
    assert {(r.outcome, r.code, r.reason) for r in results} == {
        (Outcome.REJECTED, ResultCode.TOO_LARGE, "PayloadTooLarge")
    }
    assert not inbox.attempts
    assert fake_apns.opened_connections == 0


async def test_expired_ttl_is_never_sent(
    provider: ApnsProvider, fake_apns: FakeApns, inbox: Inbox, clock: Clock
) -> None:
    push = alert_push(clock, ttl=timedelta(minutes=5))
    clock.advance(301)
    [result] = await provider.send(batch(hex_tokens(1), push))
    assert (result.outcome, result.code, result.reason) == (
        Outcome.REJECTED,
        ResultCode.PROVIDER_FAILED,
        "expired",
    )
    assert not inbox.attempts
    assert fake_apns.opened_connections == 0


async def test_sandbox_registrations_go_to_the_sandbox_host(
    provider: ApnsProvider, fake_apns: FakeApns, clock: Clock
) -> None:
    push = alert_push(clock)
    await provider.send(batch(hex_tokens(2), push, sandbox=True))
    await provider.send(batch(hex_tokens(3), push))
    assert fake_apns.accepted_by_environment == {"sandbox": 2, "production": 3}


async def test_410_is_a_dead_token_with_the_timestamp(provider: ApnsProvider, clock: Clock) -> None:
    [result] = await provider.send(batch(hex_tokens(1, "dead"), alert_push(clock)))
    assert (result.outcome, result.code, result.reason) == (
        Outcome.DEAD_TOKEN,
        ResultCode.TOKEN_REJECTED,
        "Unregistered",
    )
    assert result.provider_timestamp == datetime.fromtimestamp(clock.now, UTC)


async def test_410_expired_token_is_registration_expired(
    provider: ApnsProvider, fake_apns: FakeApns, clock: Clock
) -> None:
    fake_apns.expired_tokens.add(hex_tokens(1)[0])
    [result] = await provider.send(batch(hex_tokens(1), alert_push(clock)))
    assert (result.outcome, result.code, result.reason) == (
        Outcome.DEAD_TOKEN,
        ResultCode.REGISTRATION_EXPIRED,
        "ExpiredToken",
    )
    assert result.provider_timestamp == datetime.fromtimestamp(clock.now, UTC)


async def test_bad_and_malformed_tokens_are_rejected_tokens(
    provider: ApnsProvider, clock: Clock
) -> None:
    results = await provider.send(batch([*hex_tokens(1, "bad"), "not-hex"], alert_push(clock)))
    assert [(r.outcome, r.code, r.reason) for r in results] == [
        (Outcome.DEAD_TOKEN, ResultCode.TOKEN_REJECTED, "BadDeviceToken")
    ] * 2


async def test_429_is_retried_after_its_delay_then_accepted(
    provider: ApnsProvider, inbox: Inbox, clock: Clock
) -> None:
    sent = batch(hex_tokens(1, "429"), alert_push(clock))
    [first] = await provider.send(sent)
    [second] = await provider.send(sent)
    assert (first.outcome, first.code, first.retry_after_s) == (
        Outcome.RETRY,
        ResultCode.TOO_MANY_FOR_DEVICE,
        1.0,
    )
    assert second.outcome is Outcome.SENT
    assert inbox.attempts[hex_tokens(1, "429")[0]] == 2


async def test_server_errors_are_retried_honouring_retry_after(
    provider: ApnsProvider, fake_apns: FakeApns, clock: Clock
) -> None:
    [once] = await provider.send(batch(hex_tokens(1, "500"), alert_push(clock)))
    fake_apns.plan.fail_status, fake_apns.plan.fail_retry_after = 503, "7"
    [outage] = await provider.send(batch(hex_tokens(1), alert_push(clock)))
    assert (once.outcome, once.code, once.reason) == (
        Outcome.RETRY,
        ResultCode.RECOVERABLE_IO,
        "InternalServerError",
    )
    assert (outage.outcome, outage.code, outage.reason, outage.retry_after_s) == (
        Outcome.RETRY,
        ResultCode.RECOVERABLE_IO,
        "ServiceUnavailable",
        7.0,
    )


async def test_topic_the_key_may_not_use_is_a_configuration_error(
    fake_apns: FakeApns,
    apns_key: ec.EllipticCurvePrivateKey,
    clock: Clock,
    provider_options: ProviderOptions,
) -> None:
    credential = token_credential(apns_key, fake_apns.url, topic="com.other.app")
    adapter = ApnsProvider(credential, provider_options, clock=clock)
    try:
        [result] = await adapter.send(batch(hex_tokens(1), alert_push(clock)))
    finally:
        await adapter.aclose()
    assert (result.outcome, result.code, result.reason) == (
        Outcome.AUTH,
        ResultCode.CONFIGURATION_EXPIRED,
        "TopicDisallowed",
    )


async def test_unknown_signing_key_is_a_configuration_error(
    fake_apns: FakeApns, clock: Clock, provider_options: ProviderOptions
) -> None:
    stranger = ec.generate_private_key(ec.SECP256R1())
    adapter = ApnsProvider(
        token_credential(stranger, fake_apns.url, key_id="UNKNOWN123"),
        provider_options,
        clock=clock,
    )
    try:
        [result] = await adapter.send(batch(hex_tokens(1), alert_push(clock)))
    finally:
        await adapter.aclose()
    assert (result.outcome, result.reason) == (Outcome.AUTH, "InvalidProviderToken")


async def test_a_push_is_rendered_once_for_many_tokens(
    provider: ApnsProvider, inbox: Inbox, clock: Clock
) -> None:
    push = Push(
        Content(title="T", body="B", badge=3, data={"id": "42"}, apns={"aps": {"sound": "ping"}}),
        options(clock),
    )
    results = await provider.send(batch(hex_tokens(200), push))
    assert {r.outcome for r in results} == {Outcome.SENT}
    payloads = {repr(r.payload) for r in inbox.received}
    assert payloads == {
        repr(
            {"aps": {"alert": {"title": "T", "body": "B"}, "badge": 3, "sound": "ping"}, "id": "42"}
        )
    }
    assert len({r.provider_ref for r in results}) == 200


async def test_a_base_url_path_is_kept_in_every_request(
    fake_apns: FakeApns,
    apns_key: ec.EllipticCurvePrivateKey,
    clock: Clock,
    provider_options: ProviderOptions,
) -> None:
    # A base URL with a path (a proxy's): the fake APNs knows no such path, so BadPath
    # proves the path went out ahead of /3/device/.
    adapter = ApnsProvider(
        token_credential(apns_key, f"{fake_apns.url}/relay/"), provider_options, clock=clock
    )
    try:
        [result] = await adapter.send(batch(hex_tokens(1), alert_push(clock)))
    finally:
        await adapter.aclose()
    assert (result.outcome, result.reason) == (Outcome.REJECTED, "BadPath")


async def test_only_the_apns_headers_go_out(
    provider: ApnsProvider, inbox: Inbox, clock: Clock
) -> None:
    # No User-Agent, Content-Type or Accept: APNs reads none, and each costs libcurl CPU.
    await provider.send(batch(hex_tokens(1), alert_push(clock)))
    assert set(inbox.received[0].headers) == {
        "apns-topic",
        "apns-push-type",
        "apns-priority",
        "apns-expiration",
        "apns-id",
        "content-length",
    }
