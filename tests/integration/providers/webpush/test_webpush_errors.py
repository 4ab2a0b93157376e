"""Web Push adapter against the fake: every error row, refusals before sending, deadlines,
the SSRF guard at send time, transport failures and closing while in flight."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from email.utils import format_datetime

import pytest

from pushgate.domain.payload import Content
from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.fakes.behaviour import TokenBehaviour
from pushgate.fakes.inbox import Inbox
from pushgate.fakes.tls import FakeCertificates
from pushgate.fakes.webpush import FakeWebPush
from pushgate.providers.base import Batch, ProviderCredential, SendResult
from pushgate.providers.http_httpx import HttpxTransport
from pushgate.providers.webpush import WebPushProvider
from tests.integration.providers.webpush_helpers import (
    UnixClock,
    credential,
    delivery,
    options,
    provider,
    push,
    send,
)

pytestmark = pytest.mark.anyio


def _row(result: SendResult) -> tuple[Outcome, ResultCode, str | None]:
    return result.outcome, result.code, result.reason


@pytest.mark.parametrize(
    ("behaviour", "row"),
    [
        (TokenBehaviour.DEAD, (Outcome.DEAD_TOKEN, ResultCode.TOKEN_REJECTED, "Gone")),
        (TokenBehaviour.BAD, (Outcome.DEAD_TOKEN, ResultCode.TOKEN_REJECTED, "NotFound")),
    ],
)
async def test_dead_and_unknown_subscriptions_are_dead_tokens(
    fake: FakeWebPush,
    adapter: WebPushProvider,
    clock: UnixClock,
    behaviour: TokenBehaviour,
    row: tuple[Outcome, ResultCode, str],
) -> None:
    [result] = await send(adapter, [delivery(fake.subscribe(behaviour=behaviour), push(clock))])
    assert _row(result) == row


async def test_an_unsubscribed_browser_is_a_dead_token(
    fake: FakeWebPush, adapter: WebPushProvider, clock: UnixClock
) -> None:
    subscription = fake.subscribe()
    fake.unsubscribe(subscription)
    [result] = await send(adapter, [delivery(subscription, push(clock))])
    assert (result.outcome, result.code) == (Outcome.DEAD_TOKEN, ResultCode.TOKEN_REJECTED)


async def test_429_once_is_a_quota_retry_with_retry_after_then_accepted(
    fake: FakeWebPush, adapter: WebPushProvider, clock: UnixClock
) -> None:
    subscription = fake.subscribe(behaviour=TokenBehaviour.RATE_LIMITED_ONCE)
    [first] = await send(adapter, [delivery(subscription, push(clock))])
    assert (first.outcome, first.code, first.retry_after_s) == (
        Outcome.RETRY,
        ResultCode.QUOTA_EXCEEDED,
        1.0,
    )
    [second] = await send(adapter, [delivery(subscription, push(clock))])
    assert second.outcome is Outcome.SENT


async def test_500_once_is_retried_then_accepted(
    fake: FakeWebPush, adapter: WebPushProvider, clock: UnixClock
) -> None:
    subscription = fake.subscribe(behaviour=TokenBehaviour.SERVER_ERROR_ONCE)
    [first] = await send(adapter, [delivery(subscription, push(clock))])
    assert (first.outcome, first.code) == (Outcome.RETRY, ResultCode.RECOVERABLE_IO)
    [second] = await send(adapter, [delivery(subscription, push(clock))])
    assert second.outcome is Outcome.SENT


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [
        (406, "30", (Outcome.RETRY, ResultCode.TOO_MANY_FOR_DEVICE, 30.0)),
        (503, None, (Outcome.RETRY, ResultCode.RECOVERABLE_IO, None)),
        (502, "7", (Outcome.RETRY, ResultCode.RECOVERABLE_IO, 7.0)),
        (400, None, (Outcome.REJECTED, ResultCode.INVALID_DATA, None)),
        (401, None, (Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED, None)),
        (413, None, (Outcome.REJECTED, ResultCode.TOO_LARGE, None)),
    ],
)
async def test_scripted_server_answers(
    fake: FakeWebPush,
    adapter: WebPushProvider,
    clock: UnixClock,
    status: int,
    retry_after: str | None,
    expected: tuple[Outcome, ResultCode, float | None],
) -> None:
    fake.plan.fail_status, fake.plan.fail_retry_after = status, retry_after
    [result] = await send(adapter, [delivery(fake.subscribe(), push(clock))])
    assert (result.outcome, result.code, result.retry_after_s) == expected


async def test_503_retry_after_as_an_http_date_counts_from_the_clock(
    fake: FakeWebPush, adapter: WebPushProvider, clock: UnixClock
) -> None:
    clock.now = float(int(clock.now))  # HTTP-dates have whole seconds
    later = clock.datetime() + timedelta(seconds=120)
    fake.plan.fail_status, fake.plan.fail_retry_after = 503, format_datetime(later, usegmt=True)
    [result] = await send(adapter, [delivery(fake.subscribe(), push(clock))])
    assert (result.outcome, result.retry_after_s) == (Outcome.RETRY, 120.0)


async def test_another_applications_key_is_403_auth(
    fake: FakeWebPush, adapter: WebPushProvider, clock: UnixClock
) -> None:
    foreign = str(credential().settings["public_key"])
    [result] = await send(adapter, [delivery(fake.subscribe(foreign), push(clock))])
    assert _row(result) == (Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED, "VapidKeyMismatch")


async def test_a_jwt_expired_by_the_services_clock_is_401_auth(
    fake: FakeWebPush, cred: ProviderCredential, certs: FakeCertificates, clock: UnixClock
) -> None:
    behind = UnixClock(clock.now - 13 * 3600)  # our clock 13 h slow: exp already passed there
    late = provider(cred, options(certs), behind)
    try:
        [result] = await send(late, [delivery(fake.subscribe(), push(clock))])
    finally:
        await late.aclose()
    assert _row(result) == (Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED, "ExpiredJwtToken")


async def test_refusals_before_sending_reach_nothing(
    fake: FakeWebPush, adapter: WebPushProvider, inbox: Inbox, clock: UnixClock
) -> None:
    big, expired, broken, fine = (fake.subscribe() for _ in range(4))
    deliveries = [
        delivery(big, push(clock, Content(body="x" * 4000))),
        delivery(expired, push(clock, ttl=timedelta(seconds=-1))),
        delivery(broken, push(clock), n=1),
        delivery(fine, push(clock)),
    ]
    bad_keys = replace(deliveries[2].recipient, p256dh="AAAA", auth_secret="AAAA")
    deliveries[2] = replace(deliveries[2], recipient=bad_keys)
    results = await send(adapter, deliveries)
    assert [_row(r) for r in results] == [
        (Outcome.REJECTED, ResultCode.TOO_LARGE, "PayloadTooLarge"),
        (Outcome.REJECTED, ResultCode.PROVIDER_FAILED, "Expired"),
        (Outcome.DEAD_TOKEN, ResultCode.TOKEN_REJECTED, "InvalidSubscriptionKeys"),
        (Outcome.SENT, ResultCode.SENT, None),
    ]
    assert [inbox.attempts[s.endpoint] for s in (big, expired, broken, fine)] == [0, 0, 0, 1]


async def test_every_answer_is_in_by_the_deadline_with_a_slow_subscription(
    fake: FakeWebPush, adapter: WebPushProvider, clock: UnixClock
) -> None:
    loop = asyncio.get_running_loop()
    slow, quick = fake.subscribe(behaviour=TokenBehaviour.SLOW), fake.subscribe()
    deadline = loop.time() + 2.0  # the fake would answer the slow one after 5 s
    batch = Batch(1, [delivery(slow, push(clock)), delivery(quick, push(clock))], deadline)
    first, second = await adapter.send(batch)
    overshoot = loop.time() - deadline
    assert 0 <= overshoot < 0.5
    assert (first.outcome, first.reason, first.unsent) == (Outcome.RETRY, "timeout", False)
    assert second.outcome is Outcome.SENT


async def test_a_deadline_already_passed_sends_nothing(
    fake: FakeWebPush, adapter: WebPushProvider, inbox: Inbox, clock: UnixClock
) -> None:
    subscription = fake.subscribe()
    past = asyncio.get_running_loop().time() - 1
    [result] = await adapter.send(Batch(1, [delivery(subscription, push(clock))], past))
    assert (result.outcome, result.unsent) == (Outcome.RETRY, True)
    assert inbox.attempts[subscription.endpoint] == 0


async def test_in_flight_requests_are_bounded(
    fake: FakeWebPush, cred: ProviderCredential, certs: FakeCertificates, clock: UnixClock
) -> None:
    fake.plan.delay_s = 0.05  # every answer takes a while, so requests pile up if unbounded
    bounded = provider(cred, options(certs), clock, max_in_flight=3)
    try:
        the_push = push(clock)
        results = await send(bounded, [delivery(fake.subscribe(), the_push) for _ in range(12)])
    finally:
        await bounded.aclose()
    assert [r.outcome for r in results] == [Outcome.SENT] * 12
    assert 1 < fake.peak_in_flight <= 3


async def test_the_ssrf_guard_refuses_a_private_endpoint_at_send_time(
    fake: FakeWebPush,
    cred: ProviderCredential,
    certs: FakeCertificates,
    inbox: Inbox,
    clock: UnixClock,
) -> None:
    strict = provider(cred, options(certs, allow_private=False), clock)
    listed = provider(
        cred, options(certs, allow_private=False), clock, allow_hosts=frozenset({"127.0.0.1"})
    )
    refused, admitted = fake.subscribe(), fake.subscribe()
    try:
        [no] = await send(strict, [delivery(refused, push(clock))])
        [yes] = await send(listed, [delivery(admitted, push(clock))])
    finally:
        await strict.aclose()
        await listed.aclose()
    assert _row(no) == (Outcome.REJECTED, ResultCode.INVALID_DATA, "EndpointRefused")
    assert inbox.attempts[refused.endpoint] == 0
    assert yes.outcome is Outcome.SENT


async def test_a_name_resolving_to_loopback_is_refused_at_send_time(
    fake: FakeWebPush,
    cred: ProviderCredential,
    certs: FakeCertificates,
    inbox: Inbox,
    clock: UnixClock,
) -> None:
    strict = provider(cred, options(certs, allow_private=False), clock)
    subscription = fake.subscribe()
    by_name = subscription.endpoint.replace("127.0.0.1", "localhost")
    try:
        [result] = await send(strict, [delivery(subscription, push(clock), endpoint=by_name)])
    finally:
        await strict.aclose()
    assert result.reason == "EndpointRefused"
    assert inbox.attempts[subscription.endpoint] == 0


async def test_http_endpoints_are_refused_even_in_fake_mode(
    fake: FakeWebPush, adapter: WebPushProvider, clock: UnixClock
) -> None:
    subscription = fake.subscribe()
    plain = subscription.endpoint.replace("https://", "http://")
    [result] = await send(adapter, [delivery(subscription, push(clock), endpoint=plain)])
    assert _row(result) == (Outcome.REJECTED, ResultCode.INVALID_DATA, "EndpointRefused")


async def test_a_refused_connection_is_an_unsent_retry(
    fake: FakeWebPush, adapter: WebPushProvider, clock: UnixClock
) -> None:
    with socket.socket() as probe:  # a port nothing listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subscription = fake.subscribe()
    dead_port = subscription.endpoint.replace(str(fake.port), str(port))
    [result] = await send(adapter, [delivery(subscription, push(clock), endpoint=dead_port)])
    assert (result.outcome, result.code, result.unsent) == (
        Outcome.RETRY,
        ResultCode.RECOVERABLE_IO,
        True,
    )
    assert result.reason == "ConnectFailed"


async def test_closing_while_in_flight_ends_the_send_as_retry(
    fake: FakeWebPush, cred: ProviderCredential, certs: FakeCertificates, clock: UnixClock
) -> None:
    closing = provider(cred, options(certs), clock)
    slow = fake.subscribe(behaviour=TokenBehaviour.SLOW)
    sending = asyncio.create_task(send(closing, [delivery(slow, push(clock))]))
    await fake.wait_for_attempts(slow)
    await closing.aclose()
    [result] = await sending
    assert (result.outcome, result.reason, result.unsent) == (Outcome.RETRY, "closed", False)
    [after] = await send(closing, [delivery(fake.subscribe(), push(clock))])
    assert (after.outcome, after.unsent) == (Outcome.RETRY, True)


async def test_dns_at_send_time_refuses_private_answers_and_retries_failures(
    fake: FakeWebPush,
    cred: ProviderCredential,
    certs: FakeCertificates,
    inbox: Inbox,
    clock: UnixClock,
) -> None:
    stalled = asyncio.Event()  # never set: a resolver that does not answer before the deadline

    async def resolve(host: str, port: int) -> Sequence[str]:
        if host == "rebound.example":
            return ["8.8.8.8", "10.0.0.7"]
        if host == "stalled.example":
            await stalled.wait()
        raise OSError("Name or service not known")

    strict = WebPushProvider(
        cred,
        options(certs, allow_private=False),
        transport=HttpxTransport(ca_file=str(certs.ca_file)),
        clock=clock,
        resolver=resolve,
    )
    subscription = fake.subscribe()
    hosts = ("rebound.example", "gone.example", "stalled.example")
    deliveries = [
        delivery(subscription, push(clock), endpoint=f"https://{host}/wp/{subscription.id}", n=i)
        for i, host in enumerate(hosts)
    ]
    deadline = asyncio.get_running_loop().time() + 0.5
    try:
        results = await strict.send(Batch(1, deliveries, deadline))
    finally:
        await strict.aclose()
    assert [(r.outcome, r.reason, r.unsent) for r in results] == [
        (Outcome.REJECTED, "EndpointRefused", False),
        (Outcome.RETRY, "DnsFailed", True),
        (Outcome.RETRY, "DnsTimeout", True),
    ]
    assert inbox.attempts[subscription.endpoint] == 0
