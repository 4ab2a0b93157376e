"""Credential tests against the provider: ask it to accept the credential, deliver nothing.

One probe per provider (providers.md sections 1-4), each bounded by `timeout_s`:

| provider | what is asked | credential fine when |
|---|---|---|
| apns | one push to a token no device has, through the APNs adapter | 400 BadDeviceToken |
| fcm | an OAuth token (google-auth), a `validate_only` send to a dummy token | 200, or
  INVALID_ARGUMENT / UNREGISTERED for the token |
| wns | the OAuth client-credentials token | a token is issued |
| webpush | nothing: VAPID keys are self-signed | the key pair checks offline |
| sms | nothing: no gateway request is known to send nothing | the settings check offline |

A bad credential or an unreachable provider is a result (ok False), never an exception. No
secret, token or provider token reaches the result or a log: details are the provider's
reason codes and our words. Endpoints a tenant supplied (the credential's endpoint, the
service account's token_uri) pass the SSRF address check first: a probe answers its caller
with what the host said, which must not make pushgate a scanner of its own network.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from pushgate.domain.payload import Content, DeliveryOptions
from pushgate.domain.platforms import Platform
from pushgate.domain.records import JsonObject
from pushgate.domain.statuses import Outcome
from pushgate.errors import InvalidInput, NotFound
from pushgate.providers.addresses import UnresolvableHost, check_public_url
from pushgate.providers.apns import ApnsProvider
from pushgate.providers.base import (
    Batch,
    Delivery,
    Provider,
    ProviderCredential,
    ProviderOptions,
    Push,
    Recipient,
    SendResult,
)
from pushgate.providers.client_credentials import TokenRefused
from pushgate.providers.client_credentials import TokenUnavailable as WnsTokenUnavailable
from pushgate.providers.fcm import TOKEN_ENDPOINT_KEY, send_url
from pushgate.providers.fcm_answers import parse_error
from pushgate.providers.fcm_auth import AccessTokens, TokenUnavailable
from pushgate.providers.http import HttpResponse, TransportError
from pushgate.providers.http_httpx import HttpxTransport
from pushgate.providers.kinds import ProviderRegistry
from pushgate.providers.wns import WnsProvider
from pushgate.services.credential_checks import check_credential
from pushgate.services.vault import Vault
from pushgate.store.uow import UnitOfWork

# A provider answers a credential test well within this (one TLS handshake, one token
# request, one send); an operator waits for the page, so longer is "unreachable".
PROBE_TIMEOUT_S = 10.0
# Not hex, so no APNs device can have it (APNs answers BadDeviceToken) and no FCM device
# (INVALID_ARGUMENT); it carries none of the fakes' behaviour prefixes (fakes/behaviour.py).
PROBE_DEVICE_TOKEN = "pushgate-credential-test"  # noqa: S105 - a dummy device token
PROBE_TEXT = "pushgate credential test"
PROVIDER, OFFLINE = "provider", "offline"
_MAX_DETAIL = 200


@dataclass(frozen=True, slots=True)
class ProbeResult:
    provider: str
    ok: bool
    checked: str  # PROVIDER: the provider was asked; OFFLINE: validated here only
    detail: str  # the provider's reason or status, in our words; never a secret
    latency_ms: int
    public_key: str | None = None  # Web Push: the VAPID public key browsers subscribe with


@dataclass(frozen=True, slots=True)
class _Verdict:
    ok: bool
    checked: str
    detail: str
    public_key: str | None = None


async def load_credential(
    uow: UnitOfWork, vault: Vault, app_id: int, provider: str
) -> ProviderCredential:
    """The app's stored credential, opened for a probe (NotFound when there is none)."""
    info = await uow.credentials.get(app_id, provider)
    sealed = await uow.credentials.get_sealed(app_id, provider)
    if info is None or sealed is None:
        raise NotFound("no credential for this provider", field="provider")
    return ProviderCredential(
        app_id=app_id,
        provider=provider,
        settings=info.settings,
        secret=vault.open(sealed),
        endpoint=info.endpoint,
        version=info.updated_at.isoformat(),
    )


async def probe_credential(
    credential: ProviderCredential,
    registry: ProviderRegistry,
    *,
    sandbox: bool = False,
    timeout_s: float = PROBE_TIMEOUT_S,
) -> ProbeResult:
    """Test one credential the way its provider would read it; nothing is delivered."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout_s):
            verdict = await _endpoint_refusal(credential, registry.options)
            if verdict is None:
                verdict = await _probe(credential, registry, sandbox, timeout_s)
    except TimeoutError:
        verdict = _Verdict(False, PROVIDER, f"no answer within {timeout_s:g} s")
    return ProbeResult(
        provider=credential.provider,
        ok=verdict.ok,
        checked=verdict.checked,
        detail=verdict.detail[:_MAX_DETAIL],
        latency_ms=round((time.monotonic() - started) * 1000),
        public_key=verdict.public_key,
    )


async def _probe(
    credential: ProviderCredential, registry: ProviderRegistry, sandbox: bool, timeout_s: float
) -> _Verdict:
    provider = credential.provider
    if provider == "apns":
        return await _probe_apns(credential, registry, sandbox, timeout_s)
    if provider == "fcm":
        return await _probe_fcm(credential, registry.options, timeout_s)
    if provider == "wns":
        return await _probe_wns(credential, registry.options, timeout_s)
    if provider == "webpush":
        return _offline_webpush(credential)
    if provider == "sms":
        return _offline_sms(credential)
    return _Verdict(False, OFFLINE, f"no probe for provider {provider}")


# -- tenant-supplied endpoints ----------------------------------------------------------


def _tenant_urls(credential: ProviderCredential, options: ProviderOptions) -> list[str]:
    urls = [credential.endpoint] if credential.endpoint else []
    sandbox = credential.settings.get("sandbox_endpoint")
    if credential.provider == "apns" and isinstance(sandbox, str):
        urls.append(sandbox)
    account = credential.secret.get("service_account")
    if credential.provider == "fcm" and isinstance(account, dict):
        token_uri = account.get("token_uri")  # google-auth posts there unless overridden
        if isinstance(token_uri, str) and TOKEN_ENDPOINT_KEY not in options.endpoints:
            urls.append(token_uri)
    return urls


async def _endpoint_refusal(
    credential: ProviderCredential, options: ProviderOptions
) -> _Verdict | None:
    """Why a tenant-supplied endpoint may not be called (the send path's SSRF rules)."""
    if credential.provider not in ("apns", "fcm", "wns"):
        return None  # webpush and sms call nothing here
    for url in _tenant_urls(credential, options):
        scheme = urlsplit(url).scheme.lower()
        try:
            await check_public_url(
                url,
                allow_private=options.allow_private_addresses,
                allow_hosts=options.allowed_hosts,
                field="endpoint",
                scheme=scheme if scheme in ("http", "https") else "https",
            )
        except UnresolvableHost:
            return _Verdict(False, PROVIDER, "endpoint host does not resolve")
        except InvalidInput as exc:
            return _Verdict(False, OFFLINE, f"endpoint refused: {exc.message}")
    return None


# -- APNs -------------------------------------------------------------------------------

# The adapter's outcome for the dummy token -> (ok, what it means). BadDeviceToken (400) is
# only answered after the provider token or certificate and the topic were accepted
# (providers.md 1.3; the fake checks in the same order, fakes/apns.py _evaluate).
_APNS_MEANING: dict[Outcome, tuple[bool, str]] = {
    Outcome.DEAD_TOKEN: (True, "APNs accepted the credential and topic"),
    Outcome.SENT: (True, "APNs accepted the credential and topic"),
    # InvalidProviderToken, ExpiredProviderToken, BadCertificate(Environment),
    # TopicDisallowed, MissingProviderToken, BadTopic...: the credential is refused.
    Outcome.AUTH: (False, "APNs refused the credential"),
    Outcome.RETRY: (False, "APNs unreachable or unavailable"),
    Outcome.REJECTED: (False, "APNs refused the request"),
}


async def _probe_apns(
    credential: ProviderCredential, registry: ProviderRegistry, sandbox: bool, timeout_s: float
) -> _Verdict:
    kind = registry.kind("apns")
    try:
        # The registry's adapter shares the process's provider token per key (apns_auth.py):
        # a test does not sign a new one, which APNs would count as a token update.
        adapter: Provider = (
            kind.build(credential, registry.options)
            if kind is not None
            else ApnsProvider(credential, registry.options)
        )
    except (KeyError, ValueError) as exc:
        return _Verdict(False, OFFLINE, f"stored credential unusable ({type(exc).__name__})")
    loop = asyncio.get_running_loop()
    expires_at = datetime.now(UTC) + timedelta(minutes=5)
    push = Push(Content(alert=PROBE_TEXT), DeliveryOptions(expires_at, once=True))
    recipient = Recipient("credential-test", Platform.APNS, PROBE_DEVICE_TOKEN, sandbox)
    batch = Batch(
        credential.app_id,
        [Delivery("credential-test", recipient, push)],
        loop.time() + timeout_s,
    )
    try:
        [result] = await adapter.send(batch)
    finally:
        await adapter.aclose()
    return _apns_verdict(result, "sandbox" if sandbox else "production")


def _apns_verdict(result: SendResult, environment: str) -> _Verdict:
    ok, meaning = _APNS_MEANING[result.outcome]
    reason = result.reason or result.outcome.value
    return _Verdict(ok, PROVIDER, f"{reason}: {meaning} ({environment})")


# -- FCM --------------------------------------------------------------------------------

_JSON = "application/json; charset=UTF-8"
# errorCode of a validate_only send to the dummy token: the access token was accepted and the
# project found, only the token is unknown (ErrorCode reference, providers.md 2.4).
_FCM_TOKEN_REFUSALS = frozenset({"INVALID_ARGUMENT", "UNREGISTERED"})


async def _probe_fcm(
    credential: ProviderCredential, options: ProviderOptions, timeout_s: float
) -> _Verdict:
    account = credential.secret.get("service_account")
    if not isinstance(account, dict):
        return _Verdict(False, OFFLINE, "stored credential has no service account")
    tokens = AccessTokens(
        account, ca_file=options.ca_file, token_uri=options.endpoints.get(TOKEN_ENDPOINT_KEY)
    )
    transport = HttpxTransport(ca_file=options.ca_file)
    try:
        try:
            access = await tokens.current()
        except TokenUnavailable as exc:
            return _Verdict(False, PROVIDER, exc.reason)  # google's error code, no secret
        body = {
            "validate_only": True,  # FCM checks the message and delivers nothing
            "message": {"token": PROBE_DEVICE_TOKEN, "notification": {"title": PROBE_TEXT}},
        }
        headers = (("authorization", f"Bearer {access}"), ("content-type", _JSON))
        try:
            response = await transport.request(
                "POST",
                send_url(credential, options),
                headers,
                json.dumps(body).encode(),
                timeout_s=timeout_s,
            )
        except TransportError as exc:
            return _Verdict(False, PROVIDER, f"FCM unreachable: {type(exc).__name__}: {exc}")
        return _fcm_verdict(response)
    finally:
        await transport.aclose()
        await tokens.aclose()


def _fcm_verdict(response: HttpResponse) -> _Verdict:
    if response.status == 200:
        return _Verdict(True, PROVIDER, "token issued; validate_only send accepted")
    error = parse_error(response.body)
    said = error.error_code or f"HTTP {response.status}"
    if error.error_code in _FCM_TOKEN_REFUSALS:
        return _Verdict(True, PROVIDER, f"token issued; {said} for the dummy device token")
    if response.status in (401, 403, 404):
        # 401: access token refused; 403: FCM API disabled or no IAM role; 404: no project.
        return _Verdict(False, PROVIDER, f"FCM refused the credential: {said} {error.message}")
    return _Verdict(False, PROVIDER, f"FCM unavailable: {said}")


# -- WNS --------------------------------------------------------------------------------


async def _probe_wns(
    credential: ProviderCredential, options: ProviderOptions, timeout_s: float
) -> _Verdict:
    adapter = WnsProvider(credential, options)
    try:
        await adapter.tokens.get(timeout_s=timeout_s)
    except TokenRefused as exc:
        return _Verdict(False, PROVIDER, exc.reason)  # e.g. "... 400 invalid_client"
    except WnsTokenUnavailable as exc:
        return _Verdict(False, PROVIDER, exc.reason)
    except TransportError as exc:
        return _Verdict(False, PROVIDER, f"token service unreachable: {type(exc).__name__}")
    finally:
        await adapter.aclose()
    return _Verdict(True, PROVIDER, "the token service issued an access token")


# -- offline only -----------------------------------------------------------------------


def _recheck(provider: str, fields: JsonObject) -> _Verdict | None:
    try:
        check_credential(provider, fields)
    except InvalidInput as exc:
        where = f" ({exc.field})" if exc.field else ""
        return _Verdict(False, OFFLINE, f"{exc.message}{where}")
    return None


def _offline_webpush(credential: ProviderCredential) -> _Verdict:
    public_key = credential.settings.get("public_key")
    fields: JsonObject = {
        "subject": credential.settings.get("subject"),
        "private_key": credential.secret.get("private_key"),
        "public_key": public_key,
    }
    refused = _recheck("webpush", fields)
    if refused is not None:
        return refused
    detail = "VAPID key pair valid; push services have nothing to check (self-signed keys)"
    return _Verdict(True, OFFLINE, detail, str(public_key))


def _offline_sms(credential: ProviderCredential) -> _Verdict:
    refused = _recheck("sms", {**credential.settings, **credential.secret})
    if refused is not None:
        return refused
    detail = "gateway settings valid; gateway not called: no request is known to send nothing"
    return _Verdict(True, OFFLINE, detail)
