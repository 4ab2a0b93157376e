"""SMS adapter: one request per phone number to a configurable HTTP gateway (Twilio-style default).

The gateway is the credential's `endpoint` when set, else its `gateway_url` setting (required
by services/credential_checks.py), so ProviderOptions.endpoints["sms"] is not consulted: an SMS
credential always names its gateway. Request shape: providers/sms_request.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from urllib.parse import urlsplit

from pushgate.domain.platforms import Platform
from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.providers.base import (
    Batch,
    Delivery,
    Provider,
    ProviderCredential,
    ProviderOptions,
    Push,
    SendResult,
)
from pushgate.providers.batching import Attempt, remaining_s, send_all
from pushgate.providers.endpoint_guard import EndpointGuard
from pushgate.providers.http import HttpResponse, HttpTransport
from pushgate.providers.http_httpx import HttpxTransport
from pushgate.providers.kinds import ProviderKind
from pushgate.providers.sms_request import (
    TEXT_LIMIT,
    GatewayRequest,
    GatewayTemplate,
    InvalidGatewaySettings,
    auth_header,
    build_request,
    sms_text,
    template_from_settings,
    valid_e164,
)
from pushgate.providers.status_answers import Answer

CONCURRENCY = 10  # messages in flight per credential


# HTTP status -> answer, for any gateway (Twilio's REST API uses the same meanings).
ANSWERS: dict[int, Answer] = {
    400: Answer(Outcome.REJECTED, ResultCode.INVALID_DATA, "BadRequest"),
    401: Answer(Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED, "Unauthorized"),
    403: Answer(Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED, "Forbidden"),
    # The gateway URL names nothing (Twilio: wrong account SID in the path): every message of
    # the credential would fail, so it is a configuration problem, not a dead number.
    404: Answer(Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED, "NotFound"),
    413: Answer(Outcome.REJECTED, ResultCode.TOO_LARGE, "PayloadTooLarge"),
    429: Answer(Outcome.RETRY, ResultCode.QUOTA_EXCEEDED, "TooManyRequests"),
}
OTHER_CLIENT_ERROR = Answer(Outcome.REJECTED, ResultCode.INVALID_DATA, "ClientError")
SERVER_ERROR = Answer(Outcome.RETRY, ResultCode.RECOVERABLE_IO, "ServerError")  # any 5xx
OTHER_STATUS = Answer(Outcome.RETRY, ResultCode.RECOVERABLE_IO, "UnexpectedStatus")

# Twilio error codes in a 400 body that are about the number, not the message
# (twilio.com/docs/api/errors): the registration cannot receive SMS from us.
NUMBER_ERRORS: dict[int, Answer] = {
    21211: Answer(Outcome.DEAD_TOKEN, ResultCode.TOKEN_REJECTED, "21211 invalid To number"),
    21614: Answer(Outcome.DEAD_TOKEN, ResultCode.TOKEN_REJECTED, "21614 not a mobile number"),
    21610: Answer(Outcome.DEAD_TOKEN, ResultCode.REGISTRATION_EXPIRED, "21610 unsubscribed"),
}

NOT_E164 = SendResult(Outcome.DEAD_TOKEN, ResultCode.TOKEN_MISSING, "not an E.164 phone number")
NO_TEXT = SendResult(Outcome.REJECTED, ResultCode.INVALID_DATA, "nothing to send: no title or text")
TOO_LONG = SendResult(Outcome.REJECTED, ResultCode.TOO_LARGE, f"over {TEXT_LIMIT} characters")
EXPIRED = SendResult(Outcome.REJECTED, ResultCode.PROVIDER_FAILED, "expired")


def _json_body(body: bytes) -> dict[str, object]:
    try:
        document = json.loads(body)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _provider_ref(body: bytes) -> str | None:
    """The gateway's message id: JSON `sid` (Twilio) or `id`, when present."""
    document = _json_body(body)
    for key in ("sid", "id"):
        value = document.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)[:128]
    return None


def answer_for(response: HttpResponse, now: datetime) -> SendResult:
    """The SendResult of one gateway answer."""
    status = response.status
    if 200 <= status < 300:
        return SendResult(Outcome.SENT, ResultCode.SENT, provider_ref=_provider_ref(response.body))
    answer = ANSWERS.get(status)
    if status == 400:
        code = _json_body(response.body).get("code")
        answer = NUMBER_ERRORS.get(code, answer) if isinstance(code, int) else answer
    if answer is None:
        if 400 <= status < 500:
            answer = OTHER_CLIENT_ERROR
        else:
            answer = SERVER_ERROR if 500 <= status < 600 else OTHER_STATUS
    return answer.result(response, now)


def gateway_refusal(url: str) -> str | None:
    """Why this gateway URL cannot be called, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "gateway_url must be an http:// or https:// URL"
    return None  # its address is checked per batch (EndpointGuard in SmsProvider.send)


class SmsProvider:
    def __init__(
        self,
        credential: ProviderCredential,
        options: ProviderOptions,
        *,
        transport: HttpTransport | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        settings = credential.settings
        self._url = str(credential.endpoint or settings.get("gateway_url") or "")
        self._sender = settings.get("sender")
        self._transport = transport or HttpxTransport(ca_file=options.ca_file)
        self._owns_transport = transport is None
        self._options = options
        self._now = now
        self._template: GatewayTemplate | None = None
        self._auth: tuple[str, str] | None = None
        # A broken gateway setting fails every message as AUTH (configuration), not the build.
        self._config_error = gateway_refusal(self._url)
        # The gateway URL is tenant-supplied: it passes the SSRF guard before every batch.
        scheme = urlsplit(self._url).scheme.lower() or "https"
        self._guard = EndpointGuard(options, scheme=scheme)
        try:
            self._template = template_from_settings(settings)
            self._auth = auth_header(settings, credential.secret)
        except InvalidGatewaySettings as exc:
            self._config_error = str(exc)

    async def send(self, batch: Batch) -> list[SendResult]:
        """One result per delivery, in order, all in by batch.deadline."""
        now = self._now()
        prepared = [self._prepare(delivery, now) for delivery in batch.deliveries]
        if self._config_error is None and any(isinstance(p, GatewayRequest) for p in prepared):
            refused = (await self._guard.refusals([self._url], batch.deadline)).get(self._url)
            if refused is not None:
                refusal = _gateway_refused(refused)
                prepared = [refusal if isinstance(p, GatewayRequest) else p for p in prepared]
        return await send_all(
            prepared,
            partial(self._send_one, deadline=batch.deadline),
            deadline=batch.deadline,
            gate=asyncio.Semaphore(CONCURRENCY),  # per batch
        )

    def _prepare(self, delivery: Delivery, now: datetime) -> GatewayRequest | SendResult:
        if self._config_error is not None or self._template is None:
            reason = self._config_error or "gateway settings invalid"
            return SendResult(Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED, reason)
        push: Push = delivery.push
        if push.options.expires_at <= now:
            return EXPIRED
        number = delivery.recipient.token
        if not valid_e164(number):
            return NOT_E164
        text = sms_text(push.content)
        if text is None:
            return NO_TEXT
        if len(text) > TEXT_LIMIT:  # refused before sending, not truncated
            return TOO_LONG
        request = build_request(
            self._template, self._url, to=number, sender=self._sender, text=text
        )
        if self._auth is not None:
            request.headers.append(self._auth)
        return request

    async def _send_one(
        self, request: GatewayRequest, attempt: Attempt, *, deadline: float
    ) -> SendResult:
        attempt.started = True
        timeout_s = min(self._options.send_timeout_s, remaining_s(deadline))
        response = await self._transport.request(
            request.method, request.url, request.headers, request.body, timeout_s=timeout_s
        )
        return answer_for(response, self._now())

    async def aclose(self) -> None:
        if self._owns_transport:
            await self._transport.aclose()


def _gateway_refused(guard_result: SendResult) -> SendResult:
    """A refused gateway is the credential's fault (AUTH, configuration); DNS trouble retries."""
    if guard_result.outcome is Outcome.RETRY:
        return guard_result
    reason = "gateway_url points to an address pushgate does not call"
    return SendResult(Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED, reason)


SMS_LIMIT_BYTES = TEXT_LIMIT * 4  # the registry's byte check: 1600 characters of UTF-8 at most


def render_text(push: Push, _platform: Platform) -> bytes:
    """The message text as UTF-8 (what the size check before queueing measures)."""
    return (sms_text(push.content) or "").encode()


def _build(credential: ProviderCredential | None, options: ProviderOptions) -> Provider:
    if credential is None:
        raise ValueError("the sms provider needs the app's SMS gateway credential")
    return SmsProvider(credential, options)


def sms_kind() -> ProviderKind:
    """The SMS entry for the provider registry (the lead wires it into default_kinds)."""
    return ProviderKind("sms", True, render_text, lambda _platform: SMS_LIMIT_BYTES, _build)
