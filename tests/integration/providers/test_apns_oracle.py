"""Independent oracle: aioapns, a third-party APNs client, must get through to the fake APNs.

Pointed at the fake as providers.md section 7 describes, nothing else patched: a subclass of
its protocol class names the fake's host and port, and it gets an ssl context trusting the
fake's CA. If the fake misread APNs, a client written by others against the real service
would fail here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from aioapns import APNs, NotificationRequest
from aioapns.connection import APNsProductionClientProtocol
from cryptography.hazmat.primitives.asymmetric import ec

from pushgate.fakes.apns import FakeApns
from pushgate.fakes.inbox import Inbox
from pushgate.fakes.tls import FakeCertificates
from tests.integration.providers.apns_setup import KEY_ID, TEAM_ID, TOPIC, hex_tokens, private_pem

pytestmark = pytest.mark.anyio


@pytest.fixture
async def aioapns_client(
    fake_apns: FakeApns, certs: FakeCertificates, apns_key: ec.EllipticCurvePrivateKey
) -> AsyncIterator[APNs]:
    address = urlsplit(fake_apns.url)

    class FakeHostProtocol(APNsProductionClientProtocol):
        APNS_SERVER = address.hostname or "127.0.0.1"
        APNS_PORT = address.port or 443

    client = APNs(
        key=private_pem(apns_key),
        key_id=KEY_ID,
        team_id=TEAM_ID,
        topic=TOPIC,
        ssl_context=certs.client_context(),
        max_connections=2,
    )
    client.pool.protocol_class = FakeHostProtocol
    logging.getLogger("aioapns").setLevel(logging.CRITICAL)  # it logs every refusal as an error
    yield client
    client.pool.close()
    await asyncio.sleep(0)  # let the transports' close callbacks run before the loop ends


async def test_aioapns_notification_is_accepted_and_recorded(
    aioapns_client: APNs, inbox: Inbox
) -> None:
    token = hex_tokens(1)[0]
    request = NotificationRequest(token, {"aps": {"alert": "from aioapns"}})
    result = await aioapns_client.send_notification(request)
    assert result.is_successful, (result.status, result.description)
    [received] = inbox.received
    assert received.token == token
    assert received.payload == {"aps": {"alert": "from aioapns"}}
    assert received.message_id == request.notification_id


async def test_aioapns_reads_the_fakes_410_with_timestamp(aioapns_client: APNs) -> None:
    request = NotificationRequest(hex_tokens(1, "dead")[0], {"aps": {"alert": "x"}})
    result = await aioapns_client.send_notification(request)
    assert (result.status, result.description) == ("410", "Unregistered")
    assert isinstance(result.timestamp, int)


async def test_aioapns_gets_through_a_stream_limit_of_1(
    aioapns_client: APNs, fake_apns: FakeApns, inbox: Inbox
) -> None:
    fake_apns.plan.initial_max_streams = 1
    tokens = hex_tokens(40)
    requests = [NotificationRequest(t, {"aps": {"alert": "burst"}}) for t in tokens]
    results = await asyncio.gather(*(aioapns_client.send_notification(r) for r in requests))
    assert all(r.is_successful for r in results), {(r.status, r.description) for r in results}
    assert sorted(inbox.tokens()) == sorted(tokens)
