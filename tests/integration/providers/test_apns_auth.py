"""APNs authentication against the fake: token reuse and renewal, expiry, certificates."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.fakes.apns import FakeApns
from pushgate.fakes.inbox import Inbox
from pushgate.fakes.tls import FakeCertificates
from pushgate.providers.apns import ApnsProvider
from pushgate.providers.apns_auth import ProviderTokens, period_start_of
from pushgate.providers.base import ProviderOptions
from tests.integration.providers.apns_setup import (
    KEY_ID,
    TEAM_ID,
    TOPIC,
    Clock,
    alert_push,
    batch,
    certificate_credential,
    hex_tokens,
    token_credential,
)

pytestmark = pytest.mark.anyio
MINUTE = 60.0


class SkewedClock:
    """The fake's clock: the tests' clock plus an offset (a server clock ahead of ours)."""

    def __init__(self, base: Clock, offset_s: float) -> None:
        self.base = base
        self.offset_s = offset_s

    def __call__(self) -> float:
        return self.base() + self.offset_s


@pytest.fixture
def clock() -> Clock:
    """The start of a token period, so that the first token is dated now (apns_auth.py)."""
    started = Clock()
    started.now = float(period_start_of(started.now))
    return started


@pytest.fixture
async def adapter(
    fake_apns: FakeApns,
    apns_key: ec.EllipticCurvePrivateKey,
    clock: Clock,
    provider_options: ProviderOptions,
) -> AsyncIterator[ApnsProvider]:
    provider = ApnsProvider(
        token_credential(apns_key, fake_apns.url), provider_options, clock=clock
    )
    yield provider
    await provider.aclose()


async def send_one(adapter: ApnsProvider, clock: Clock, prefix: str = "") -> Outcome:
    [result] = await adapter.send(batch(hex_tokens(1, prefix), alert_push(clock)))
    return result.outcome


async def test_one_token_reused_for_45_minutes_then_renewed(
    adapter: ApnsProvider, clock: Clock, inbox: Inbox
) -> None:
    assert adapter.token is not None
    for _ in range(3):
        assert await send_one(adapter, clock) is Outcome.SENT
        clock.advance(14 * MINUTE)  # 0, 14, 28 minutes: the same token
    assert adapter.token.signed == 1
    clock.advance(17 * MINUTE)  # 59 minutes after signing: the fake still accepts it
    assert await send_one(adapter, clock) is Outcome.SENT
    assert adapter.token.signed == 2  # but 45 minutes had passed: renewed before sending
    assert len(inbox.received) == 4


async def test_token_the_fake_finds_expired_is_renewed_and_resent_once(
    adapter: ApnsProvider, fake_apns: FakeApns, clock: Clock, inbox: Inbox
) -> None:
    # The fake's clock runs 30 minutes ahead: our 35-minute-old token is 65 minutes old there.
    fake_apns.verifier.clock = SkewedClock(clock, 30 * MINUTE)
    assert await send_one(adapter, clock) is Outcome.SENT
    clock.advance(35 * MINUTE)
    results = await adapter.send(batch(hex_tokens(20), alert_push(clock)))
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert adapter.token is not None
    assert adapter.token.signed == 2
    assert len(inbox.received) == 21


async def test_no_second_token_within_20_minutes_even_when_refused(
    adapter: ApnsProvider, fake_apns: FakeApns, clock: Clock, inbox: Inbox
) -> None:
    # A server clock over an hour ahead refuses every token: a clock problem, reported as a
    # configuration error rather than answered with a burst of new tokens.
    fake_apns.verifier.clock = SkewedClock(clock, 61 * MINUTE)
    for _ in range(5):
        [result] = await adapter.send(batch(hex_tokens(1), alert_push(clock)))
        assert (result.outcome, result.code, result.reason) == (
            Outcome.AUTH,
            ResultCode.CONFIGURATION_EXPIRED,
            "ExpiredProviderToken",
        )
        clock.advance(3 * MINUTE)
    assert adapter.token is not None
    assert adapter.token.signed == 1
    assert not inbox.received


async def test_adapters_of_one_key_share_one_token(
    fake_apns: FakeApns,
    apns_key: ec.EllipticCurvePrivateKey,
    clock: Clock,
    provider_options: ProviderOptions,
) -> None:
    tokens = ProviderTokens(clock)
    credential = token_credential(apns_key, fake_apns.url)
    first = ApnsProvider(credential, provider_options, clock=clock, tokens=tokens)
    second = ApnsProvider(credential, provider_options, clock=clock, tokens=tokens)
    try:
        assert await send_one(first, clock) is Outcome.SENT
        assert await send_one(second, clock) is Outcome.SENT
    finally:
        await first.aclose()
        await second.aclose()
    assert first.token is second.token
    assert first.token is not None
    assert first.token.signed == 1


async def test_processes_of_one_key_are_one_token_to_apns_across_renewals(
    fake_apns: FakeApns,
    apns_key: ec.EllipticCurvePrivateKey,
    clock: Clock,
    provider_options: ProviderOptions,
) -> None:
    # Five "processes" (each its own ProviderTokens, as serve and each worker have) sending for
    # one key for three hours: APNs sees one token per 45-minute period and never refuses one.
    credential = token_credential(apns_key, fake_apns.url)
    processes = [
        ApnsProvider(credential, provider_options, clock=clock, tokens=ProviderTokens(clock))
        for _ in range(5)
    ]
    outcomes: list[Outcome] = []
    try:
        for minute in range(0, 180, 7):
            for index, process in enumerate(processes):
                outcomes.append(await send_one(process, clock, prefix=f"{minute:03d}{index}"))
            clock.advance(7 * MINUTE)
    finally:
        for process in processes:
            await process.aclose()
    assert set(outcomes) == {Outcome.SENT}
    assert fake_apns.verifier.tokens_seen == 4  # periods starting at 0, 45, 90, 135 minutes


async def test_our_token_verifies_with_pyjwt(
    adapter: ApnsProvider, apns_key: ec.EllipticCurvePrivateKey, clock: Clock
) -> None:
    assert adapter.token is not None
    line = adapter.token.header()
    assert line.startswith("authorization: bearer ")
    token = line.removeprefix("authorization: bearer ")
    claims = jwt.decode(token, apns_key.public_key(), algorithms=["ES256"])
    assert claims == {"iss": TEAM_ID, "iat": int(clock.now)}
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": KEY_ID}  # as Apple shows it


async def test_certificate_auth_needs_no_token(
    fake_apns: FakeApns,
    certs: FakeCertificates,
    clock: Clock,
    provider_options: ProviderOptions,
    inbox: Inbox,
) -> None:
    certificate, private_key = certs.issue_client_certificate(TOPIC)
    credential = certificate_credential(certificate, private_key, fake_apns.url)
    provider = ApnsProvider(credential, provider_options, clock=clock)
    try:
        assert provider.token is None
        assert await send_one(provider, clock) is Outcome.SENT
    finally:
        await provider.aclose()
    [received] = inbox.received
    assert "authorization" not in received.headers
    assert fake_apns.certificate_names == [TOPIC]


async def test_certificate_with_an_encrypted_key(
    fake_apns: FakeApns,
    certs: FakeCertificates,
    clock: Clock,
    provider_options: ProviderOptions,
    inbox: Inbox,
) -> None:
    certificate, private_key = certs.issue_client_certificate(TOPIC)
    key = serialization.load_pem_private_key(private_key, None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"s3cret-pass"),
    )
    credential = certificate_credential(certificate, encrypted, fake_apns.url)
    secret = {**credential.secret, "private_key_password": "s3cret-pass"}
    provider = ApnsProvider(replace(credential, secret=secret), provider_options, clock=clock)
    try:
        assert await send_one(provider, clock) is Outcome.SENT
    finally:
        await provider.aclose()
    assert fake_apns.certificate_names == [TOPIC]


async def test_certificate_for_another_topic_is_a_configuration_error(
    fake_apns: FakeApns, certs: FakeCertificates, clock: Clock, provider_options: ProviderOptions
) -> None:
    certificate, private_key = certs.issue_client_certificate("com.unrelated.app")
    credential = certificate_credential(certificate, private_key, fake_apns.url)
    provider = ApnsProvider(credential, provider_options, clock=clock)
    try:
        [result] = await provider.send(batch(hex_tokens(1), alert_push(clock)))
    finally:
        await provider.aclose()
    assert (result.outcome, result.code, result.reason) == (
        Outcome.AUTH,
        ResultCode.CONFIGURATION_EXPIRED,
        "TopicDisallowed",
    )
