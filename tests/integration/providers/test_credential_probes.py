"""Credential tests (services/credential_probes.py) against the fake providers over TLS."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pushgate.fakes.apns import FakeApns
from pushgate.fakes.inbox import Inbox
from pushgate.fakes.tls import FakeCertificates
from pushgate.fakes.wns import FakeWns
from pushgate.providers.base import ProviderCredential, ProviderOptions
from pushgate.providers.registry import ProviderRegistry, default_kinds
from pushgate.services.credential_checks import check_credential
from pushgate.services.credential_probes import ProbeResult, probe_credential
from tests.integration.providers.apns_setup import (
    TEAM_ID,
    TOPIC,
    certificate_credential,
    token_credential,
)
from tests.integration.providers.fcm_support import FcmWorld

pytestmark = pytest.mark.anyio
CLIENT_ID = "ms-app://s-1-15-2-probe"
SECRET = "wns-secret-for-probe-tests"


@pytest.fixture
def registry(provider_options: ProviderOptions) -> ProviderRegistry:
    """Fake-provider mode: the fakes listen on 127.0.0.1."""
    return ProviderRegistry(
        default_kinds(), replace(provider_options, allow_private_addresses=True)
    )


@pytest.fixture
async def fake_wns(certs: FakeCertificates, inbox: Inbox) -> AsyncIterator[FakeWns]:
    async with FakeWns(certs, inbox) as fake:
        fake.register_client(CLIENT_ID, SECRET)
        yield fake


@contextlib.asynccontextmanager
async def silent_server(context: ssl.SSLContext | None = None) -> AsyncIterator[str]:
    """A listener that accepts and never answers: without `context` not even the TLS
    handshake (libcurl's APNs path), with it after the handshake (httpx2 leaks a transport
    cancelled inside the handshake, which the warnings filter turns into an error)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0, ssl=context)
    try:
        yield f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        for writer in held:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        server.close()
        await server.wait_closed()


def fcm_registry(world: FcmWorld) -> ProviderRegistry:
    """The FCM world has a CA of its own."""
    options = ProviderOptions(ca_file=str(world.certs.ca_file), allow_private_addresses=True)
    return ProviderRegistry(default_kinds(), options)


def wns_credential(endpoint: str, secret: str = SECRET) -> ProviderCredential:
    return ProviderCredential(
        1, "wns", {"client_id": CLIENT_ID}, {"client_secret": secret}, endpoint, "v1"
    )


def assert_no_secret(result: ProbeResult, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in repr(result)


async def test_apns_good_key_is_accepted_and_nothing_is_delivered(
    fake_apns: FakeApns, apns_key: ec.EllipticCurvePrivateKey, registry: ProviderRegistry
) -> None:
    for sandbox, url in ((False, fake_apns.url), (True, fake_apns.sandbox_url)):
        credential = token_credential(apns_key, fake_apns.url, sandbox_endpoint=url)
        result = await probe_credential(credential, registry, sandbox=sandbox)
        environment = "sandbox" if sandbox else "production"
        assert (result.ok, result.checked) == (True, "provider"), result
        assert result.detail.startswith("BadDeviceToken")
        assert environment in result.detail
    assert fake_apns.inbox.received == []


@pytest.mark.parametrize("wrong", ["key", "team"])
async def test_apns_wrong_key_or_team_is_refused_with_apples_reason(
    wrong: str,
    fake_apns: FakeApns,
    apns_key: ec.EllipticCurvePrivateKey,
    registry: ProviderRegistry,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1()) if wrong == "key" else apns_key
    credential = token_credential(key, fake_apns.url)
    if wrong == "team":
        credential = replace(credential, settings={**credential.settings, "team_id": "OTHER12345"})
    assert credential.settings["team_id"] == ("OTHER12345" if wrong == "team" else TEAM_ID)
    result = await probe_credential(credential, registry)
    assert (result.ok, result.checked) == (False, "provider")
    assert result.detail.startswith("InvalidProviderToken")
    assert_no_secret(result, str(credential.secret["key"]).splitlines()[1])


@pytest.mark.parametrize(
    ("issued_for", "ok", "reason"),
    [(TOPIC, True, "BadDeviceToken"), ("com.unrelated.app", False, "TopicDisallowed")],
)
async def test_apns_certificate_is_accepted_only_for_its_topic(
    issued_for: str,
    ok: bool,
    reason: str,
    fake_apns: FakeApns,
    certs: FakeCertificates,
    registry: ProviderRegistry,
) -> None:
    certificate, private_key = certs.issue_client_certificate(issued_for)
    credential = certificate_credential(certificate, private_key, fake_apns.url)
    result = await probe_credential(credential, registry)
    assert (result.ok, result.checked) == (ok, "provider"), result
    assert result.detail.startswith(reason)
    assert_no_secret(result, private_key.decode().splitlines()[1])


async def test_apns_credential_endpoint_on_a_private_address_is_not_called(
    fake_apns: FakeApns, apns_key: ec.EllipticCurvePrivateKey, provider_options: ProviderOptions
) -> None:
    registry = ProviderRegistry(default_kinds(), provider_options)  # not fake-provider mode
    result = await probe_credential(token_credential(apns_key, fake_apns.url), registry)
    assert (result.ok, result.checked) == (False, "offline")
    assert result.detail.startswith("endpoint refused")
    assert fake_apns.opened_connections == 0


@pytest.mark.parametrize("provider", ["apns", "wns"])
async def test_unreachable_provider_is_not_ok_within_the_timeout(
    provider: str,
    apns_key: ec.EllipticCurvePrivateKey,
    registry: ProviderRegistry,
    certs: FakeCertificates,
) -> None:
    context = certs.server_context(("http/1.1",)) if provider == "wns" else None
    async with silent_server(context) as url:
        credential = token_credential(apns_key, url) if provider == "apns" else wns_credential(url)
        started = time.monotonic()
        result = await probe_credential(credential, registry, timeout_s=0.5)
        elapsed = time.monotonic() - started
    assert (result.ok, result.checked) == (False, "provider")
    assert elapsed < 3.0, elapsed  # the timeout plus closing, not the adapter's 30 s
    assert "unreachable" in result.detail or "no answer within" in result.detail, result.detail


async def test_fcm_service_account_gets_a_token_and_a_validate_only_send(
    fcm_world: FcmWorld,
) -> None:
    result = await probe_credential(fcm_world.credential(), fcm_registry(fcm_world))
    assert (result.ok, result.checked) == (True, "provider"), result
    assert "validate_only" in result.detail
    assert fcm_world.fake.token_requests == 1
    assert fcm_world.inbox.received == []  # validate_only: nothing delivered


async def test_fcm_wrong_service_account_key_is_refused_by_the_token_endpoint(
    fcm_world: FcmWorld,
) -> None:
    account = dict(fcm_world.fake.service_account("pushgate-test"))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    account["private_key"] = other.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    result = await probe_credential(fcm_world.credential(account), fcm_registry(fcm_world))
    assert (result.ok, result.checked) == (False, "provider")
    assert "invalid_grant" in result.detail
    assert_no_secret(result, account["private_key"].splitlines()[1])


async def test_wns_good_secret_gets_a_token_and_a_wrong_one_is_refused(
    fake_wns: FakeWns, registry: ProviderRegistry
) -> None:
    good = await probe_credential(wns_credential(fake_wns.url), registry)
    assert (good.ok, good.checked) == (True, "provider"), good
    bad = await probe_credential(wns_credential(fake_wns.url, "wrong-secret"), registry)
    assert (bad.ok, bad.checked) == (False, "provider")
    assert "invalid_client" in bad.detail
    assert_no_secret(bad, "wrong-secret")


async def test_webpush_is_checked_offline_and_reports_its_public_key(
    registry: ProviderRegistry,
) -> None:
    checked = check_credential("webpush", {"subject": "mailto:ops@example.com", "generate": True})
    credential = ProviderCredential(1, "webpush", checked.settings, checked.secret, None, "v1")
    result = await probe_credential(credential, registry)
    assert (result.ok, result.checked) == (True, "offline")
    assert result.public_key == checked.settings["public_key"]
    assert_no_secret(result, str(checked.secret["private_key"]))
