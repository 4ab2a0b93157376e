"""Fixtures of the adapter-vs-fake tests: a trustme CA, the fake APNs and its key, a clock, a
fake's ServerPlan, and the FCM world (each adapter's own helpers live in its *_support /
*_setup module)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from pushgate.fakes.apns import FakeApns
from pushgate.fakes.behaviour import ServerPlan
from pushgate.fakes.inbox import Inbox
from pushgate.fakes.tls import FakeCertificates
from pushgate.providers.base import ProviderOptions
from tests.integration.providers.apns_setup import KEY_ID, TEAM_ID, TOPIC, Clock
from tests.integration.providers.fcm_support import FcmWorld, fcm_world_running

# The WNS and SMS tests' shared checks assert inside the helper module: rewrite them too.
pytest.register_assert_rewrite("tests.integration.providers.wns_sms_support")


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> FakeCertificates:
    return FakeCertificates(Path(tmp_path_factory.mktemp("fake-ca")))


@pytest.fixture(scope="session")
def apns_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def plan() -> ServerPlan:
    """The whole-server behaviour of the fake a test starts (WNS, SMS)."""
    return ServerPlan()


@pytest.fixture
def provider_options(certs: FakeCertificates) -> ProviderOptions:
    return ProviderOptions(ca_file=str(certs.ca_file))


@pytest.fixture
async def fake_apns(
    certs: FakeCertificates, inbox: Inbox, apns_key: ec.EllipticCurvePrivateKey, clock: Clock
) -> AsyncIterator[FakeApns]:
    async with FakeApns(certs, inbox, topics=[TOPIC], clock=clock) as fake:
        fake.add_key(KEY_ID, TEAM_ID, apns_key.public_key())
        yield fake


@pytest.fixture
async def fcm_world(tmp_path: Path) -> AsyncIterator[FcmWorld]:
    async with fcm_world_running(tmp_path) as world:
        yield world
