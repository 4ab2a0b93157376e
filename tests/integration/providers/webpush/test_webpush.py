"""Web Push adapter against the fake push service over TLS: delivery, headers and VAPID.

The fake decrypts every payload with the subscription's private key and verifies every
VAPID signature, so a SENT here means the encryption and the JWT were right.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from pushgate.domain.payload import Content, Priority
from pushgate.domain.platforms import Platform
from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.fakes.inbox import Inbox
from pushgate.fakes.tls import FakeCertificates
from pushgate.fakes.webpush import FakeWebPush
from pushgate.providers.base import Batch, ProviderCredential
from pushgate.providers.registry import ProviderRegistry
from pushgate.providers.vapid import RENEW_MARGIN_S, TOKEN_LIFETIME_S
from pushgate.providers.webpush import WebPushProvider, webpush_kind
from pushgate.providers.webpush_payload import MAX_PLAINTEXT, render_object, render_plaintext
from tests.integration.providers.webpush_helpers import (
    UnixClock,
    delivery,
    options,
    push,
    send,
)

pytestmark = pytest.mark.anyio


async def test_plaintext_the_browser_decrypts_is_what_was_rendered(
    fake: FakeWebPush, adapter: WebPushProvider, inbox: Inbox, clock: UnixClock
) -> None:
    content = Content(
        title="Grüße",
        body="Your order shipped",
        badge=2,
        data={"order": "42"},
        webpush={"icon": "/icon.png", "data": {"url": "/orders/42"}},
    )
    subscription = fake.subscribe()
    [result] = await send(adapter, [delivery(subscription, push(clock, content))])
    assert (result.outcome, result.code) == (Outcome.SENT, ResultCode.SENT)
    assert fake.plaintexts(subscription) == [render_plaintext(content)]
    [received] = inbox.received
    assert received.provider == "webpush"
    assert received.token == subscription.endpoint
    assert received.payload == render_object(content)
    assert result.provider_ref == f"{fake.origin}/m/{received.message_id}"
    assert received.headers["content-encoding"] == "aes128gcm"


async def test_a_batch_answers_in_order_with_one_encryption_each(
    fake: FakeWebPush, adapter: WebPushProvider, clock: UnixClock
) -> None:
    the_push = push(clock)
    subscriptions = [fake.subscribe() for _ in range(20)]
    results = await send(adapter, [delivery(s, the_push, n=i) for i, s in enumerate(subscriptions)])
    assert [r.outcome for r in results] == [Outcome.SENT] * 20
    refs = [r.provider_ref for r in results]
    assert len(set(refs)) == 20
    for subscription in subscriptions:
        assert fake.plaintexts(subscription) == [render_plaintext(the_push.content)]


async def test_a_restricted_subscription_accepts_this_credentials_key(
    fake: FakeWebPush, adapter: WebPushProvider, cred: ProviderCredential, clock: UnixClock
) -> None:
    subscription = fake.subscribe(application_server_key=str(cred.settings["public_key"]))
    [result] = await send(adapter, [delivery(subscription, push(clock))])
    assert result.outcome is Outcome.SENT


@pytest.mark.parametrize(
    ("priority", "urgency"),
    [(Priority.HIGH, "high"), (Priority.NORMAL, "normal"), (None, "normal")],
)
async def test_ttl_and_urgency_headers(
    fake: FakeWebPush,
    adapter: WebPushProvider,
    inbox: Inbox,
    clock: UnixClock,
    priority: Priority | None,
    urgency: str,
) -> None:
    the_push = push(clock, ttl=timedelta(seconds=3600), priority=priority)
    await send(adapter, [delivery(fake.subscribe(), the_push)])
    [received] = inbox.received
    assert received.headers["ttl"] == "3600"
    assert received.headers["urgency"] == urgency


async def test_once_is_sent_with_ttl_zero(
    fake: FakeWebPush, adapter: WebPushProvider, inbox: Inbox, clock: UnixClock
) -> None:
    await send(adapter, [delivery(fake.subscribe(), push(clock, once=True))])
    assert inbox.received[0].headers["ttl"] == "0"


@pytest.mark.parametrize(
    ("collapse_id", "topic"), [("order-42", "order-42"), ("x" * 33, None), ("a b", None)]
)
async def test_topic_is_sent_only_when_it_fits(
    fake: FakeWebPush,
    adapter: WebPushProvider,
    inbox: Inbox,
    clock: UnixClock,
    collapse_id: str,
    topic: str | None,
) -> None:
    [result] = await send(
        adapter, [delivery(fake.subscribe(), push(clock, collapse_id=collapse_id))]
    )
    assert result.outcome is Outcome.SENT  # a too-long id is dropped, not refused
    assert inbox.received[0].headers.get("topic") == topic


async def test_largest_payload_is_accepted_and_one_byte_more_is_never_sent(
    fake: FakeWebPush, adapter: WebPushProvider, inbox: Inbox, clock: UnixClock
) -> None:
    overhead = len(render_plaintext(Content(body="")))
    fits = push(clock, Content(body="x" * (MAX_PLAINTEXT - overhead)))
    too_big = push(clock, Content(body="x" * (MAX_PLAINTEXT - overhead + 1)))
    small, big = fake.subscribe(), fake.subscribe()
    first, second = await send(adapter, [delivery(small, fits), delivery(big, too_big)])
    assert first.outcome is Outcome.SENT
    assert len(fake.plaintexts(small)[0]) == MAX_PLAINTEXT
    assert (second.outcome, second.code) == (Outcome.REJECTED, ResultCode.TOO_LARGE)
    assert inbox.attempts[big.endpoint] == 0


def _jwt_of(inbox: Inbox, endpoint: str) -> list[str]:
    return [r.headers["authorization"] for r in inbox.received if r.token == endpoint]


async def test_vapid_token_reused_per_origin_and_renewed_before_expiry(
    certs: FakeCertificates, inbox: Inbox, clock: UnixClock, adapter: WebPushProvider
) -> None:
    async with (
        FakeWebPush(certs, inbox, clock=clock) as first,
        FakeWebPush(certs, inbox, clock=clock) as second,
    ):
        a, b = first.subscribe(), second.subscribe()
        for _ in range(2):
            results = await send(adapter, [delivery(a, push(clock)), delivery(b, push(clock))])
            assert [r.outcome for r in results] == [Outcome.SENT] * 2
        a_tokens, b_tokens = _jwt_of(inbox, a.endpoint), _jwt_of(inbox, b.endpoint)
        assert a_tokens[0] == a_tokens[1]  # reused for the same origin
        assert b_tokens[0] == b_tokens[1]
        assert a_tokens[0] != b_tokens[0]  # aud differs per origin
        clock.now += TOKEN_LIFETIME_S - RENEW_MARGIN_S - 60
        await send(adapter, [delivery(a, push(clock))])
        assert _jwt_of(inbox, a.endpoint)[2] == a_tokens[0]  # still well before expiry
        clock.now += 120  # inside the renewal margin: a fresh token, accepted by the fake
        [renewed] = await send(adapter, [delivery(a, push(clock))])
        assert renewed.outcome is Outcome.SENT
        assert _jwt_of(inbox, a.endpoint)[3] != a_tokens[0]


async def test_the_registry_kind_renders_and_builds_a_working_provider(
    fake: FakeWebPush, certs: FakeCertificates, cred: ProviderCredential, clock: UnixClock
) -> None:
    kind = webpush_kind(clock=clock)
    registry = ProviderRegistry({"webpush": kind}, options(certs))
    the_push = push(clock, Content(body="x" * 4000))
    assert registry.oversized(the_push, Platform.WEBPUSH)
    assert json.loads(kind.render(push(clock), Platform.WEBPUSH)) == {
        "title": "Hello",
        "body": "World",
    }
    assert kind.needs_credential
    with pytest.raises(ValueError, match="VAPID credential"):
        kind.build(None, registry.options)
    built = kind.build(cred, registry.options)
    try:
        deadline = asyncio.get_running_loop().time() + 20
        # Built by the kind: CurlTransport over HTTP/2, the CA from ProviderOptions.
        [result] = await built.send(Batch(1, [delivery(fake.subscribe(), push(clock))], deadline))
        assert result.outcome is Outcome.SENT
        assert fake.http_versions == {"2": 1}
    finally:
        await built.aclose()
