"""The WNS adapter's access token against FakeWns: caching, single flight, refresh, refusals."""

# The fixtures come from test_wns.py (imported below, which registers them here); test
# parameters of the same names are those fixtures, not redefinitions.
# ruff: noqa: F811

from __future__ import annotations

import logging
import secrets

import pytest

from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.fakes.behaviour import ServerPlan
from pushgate.fakes.inbox import Inbox
from pushgate.fakes.tls import FakeCertificates
from pushgate.fakes.wns import FakeWns
from pushgate.providers.base import ProviderCredential, ProviderOptions
from pushgate.providers.wns import WnsProvider
from tests.integration.providers.test_wns import (  # noqa: F401 - fixtures
    CLIENT_ID,
    SECRET,
    clock,
    credential,
    delivery,
    fake,
    provider,
)
from tests.integration.providers.wns_sms_support import ManualClock, send

pytestmark = pytest.mark.anyio


async def test_401_every_time_refreshes_once_then_is_auth(
    provider: WnsProvider, fake: FakeWns, plan: ServerPlan
) -> None:
    plan.fail_status = 401
    channel = fake.channel()
    [result] = await send(provider, delivery(channel))
    assert (result.outcome, result.code) == (Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED)
    assert fake.token_requests == 2
    assert fake.inbox.attempts[channel.rsplit("/", 1)[1]] == 2


async def test_token_is_cached_across_batches(provider: WnsProvider, fake: FakeWns) -> None:
    for _ in range(3):
        [result] = await send(provider, delivery(fake.channel()))
        assert result.outcome is Outcome.SENT
    assert fake.token_requests == 1


async def test_token_is_fetched_once_for_a_concurrent_batch(
    provider: WnsProvider, fake: FakeWns
) -> None:
    results = await send(provider, *(delivery(fake.channel()) for _ in range(12)))
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert fake.token_requests == 1
    assert len(fake.inbox.received) == 12


async def test_token_is_refreshed_shortly_before_expiry(
    provider: WnsProvider, fake: FakeWns, clock: ManualClock
) -> None:
    await send(provider, delivery(fake.channel()))
    clock.advance(86400 - 400)  # more than 5 minutes left: still cached
    await send(provider, delivery(fake.channel()))
    assert fake.token_requests == 1
    clock.advance(200)  # less than 5 minutes left
    [result] = await send(provider, delivery(fake.channel()))
    assert result.outcome is Outcome.SENT
    assert fake.token_requests == 2


async def test_revoked_token_is_refreshed_and_resent_once(
    provider: WnsProvider, fake: FakeWns
) -> None:
    await send(provider, delivery(fake.channel()))
    fake.revoke_tokens()
    results = await send(provider, *(delivery(fake.channel()) for _ in range(5)))
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert fake.token_requests == 2  # the five 401s share one refresh
    assert len(fake.inbox.received) == 6


async def test_wrong_client_secret_is_auth_without_the_secret(
    fake: FakeWns, certs: FakeCertificates
) -> None:
    wrong = "not-the-secret-" + secrets.token_hex(8)
    adapter = WnsProvider(
        credential(fake, wrong),
        ProviderOptions(ca_file=str(certs.ca_file), allow_private_addresses=True),
    )
    try:
        results = await send(adapter, delivery(fake.channel()), delivery(fake.channel()))
    finally:
        await adapter.aclose()
    assert [(r.outcome, r.code) for r in results] == [
        (Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED)
    ] * 2
    assert "invalid_client" in (results[0].reason or "")
    assert wrong not in repr(results)
    assert SECRET not in repr(results)
    assert fake.token_requests == 1


async def test_secret_rotated_at_wns_is_auth_after_the_401(
    provider: WnsProvider, fake: FakeWns
) -> None:
    await send(provider, delivery(fake.channel()))
    fake.register_client(CLIENT_ID, "rotated-" + secrets.token_hex(4))
    fake.revoke_tokens()
    [result] = await send(provider, delivery(fake.channel()))
    assert (result.outcome, result.code) == (Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED)
    assert fake.token_requests == 2


async def test_token_endpoint_outage_is_an_unsent_retry(
    provider: WnsProvider, fake: FakeWns
) -> None:
    fake.token_fail_status = 503
    results = await send(provider, delivery(fake.channel()), delivery(fake.channel()))
    assert {(r.outcome, r.unsent) for r in results} == {(Outcome.RETRY, True)}
    assert not fake.inbox.attempts
    fake.token_fail_status = None
    [result] = await send(provider, delivery(fake.channel()))
    assert result.outcome is Outcome.SENT


async def test_deployment_endpoint_names_the_token_service(
    fake: FakeWns, certs: FakeCertificates
) -> None:
    bare = ProviderCredential(
        1, "wns", {"client_id": CLIENT_ID}, {"client_secret": SECRET}, None, "1"
    )
    options = ProviderOptions(
        ca_file=str(certs.ca_file), endpoints={"wns": fake.token_url}, allow_private_addresses=True
    )
    adapter = WnsProvider(bare, options)
    try:
        [result] = await send(adapter, delivery(fake.channel()))
    finally:
        await adapter.aclose()
    assert result.outcome is Outcome.SENT
    assert fake.token_requests == 1


async def test_no_secret_or_token_reaches_the_logs(
    provider: WnsProvider, fake: FakeWns, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.revoke_tokens()
    [result] = await send(provider, delivery(fake.channel()))
    assert result.outcome is Outcome.SENT
    issued = list(fake.issued_tokens())
    assert issued
    for secret in (SECRET, *issued):
        assert secret not in caplog.text
        assert secret not in repr(result)


async def test_unreachable_token_endpoint_is_unsent_retry(
    certs: FakeCertificates, fake: FakeWns
) -> None:
    async with FakeWns(certs, Inbox()) as closed_soon:
        dead_url = closed_soon.url
    gone = ProviderCredential(
        1, "wns", {"client_id": CLIENT_ID}, {"client_secret": SECRET}, dead_url, "1"
    )
    adapter = WnsProvider(
        gone, ProviderOptions(ca_file=str(certs.ca_file), allow_private_addresses=True)
    )
    try:
        [result] = await send(adapter, delivery(fake.channel()))
    finally:
        await adapter.aclose()
    assert (result.outcome, result.unsent) == (Outcome.RETRY, True)
