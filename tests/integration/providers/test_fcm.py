"""FcmProvider against the fake FCM over TLS and HTTP/2: every success and error path."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from pushgate.domain.payload import Content, DeliveryOptions, Priority
from pushgate.domain.platforms import Platform
from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.fakes.behaviour import ServerPlan
from pushgate.providers.base import Batch, Delivery, Push, Recipient, SendResult
from pushgate.providers.fcm_message import MAX_MESSAGE_BYTES, render, ttl_seconds
from tests.integration.providers.fcm_support import PROJECT, FcmWorld, make_batch, make_push

pytestmark = pytest.mark.anyio


async def send(world: FcmWorld, tokens: list[str], push: Push | None = None) -> list[SendResult]:
    provider = world.provider()
    try:
        return await provider.send(make_batch(tokens, push))
    finally:
        await provider.aclose()


async def test_sends_each_token_over_http2_and_returns_fcm_names(fcm_world: FcmWorld) -> None:
    content = Content(title="Hi", body="there", badge=3, sound="ping", data={"k": "v"})
    push = Push(content, make_push(collapse_id="news").options)
    results = await send(fcm_world, ["tok-a", "tok-b", "tok-c"], push)
    assert [r.outcome for r in results] == [Outcome.SENT] * 3
    received = fcm_world.inbox.received
    assert [r.token for r in received] == ["tok-a", "tok-b", "tok-c"]
    assert [r.provider_ref for r in results] == [r.message_id for r in received]
    assert all(
        r.provider_ref and r.provider_ref.startswith(f"projects/{PROJECT}/") for r in results
    )
    message = received[0].payload
    assert message["notification"] == {"title": "Hi", "body": "there"}
    assert message["data"] == {"k": "v"}
    assert message["android"]["collapse_key"] == "news"
    assert message["apns"]["payload"]["aps"] == {"badge": 3, "sound": "ping"}
    assert "authorization" not in received[0].headers  # the fake keeps no secrets
    assert fcm_world.fake.http_versions["2"] == 3
    assert fcm_world.fake.token_requests == 1


# token or plan -> (outcome, code, reason prefix, retry_after_s): one row per FCM answer.
ERROR_PATHS = [
    ("dead-1", None, Outcome.DEAD_TOKEN, ResultCode.TOKEN_REJECTED, "UNREGISTERED", None),
    ("bad-1", None, Outcome.DEAD_TOKEN, ResultCode.TOKEN_REJECTED, "INVALID_ARGUMENT", None),
    ("429-1", None, Outcome.RETRY, ResultCode.QUOTA_EXCEEDED, "QUOTA_EXCEEDED", 1.0),
    ("500-1", None, Outcome.RETRY, ResultCode.RECOVERABLE_IO, "INTERNAL", None),
    ("tok", ServerPlan(fail_status=503, fail_retry_after="7"), Outcome.RETRY,
     ResultCode.RECOVERABLE_IO, "UNAVAILABLE", 7.0),
    ("tok", ServerPlan(fail_status=500), Outcome.RETRY, ResultCode.RECOVERABLE_IO, "INTERNAL",
     None),
    # Quota without Retry-After: at least a minute (providers.md 2.4).
    ("tok", ServerPlan(fail_status=429), Outcome.RETRY, ResultCode.QUOTA_EXCEEDED,
     "QUOTA_EXCEEDED", 60.0),
    ("tok", ServerPlan(fail_status=401), Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED,
     "THIRD_PARTY_AUTH_ERROR", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("token", "plan", "outcome", "code", "reason", "retry_after"),
    ERROR_PATHS,
    ids=[f"{row[0]}-{row[1].fail_status if row[1] else 'prefix'}" for row in ERROR_PATHS],
)
async def test_fcm_error_answers_map_to_outcomes(
    fcm_world: FcmWorld,
    token: str,
    plan: ServerPlan | None,
    outcome: Outcome,
    code: ResultCode,
    reason: str,
    retry_after: float | None,
) -> None:
    if plan is not None:
        fcm_world.fake.plan.fail_status = plan.fail_status
        fcm_world.fake.plan.fail_retry_after = plan.fail_retry_after
    [result] = await send(fcm_world, [token])
    assert (result.outcome, result.code, result.retry_after_s) == (outcome, code, retry_after)
    assert result.reason is not None
    assert result.reason.startswith(reason)
    assert fcm_world.inbox.received == []


async def test_once_behaviours_are_accepted_when_retried(fcm_world: FcmWorld) -> None:
    first = await send(fcm_world, ["429-x", "500-x"])
    assert [r.outcome for r in first] == [Outcome.RETRY, Outcome.RETRY]
    again = await send(fcm_world, ["429-x", "500-x"])
    assert [r.outcome for r in again] == [Outcome.SENT, Outcome.SENT]


async def test_token_of_another_project_is_dead(fcm_world: FcmWorld) -> None:
    fcm_world.fake.token_projects["moved"] = "another-project"
    [result] = await send(fcm_world, ["moved"])
    assert (result.outcome, result.code) == (Outcome.DEAD_TOKEN, ResultCode.TOKEN_REJECTED)
    assert result.reason
    assert result.reason.startswith("SENDER_ID_MISMATCH")


async def test_third_party_auth_error_is_a_configuration_problem(fcm_world: FcmWorld) -> None:
    fcm_world.fake.token_errors["ios-device"] = "THIRD_PARTY_AUTH_ERROR"
    [result] = await send(fcm_world, ["ios-device"])
    assert (result.outcome, result.code) == (Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED)


async def test_invalid_override_is_rejected_not_retried(fcm_world: FcmWorld) -> None:
    push = make_push(Content(title="x", fcm={"android": {"priority": "URGENT"}}))
    [result] = await send(fcm_world, ["tok"], push)
    assert (result.outcome, result.code) == (Outcome.REJECTED, ResultCode.INVALID_DATA)
    assert result.reason
    assert "INVALID_ARGUMENT" in result.reason


async def test_data_values_are_stringified_and_an_override_cannot_break_the_rule(
    fcm_world: FcmWorld,
) -> None:
    data = {"n": 1, "yes": True, "s": "text", "obj": {"a": [1]}}
    stringified = make_push(Content(title="t", data=data))  # type: ignore[arg-type]
    [sent] = await send(fcm_world, ["tok-1"], stringified)
    assert sent.outcome is Outcome.SENT
    assert fcm_world.inbox.received[0].payload["data"] == {
        "n": "1",
        "yes": "true",
        "s": "text",
        "obj": '{"a": [1]}',
    }
    # The override is sent as given: FCM (the fake) refuses a number with its BadRequest body.
    refused = make_push(Content(title="t", fcm={"data": {"n": 2}}))
    [result] = await send(fcm_world, ["tok-2"], refused)
    assert (result.outcome, result.code) == (Outcome.REJECTED, ResultCode.INVALID_DATA)
    assert result.reason
    assert "message.data[0].value" in result.reason


async def test_bare_401_refreshes_the_token_once_for_all_and_resends(fcm_world: FcmWorld) -> None:
    provider = fcm_world.provider()
    try:
        assert (await provider.send(make_batch(["warm"])))[0].outcome is Outcome.SENT
        fcm_world.fake.expire_access_tokens()  # server-side: every issued token now 401s
        tokens = [f"tok-{i}" for i in range(20)]
        results = await provider.send(make_batch(tokens))
    finally:
        await provider.aclose()
    assert [r.outcome for r in results] == [Outcome.SENT] * 20
    assert fcm_world.fake.token_requests == 2  # 20 refusals, one refresh
    assert [fcm_world.inbox.attempts[t] for t in tokens] == [2] * 20


async def test_401_after_a_fresh_token_is_an_auth_failure(fcm_world: FcmWorld) -> None:
    fcm_world.fake.reject_access_tokens = True
    [result] = await send(fcm_world, ["tok"])
    assert (result.outcome, result.code) == (Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED)
    assert result.reason
    assert result.reason.startswith("HTTP 401")
    assert fcm_world.fake.token_requests == 2
    assert fcm_world.inbox.attempts["tok"] == 2  # sent, refused, renewed, resent once


async def test_403_without_fcm_error_is_an_auth_failure(fcm_world: FcmWorld) -> None:
    # The service account belongs to PROJECT; the credential names another project.
    provider = fcm_world.provider(fcm_world.credential(project_id="not-mine"))
    try:
        [result] = await provider.send(make_batch(["tok"]))
    finally:
        await provider.aclose()
    assert (result.outcome, result.code) == (Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED)
    assert result.reason
    assert result.reason.startswith("HTTP 403")


async def test_one_token_serves_many_batches_until_near_expiry(fcm_world: FcmWorld) -> None:
    provider = fcm_world.provider()
    clock = fcm_world.clock
    try:
        for _ in range(5):
            assert (await provider.send(make_batch(["a", "b"])))[0].outcome is Outcome.SENT
        clock.now += 3000  # 3599 s tokens, refreshed with 300 s left: still fresh
        await provider.send(make_batch(["c"]))
        assert fcm_world.fake.token_requests == 1
        clock.now += 350  # now under 300 s left: refreshed before sending
        await provider.send(make_batch(["d"]))
        assert fcm_world.fake.token_requests == 2
        clock.now += 4000  # long past expiry
        [late] = await provider.send(make_batch(["e"]))
    finally:
        await provider.aclose()
    assert late.outcome is Outcome.SENT
    assert fcm_world.fake.token_requests == 3


async def test_concurrent_batches_share_one_token_request(fcm_world: FcmWorld) -> None:
    provider = fcm_world.provider()
    try:
        batches = [make_batch([f"b{b}-{i}" for i in range(5)]) for b in range(8)]
        answers = await asyncio.gather(*(provider.send(batch) for batch in batches))
    finally:
        await provider.aclose()
    assert all(r.outcome is Outcome.SENT for results in answers for r in results)
    assert fcm_world.fake.token_requests == 1
    assert len(fcm_world.inbox.received) == 40


async def test_message_over_the_limit_is_never_sent(fcm_world: FcmWorld) -> None:
    push = make_push(Content(title="t" * 2048, body="b" * 2048))
    [result] = await send(fcm_world, ["tok"], push)
    assert (result.outcome, result.code) == (Outcome.REJECTED, ResultCode.TOO_LARGE)
    assert fcm_world.fake.send_requests == 0
    assert fcm_world.inbox.attempts["tok"] == 0


async def test_message_at_the_limit_is_accepted(fcm_world: FcmWorld) -> None:
    base = make_push(Content(title="t", body=""))
    ttl_s = ttl_seconds(base.options, datetime.now(UTC))
    assert ttl_s is not None
    padding = MAX_MESSAGE_BYTES - render(base, ttl_s).size
    push = Push(Content(title="t", body="b" * padding), base.options)
    assert render(push, ttl_s).size == MAX_MESSAGE_BYTES
    [result] = await send(fcm_world, ["tok"], push)
    assert result.outcome is Outcome.SENT  # the fake counts the same way: limits agree


async def test_deadline_bounds_the_batch_with_a_slow_token(fcm_world: FcmWorld) -> None:
    provider = fcm_world.provider()
    loop = asyncio.get_running_loop()
    try:
        batch = make_batch(["fast-1", "5105-slow", "fast-2"], within_s=1.0)
        results = await provider.send(batch)
        finished = loop.time()
    finally:
        await provider.aclose()
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.RETRY, Outcome.SENT]
    assert results[1].reason == "timeout"
    assert results[1].unsent is False  # it reached FCM: a resend counts as an attempt
    assert batch.deadline <= finished < batch.deadline + 0.5


async def test_batch_past_its_deadline_sends_nothing(fcm_world: FcmWorld) -> None:
    provider = fcm_world.provider()
    try:
        results = await provider.send(make_batch(["a", "b"], within_s=-1.0))
    finally:
        await provider.aclose()
    assert [(r.outcome, r.reason, r.unsent) for r in results] == [
        (Outcome.RETRY, "timeout", True)
    ] * 2
    assert fcm_world.fake.send_requests == 0


async def test_expired_push_is_not_sent_and_once_is_ttl_zero(fcm_world: FcmWorld) -> None:
    expired = make_push(ttl=timedelta(seconds=-5))
    once = make_push(once=True)
    results = await send(fcm_world, ["late"], expired) + await send(fcm_world, ["now"], once)
    assert (results[0].outcome, results[0].code) == (Outcome.REJECTED, ResultCode.PROVIDER_FAILED)
    assert results[1].outcome is Outcome.SENT
    [received] = fcm_world.inbox.received
    assert received.token == "now"
    assert received.payload["android"]["ttl"] == "0s"
    assert received.payload["apns"]["headers"]["apns-expiration"] == "0"


async def test_priority_reaches_android_apns_and_webpush(fcm_world: FcmWorld) -> None:
    base = make_push()
    options = DeliveryOptions(base.options.expires_at, priority=Priority.HIGH)
    await send(fcm_world, ["tok"], Push(base.content, options))
    message = fcm_world.inbox.received[0].payload
    assert message["android"]["priority"] == "HIGH"
    assert message["apns"]["headers"]["apns-priority"] == "10"
    assert message["webpush"]["headers"]["Urgency"] == "high"


async def test_unreachable_fcm_is_retry_unsent(fcm_world: FcmWorld) -> None:
    closed_port = "https://127.0.0.1:9"  # discard port: nothing listens on loopback
    provider = fcm_world.provider(fcm_world.credential(endpoint=closed_port))
    try:
        [result] = await provider.send(make_batch(["tok"]))
    finally:
        await provider.aclose()
    assert (result.outcome, result.code, result.unsent) == (
        Outcome.RETRY,
        ResultCode.RECOVERABLE_IO,
        True,
    )


async def test_token_endpoint_refusal_is_auth_and_unreachable_is_retry(
    fcm_world: FcmWorld,
) -> None:
    account = fcm_world.fake.service_account(PROJECT)
    unknown = {**account, "client_email": "nobody@example.iam.gserviceaccount.com"}
    unreachable = {**account, "token_uri": "https://127.0.0.1:9/token"}
    refused = await _send_with(fcm_world, unknown)
    assert (refused.outcome, refused.code) == (Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED)
    assert refused.reason
    assert "invalid_grant" in refused.reason
    down = await _send_with(fcm_world, unreachable)
    assert (down.outcome, down.code, down.unsent) == (
        Outcome.RETRY,
        ResultCode.RECOVERABLE_IO,
        True,
    )
    for result in (refused, down):  # no key material in what is stored about the failure
        assert "PRIVATE KEY" not in json.dumps(result.reason)
    assert fcm_world.fake.send_requests == 0


async def _send_with(world: FcmWorld, account: dict[str, object]) -> SendResult:
    provider = world.provider(world.credential(account))
    try:
        [result] = await provider.send(make_batch(["tok"]))
    finally:
        await provider.aclose()
    return result


async def test_deployment_endpoints_replace_the_base_url_and_token_uri(fcm_world: FcmWorld) -> None:
    # Fake-provider mode: the file names Google's token URL; the setting points at the fake.
    account = {**fcm_world.fake.service_account(PROJECT), "token_uri": "https://127.0.0.1:9/x"}
    credential = fcm_world.credential(account, fake_endpoint=False)
    endpoints = {"fcm": fcm_world.fake.url, "fcm_token": f"{fcm_world.fake.url}/token"}
    provider = fcm_world.provider(credential, endpoints=endpoints)
    try:
        [result] = await provider.send(make_batch(["tok"]))
    finally:
        await provider.aclose()
    assert result.outcome is Outcome.SENT
    assert fcm_world.fake.tokens.granted == 1


async def test_a_poison_delivery_fails_alone(fcm_world: FcmWorld) -> None:
    batch = make_batch(["ok-1", "ok-2"])
    # A token that is not text breaks the adapter's own code for this delivery only.
    not_text: str = b"not text"  # type: ignore[assignment]
    poison = Delivery(
        "d-poison", Recipient("r-poison", Platform.FCM, not_text), batch.deliveries[0].push
    )
    provider = fcm_world.provider()
    try:
        results = await provider.send(
            Batch(1, [batch.deliveries[0], poison, batch.deliveries[1]], batch.deadline)
        )
    finally:
        await provider.aclose()
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.RETRY, Outcome.SENT]
    assert results[1].reason == "adapter error"
    assert fcm_world.inbox.tokens() == ["ok-1", "ok-2"]
