"""The SMS adapter against FakeSmsGateway over TLS: Twilio-style posts and custom templates."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from pushgate.domain.payload import Content
from pushgate.domain.platforms import Platform
from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.fakes.behaviour import ServerPlan
from pushgate.fakes.inbox import Inbox
from pushgate.fakes.sms import FakeSmsGateway
from pushgate.fakes.tls import FakeCertificates
from pushgate.providers.base import Delivery, ProviderCredential, ProviderOptions, Push
from pushgate.providers.sms import SmsProvider
from tests.integration.providers.wns_sms_support import (
    check_failing_once_then_sent,
    check_scripted_status,
    options,
    push,
    send,
)
from tests.integration.providers.wns_sms_support import delivery as make_delivery

pytestmark = pytest.mark.anyio

ACCOUNT = "AC" + secrets.token_hex(16)
AUTH_TOKEN = "twilio-token-" + secrets.token_hex(8)
SENDER = "+15005550006"
OK_NUMBER = "+15550001234"


def delivery(number: str, shared: Push | None = None) -> Delivery:
    return make_delivery(number, Platform.SMS, shared)


@pytest.fixture
async def fake(certs: FakeCertificates, plan: ServerPlan) -> AsyncIterator[FakeSmsGateway]:
    async with FakeSmsGateway(certs, Inbox(), plan) as server:
        server.register_account(ACCOUNT, AUTH_TOKEN)
        yield server


def twilio_settings(fake: FakeSmsGateway, **extra: Any) -> dict[str, Any]:
    return {
        "gateway_url": fake.twilio_url(ACCOUNT),
        "auth_type": "basic",
        "username": ACCOUNT,
        "sender": SENDER,
        **extra,
    }


class Adapters:
    """Builds adapters on the test's fake and closes them all at the end."""

    def __init__(self, certs: FakeCertificates) -> None:
        self._options = ProviderOptions(ca_file=str(certs.ca_file), allow_private_addresses=True)
        self._built: list[SmsProvider] = []

    def build(self, settings: dict[str, Any], secret: dict[str, Any]) -> SmsProvider:
        credential = ProviderCredential(1, "sms", settings, secret, None, "1")
        adapter = SmsProvider(credential, self._options)
        self._built.append(adapter)
        return adapter

    async def aclose(self) -> None:
        for adapter in self._built:
            await adapter.aclose()


@pytest.fixture
async def adapters(certs: FakeCertificates) -> AsyncIterator[Adapters]:
    built = Adapters(certs)
    yield built
    await built.aclose()


@pytest.fixture
def provider(adapters: Adapters, fake: FakeSmsGateway) -> SmsProvider:
    return adapters.build(twilio_settings(fake), {"password": AUTH_TOKEN})


async def test_twilio_form_post_is_sent_and_recorded(
    provider: SmsProvider, fake: FakeSmsGateway
) -> None:
    [result] = await send(provider, delivery(OK_NUMBER))
    assert result.outcome is Outcome.SENT
    [received] = fake.inbox.received
    assert (received.provider, received.token) == ("sms", OK_NUMBER)
    assert received.payload == {"from": SENDER, "body": "Hello\nWorld"}
    assert received.headers["content-type"] == "application/x-www-form-urlencoded"
    assert result.provider_ref == received.message_id
    assert (result.provider_ref or "").startswith("SM")


async def test_hostile_text_arrives_unchanged(provider: SmsProvider, fake: FakeSmsGateway) -> None:
    text = "a&b=c+d %20 $to ${text} <script>&\"'"
    [result] = await send(provider, delivery(OK_NUMBER, push(Content(body=text))))
    assert result.outcome is Outcome.SENT
    assert fake.inbox.received[0].payload["body"] == text


@pytest.mark.parametrize(
    ("number", "outcome", "code"),
    [
        ("+4105550001", Outcome.DEAD_TOKEN, ResultCode.REGISTRATION_EXPIRED),  # 21610
        ("+4005550001", Outcome.DEAD_TOKEN, ResultCode.TOKEN_REJECTED),  # 21211
    ],
)
async def test_number_prefix_answers(
    provider: SmsProvider, number: str, outcome: Outcome, code: ResultCode
) -> None:
    [result] = await send(provider, delivery(number))
    assert (result.outcome, result.code) == (outcome, code)


@pytest.mark.parametrize(
    ("number", "code", "retry_after"),
    [
        ("+4295550001", ResultCode.QUOTA_EXCEEDED, 1.0),
        ("+5005550001", ResultCode.RECOVERABLE_IO, None),
    ],
)
async def test_failing_once_then_accepted(
    provider: SmsProvider, number: str, code: ResultCode, retry_after: float | None
) -> None:
    await check_failing_once_then_sent(provider, delivery(number), code, retry_after)


@pytest.mark.parametrize(
    ("status", "outcome", "code"),
    [
        (400, Outcome.REJECTED, ResultCode.INVALID_DATA),
        (401, Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED),
        (403, Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED),
        (404, Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED),
        (413, Outcome.REJECTED, ResultCode.TOO_LARGE),
        (429, Outcome.RETRY, ResultCode.QUOTA_EXCEEDED),
        (500, Outcome.RETRY, ResultCode.RECOVERABLE_IO),
        (503, Outcome.RETRY, ResultCode.RECOVERABLE_IO),
    ],
)
async def test_scripted_status_answers(
    provider: SmsProvider, plan: ServerPlan, status: int, outcome: Outcome, code: ResultCode
) -> None:
    target = delivery(OK_NUMBER)
    await check_scripted_status(provider, plan, target, status, (outcome, code), retry_after="4")


async def test_wrong_auth_token_is_auth(adapters: Adapters, fake: FakeSmsGateway) -> None:
    wrong = "wrong-" + secrets.token_hex(6)
    adapter = adapters.build(twilio_settings(fake), {"password": wrong})
    [result] = await send(adapter, delivery(OK_NUMBER))
    assert (result.outcome, result.code) == (Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED)
    assert wrong not in repr(result)


async def test_gateway_path_not_found_is_auth(adapters: Adapters, fake: FakeSmsGateway) -> None:
    typo = fake.twilio_url(ACCOUNT).replace("Messages.json", "Message.json")
    settings = twilio_settings(fake, gateway_url=typo)
    [result] = await send(adapters.build(settings, {"password": AUTH_TOKEN}), delivery(OK_NUMBER))
    assert (result.outcome, result.reason) == (Outcome.AUTH, "NotFound")


@pytest.mark.parametrize(
    "number", ["15550001234", "+0123456", "+1 555 000 1234", "", "+1234567890123456"]
)
async def test_non_e164_numbers_are_dead_without_a_request(
    provider: SmsProvider, fake: FakeSmsGateway, number: str
) -> None:
    [result] = await send(provider, delivery(number))
    assert (result.outcome, result.code) == (Outcome.DEAD_TOKEN, ResultCode.TOKEN_MISSING)
    assert not fake.inbox.attempts


async def test_text_over_1600_characters_is_refused_before_sending(
    provider: SmsProvider, fake: FakeSmsGateway
) -> None:
    [result] = await send(provider, delivery(OK_NUMBER, push(Content(body="x" * 1601))))
    assert (result.outcome, result.code) == (Outcome.REJECTED, ResultCode.TOO_LARGE)
    [empty] = await send(provider, delivery(OK_NUMBER, push(Content(data={"a": "1"}))))
    assert (empty.outcome, empty.code) == (Outcome.REJECTED, ResultCode.INVALID_DATA)
    expired = push(delivery_options=options(ttl=timedelta(seconds=-5)))
    [late] = await send(provider, delivery(OK_NUMBER, expired))
    assert (late.outcome, late.code) == (Outcome.REJECTED, ResultCode.PROVIDER_FAILED)
    assert not fake.inbox.attempts


async def test_json_template_with_bearer(adapters: Adapters, fake: FakeSmsGateway) -> None:
    fake.register_bearer("gw-token-1")
    settings = {
        "gateway_url": fake.generic_url,
        "auth_type": "bearer",
        "sender": "pushgate",
        "body_format": "json",
        "body_template": {"to": "$to", "from": "$sender", "text": "[app] $text"},
    }
    adapter = adapters.build(settings, {"token": "gw-token-1"})
    [result] = await send(adapter, delivery(OK_NUMBER, push(Content(body="hi"))))
    assert result.outcome is Outcome.SENT
    [received] = fake.inbox.received
    assert received.payload == {"from": "pushgate", "body": "[app] hi"}
    assert received.headers["content-type"] == "application/json"
    assert result.provider_ref == received.message_id


async def test_get_template_without_auth(adapters: Adapters, fake: FakeSmsGateway) -> None:
    settings = {
        "gateway_url": fake.generic_url,
        "auth_type": "none",
        "sender": "ops",
        "method": "GET",
        "body_template": {"to": "$to", "from": "$sender", "text": "$text"},
    }
    [result] = await send(
        adapters.build(settings, {}), delivery(OK_NUMBER, push(Content(body="a&b")))
    )
    assert result.outcome is Outcome.SENT
    assert fake.inbox.received[0].payload == {"from": "ops", "body": "a&b"}


async def test_bad_template_fails_every_message_as_auth(
    adapters: Adapters, fake: FakeSmsGateway
) -> None:
    settings = twilio_settings(fake, body_template={"To": "${to.__class__}"})
    adapter = adapters.build(settings, {"password": AUTH_TOKEN})
    results = await send(adapter, delivery(OK_NUMBER), delivery(OK_NUMBER))
    assert {(r.outcome, r.code) for r in results} == {
        (Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED)
    }
    assert not fake.inbox.attempts


async def test_slow_number_ends_at_the_batch_deadline(provider: SmsProvider) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    results = await send(provider, delivery(OK_NUMBER), delivery("+51055550001"), within_s=1.5)
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.RETRY]
    assert results[1].reason == "timeout"
    assert loop.time() - start < 2.5


async def test_a_gateway_on_a_private_address_is_a_configuration_error(
    fake: FakeSmsGateway, certs: FakeCertificates
) -> None:
    secret = {"password": AUTH_TOKEN}
    credential = ProviderCredential(1, "sms", twilio_settings(fake), secret, None, "1")
    adapter = SmsProvider(credential, ProviderOptions(ca_file=str(certs.ca_file)))
    try:
        [result] = await send(adapter, delivery(OK_NUMBER))
    finally:
        await adapter.aclose()
    assert (result.outcome, result.code) == (Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED)
    assert "address pushgate does not call" in (result.reason or "")
    assert fake.inbox.received == []
