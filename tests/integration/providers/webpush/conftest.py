"""Fixtures of the Web Push adapter tests: a CA of their own, a clock the adapter and the fake
share, the fake push service and an adapter pointed at it (building blocks: webpush_helpers)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pushgate.fakes.inbox import Inbox
from pushgate.fakes.tls import FakeCertificates
from pushgate.fakes.webpush import FakeWebPush
from pushgate.providers.base import ProviderCredential
from pushgate.providers.webpush import WebPushProvider
from tests.integration.providers.webpush_helpers import UnixClock, credential, options, provider


@pytest.fixture
def certs(tmp_path: Path) -> FakeCertificates:
    return FakeCertificates(tmp_path / "certs")


@pytest.fixture
def clock() -> UnixClock:
    return UnixClock()


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def cred() -> ProviderCredential:
    return credential()


@pytest.fixture
async def fake(
    certs: FakeCertificates, inbox: Inbox, clock: UnixClock
) -> AsyncIterator[FakeWebPush]:
    async with FakeWebPush(certs, inbox, clock=clock) as server:
        yield server


@pytest.fixture
async def adapter(
    cred: ProviderCredential, certs: FakeCertificates, clock: UnixClock
) -> AsyncIterator[WebPushProvider]:
    built = provider(cred, options(certs), clock)
    yield built
    await built.aclose()
