"""The registry entries the lead wires in: names, limits, rendering and building."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pushgate.domain.payload import Content, DeliveryOptions
from pushgate.domain.platforms import Platform
from pushgate.providers.base import ProviderCredential, ProviderOptions, Push
from pushgate.providers.batching import TIMED_OUT, transport_result
from pushgate.providers.http import ConnectFailed, TimedOut
from pushgate.providers.registry import ProviderKind, ProviderRegistry
from pushgate.providers.sms import sms_kind
from pushgate.providers.wns import wns_kind

pytestmark = pytest.mark.anyio

OPTIONS = DeliveryOptions(datetime(2030, 1, 1, tzinfo=UTC))


def test_wns_kind_checks_the_5000_byte_limit() -> None:
    registry = ProviderRegistry({"wns": wns_kind()}, ProviderOptions())
    assert not registry.oversized(Push(Content(body="x" * 2000), OPTIONS), Platform.WNS)
    assert registry.oversized(Push(Content(body="€" * 2000), OPTIONS), Platform.WNS)


def test_sms_kind_renders_the_text() -> None:
    kind = sms_kind()
    assert (kind.name, kind.needs_credential) == ("sms", True)
    assert kind.render(Push(Content(title="T", body="é"), OPTIONS), Platform.SMS) == "T\né".encode()


@pytest.mark.parametrize("kind", [wns_kind(), sms_kind()])
def test_kinds_need_a_credential(kind: ProviderKind) -> None:
    with pytest.raises(ValueError, match="credential"):
        kind.build(None, ProviderOptions())


async def test_kinds_build_closable_providers() -> None:
    wns = ProviderCredential(1, "wns", {"client_id": "c"}, {"client_secret": "s"}, None, "1")
    sms = ProviderCredential(1, "sms", {"gateway_url": "https://g/x"}, {}, None, "1")
    for kind, credential in ((wns_kind(), wns), (sms_kind(), sms)):
        provider = kind.build(credential, ProviderOptions())
        await provider.aclose()


def test_a_transport_timeout_reads_like_the_batch_deadline() -> None:
    assert transport_result(TimedOut("x")) == TIMED_OUT
    assert transport_result(ConnectFailed("x")).unsent
    assert transport_result(ConnectFailed("https://h/?token=secret")).reason == "ConnectFailed"
