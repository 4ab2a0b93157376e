"""The adapter pool closes every adapter it built, also when two refreshes of one app and
provider run at once (two lanes asking together): the second used to drop the first's
adapter unclosed, and its connections leaked until garbage collection."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from pushgate.delivery.adapters import AdapterPool
from pushgate.providers.base import Provider, ProviderCredential, ProviderOptions
from pushgate.providers.kinds import ProviderRegistry
from pushgate.providers.recording import Recorder, RecordingProvider, recording_kinds
from pushgate.store.engine import Database

pytestmark = pytest.mark.anyio


class Counted(RecordingProvider):
    closes = 0  # of every Counted adapter

    async def aclose(self) -> None:
        Counted.closes += 1
        await super().aclose()


async def test_concurrent_refreshes_leave_no_adapter_unclosed(database: Database) -> None:
    recorder = Recorder()
    built: list[Provider] = []

    def build(_credential: ProviderCredential | None, _options: ProviderOptions) -> Provider:
        provider = Counted("fcm", recorder)
        built.append(provider)
        return provider

    kinds = recording_kinds(recorder)
    kinds["fcm"] = replace(kinds["fcm"], build=build)
    pool = AdapterPool(ProviderRegistry(kinds, ProviderOptions()), database, lambda _s: {})
    Counted.closes = 0
    got = await asyncio.gather(*(pool.get(1, "fcm") for _ in range(4)))
    assert all(isinstance(p, Counted) for p in got)
    await pool.aclose()
    current = await pool.get(1, "fcm")
    # Every adapter built but the one the pool holds now was closed by aclose.
    assert Counted.closes == len(built) - 1, (Counted.closes, len(built))
    assert current in built
