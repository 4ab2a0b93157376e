"""X.509 service keys: a key with a client certificate, presented over a real TLS socket to
pushgate's own TLS termination (uvicorn with cli_tls's protocol), or forwarded by a trusted
proxy in the configured header."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import trustme
import uvicorn

from pushgate.app import create_app
from pushgate.cli_tls import PROTOCOL
from pushgate.http.deps import Runtime
from tests.e2e.server import free_port
from tests.integration.api.helpers import ADMIN
from tests.integration.dialects.sap.conftest import Keys, make_user, register_device
from tests.integration.dialects.sap.samples import PUSH_TO_DEVICE, SERVICE_PATH

pytestmark = pytest.mark.anyio
PLACES = {"username": "user1", "deviceId": "d1"}
CERTIFICATE = "/v1/apps/news/keys/backend/certificate"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def device(client: httpx.AsyncClient, keys: Keys) -> dict[str, Any]:
    user = await make_user(client, "user1")
    return await register_device(client, user, "d1", "tok-d1")


async def attach(client: httpx.AsyncClient, cert: trustme.LeafCert) -> str:
    pem = cert.cert_chain_pems[0].bytes().decode()
    response = await client.put(CERTIFICATE, json={"certificate": pem}, headers=ADMIN)
    assert response.status_code == 200, response.text
    fingerprint: str = response.json()["sha256"]
    return fingerprint


@pytest.fixture
async def tls_server(runtime: Runtime, ca: trustme.CA, tmp_path: Path) -> AsyncIterator[str]:
    """The app behind uvicorn with TLS, requesting client certificates of `ca`."""
    server_cert = ca.issue_cert("127.0.0.1")
    chain, ca_file = tmp_path / "server.pem", tmp_path / "ca.pem"
    server_cert.private_key_and_cert_chain_pem.write_to_path(str(chain))
    ca.cert_pem.write_to_path(str(ca_file))
    port = free_port()
    config = uvicorn.Config(
        create_app(runtime.settings, runtime),
        host="127.0.0.1",
        port=port,
        http=PROTOCOL,
        ws="none",
        lifespan="off",
        log_config=None,
        log_level="warning",
        ssl_certfile=str(chain),
        ssl_ca_certs=str(ca_file),
        ssl_cert_reqs=ssl.CERT_OPTIONAL,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)  # another server's start-up: nothing to await on
    yield f"https://127.0.0.1:{port}"
    server.should_exit = True
    await task


def tls_client(base_url: str, ca: trustme.CA, cert: trustme.LeafCert | None) -> httpx.AsyncClient:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    if cert is not None:
        cert.configure_cert(context)
    return httpx.AsyncClient(base_url=base_url, verify=context)


async def test_a_client_certificate_over_tls_authenticates_as_its_key(
    client: httpx.AsyncClient,
    keys: Keys,
    device: dict[str, Any],
    ca: trustme.CA,
    tls_server: str,
) -> None:
    cert = ca.issue_cert("backend@news")
    await attach(client, cert)
    path = PUSH_TO_DEVICE.path(**PLACES)
    headers = {"content-type": "application/json"}
    async with tls_client(tls_server, ca, cert) as https:
        response = await https.post(path, content=PUSH_TO_DEVICE.body, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["pushResults"][0]["target"] == device["id"]
    stranger = ca.issue_cert("nobody@news")  # issued by the CA, attached to no key
    async with tls_client(tls_server, ca, stranger) as https:
        response = await https.post(path, content=PUSH_TO_DEVICE.body, headers=headers)
        assert response.status_code == 401
    async with tls_client(tls_server, ca, None) as https:
        response = await https.post(path, content=PUSH_TO_DEVICE.body, headers=headers)
        assert response.status_code == 401
        # An API key still works without a client certificate.
        response = await https.post(
            path, content=PUSH_TO_DEVICE.body, headers={**headers, "X-API-Key": keys.all}
        )
        assert response.status_code == 200
    removed = await client.delete(CERTIFICATE, headers=ADMIN)
    assert removed.status_code == 204
    async with tls_client(tls_server, ca, cert) as https:
        response = await https.post(path, content=PUSH_TO_DEVICE.body, headers=headers)
        assert response.status_code == 401


async def test_a_certificate_of_another_ca_fails_the_handshake(
    client: httpx.AsyncClient, keys: Keys, ca: trustme.CA, tls_server: str
) -> None:
    foreign = trustme.CA().issue_cert("backend@news")
    await attach(client, foreign)
    async with tls_client(tls_server, ca, foreign) as https:
        # The handshake (TLS 1.3: the first read after it) refuses the certificate.
        with pytest.raises(httpx.HTTPError):
            await https.get("/mobileservices/push/v2/backend/registrations")


async def test_the_key_certificate_endpoints(
    client: httpx.AsyncClient, keys: Keys, ca: trustme.CA
) -> None:
    assert (await client.get(CERTIFICATE, headers=ADMIN)).status_code == 404
    cert = ca.issue_cert("backend@news")
    fingerprint = await attach(client, cert)
    shown = await client.get(CERTIFICATE, headers=ADMIN)
    assert shown.json() == {"alias": "backend", "sha256": fingerprint}
    other = "/v1/apps/news/keys/single/certificate"
    pem = cert.cert_chain_pems[0].bytes().decode()
    taken = await client.put(other, json={"certificate": pem}, headers=ADMIN)
    assert taken.status_code == 409
    junk = await client.put(CERTIFICATE, json={"certificate": "not a pem"}, headers=ADMIN)
    assert junk.status_code == 400
    assert junk.json()["error"]["field"] == "certificate"
    missing = await client.put(
        "/v1/apps/news/keys/nope/certificate", json={"certificate": pem}, headers=ADMIN
    )
    assert missing.status_code == 404
    reader = await client.get(CERTIFICATE, headers={"X-API-Key": keys.all})
    assert reader.status_code == 403  # app_admin only


@pytest.mark.parametrize(
    "queue_settings",
    [{"client_cert_header": "X-SSL-Client-Cert", "sap_service_paths": [SERVICE_PATH]}],
)
async def test_a_trusted_proxy_forwards_the_verified_certificate_in_a_header(
    client: httpx.AsyncClient, keys: Keys, device: dict[str, Any], ca: trustme.CA
) -> None:
    cert = ca.issue_cert("backend@news")
    fingerprint = await attach(client, cert)
    pem = cert.cert_chain_pems[0].bytes().decode()
    der_base64 = "".join(pem.strip().splitlines()[1:-1])
    forms = [
        quote(pem),  # nginx $ssl_client_escaped_cert
        pem.replace("\n", " "),  # PEM with its line breaks folded
        der_base64,  # base64 DER
        f'By=spiffe://x;Hash={fingerprint};Subject="CN=backend@news"',  # Envoy XFCC
    ]
    path = PUSH_TO_DEVICE.path(**PLACES)
    for value in forms:
        response = await client.post(
            path,
            content=PUSH_TO_DEVICE.body,
            headers={"content-type": "application/json", "X-SSL-Client-Cert": value},
        )
        assert response.status_code == 200, (value, response.text)
    response = await client.post(
        path, content=PUSH_TO_DEVICE.body, headers={"X-SSL-Client-Cert": "%%%garbage"}
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    "queue_settings",
    [{"client_cert_header": "X-SSL-Client-Cert", "client_cert_proxies": ["10.0.0.0/8"]}],
)
async def test_the_header_of_an_untrusted_peer_is_ignored(
    client: httpx.AsyncClient, keys: Keys, device: dict[str, Any], ca: trustme.CA
) -> None:
    cert = ca.issue_cert("backend@news")
    await attach(client, cert)
    pem = cert.cert_chain_pems[0].bytes().decode()
    response = await client.post(
        PUSH_TO_DEVICE.path(push_url="", **PLACES),
        content=PUSH_TO_DEVICE.body,
        headers={"content-type": "application/json", "X-SSL-Client-Cert": quote(pem)},
    )
    assert response.status_code == 401  # the test client's 127.0.0.1 is no trusted proxy
