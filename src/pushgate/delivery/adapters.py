"""The provider adapters of one worker process: one per (app, provider), rebuilt on change.

An adapter owns its connections and auth tokens, so it lives as long as its credential: a
replaced credential (new version) closes the old adapter and builds a new one. Credentials
are re-read at most every `refresh_s`, so a change reaches running workers within that.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import structlog

from pushgate.domain.records import JsonObject
from pushgate.providers.base import Provider, ProviderCredential
from pushgate.providers.kinds import ProviderRegistry
from pushgate.store.engine import Database
from pushgate.store.uow import unit_of_work
from pushgate.telemetry import PROVIDER_ADAPTERS

_log = structlog.get_logger("pushgate.delivery")


class FallbackCredential(Protocol):
    """A credential for apps without their own (fake-provider mode's test credentials)."""

    @property
    def settings(self) -> JsonObject: ...

    @property
    def secret(self) -> JsonObject: ...


@dataclass(frozen=True, slots=True)
class Unavailable:
    """Why an app cannot send through a provider now (result code 4: configuration)."""

    reason: str


@dataclass(slots=True)
class _Entry:
    provider: Provider | None
    version: str | None
    checked_at: float
    unavailable: Unavailable | None = None


class AdapterPool:
    def __init__(
        self,
        registry: ProviderRegistry,
        db: Database,
        open_secret: Callable[[str], JsonObject],
        *,
        refresh_s: float = 10.0,
        fallback: Mapping[str, FallbackCredential] | None = None,
    ) -> None:
        self._registry = registry
        self._fallback = dict(fallback or {})
        self._db = db
        self._open = open_secret
        self._refresh_s = refresh_s
        self._entries: dict[tuple[int, str], _Entry] = {}
        # Replaced adapters, with when they were replaced: a batch may still be using one.
        self._retired: list[tuple[Provider, float]] = []

    async def get(self, app_id: int, provider: str) -> Provider | Unavailable:
        key = (app_id, provider)
        entry = self._entries.get(key)
        now = time.monotonic()
        if entry is None or now - entry.checked_at > self._refresh_s:
            entry = await self._refresh(key, entry, now)
        if entry.unavailable is not None:
            return entry.unavailable
        assert entry.provider is not None  # noqa: S101 - set whenever unavailable is not
        return entry.provider

    async def _refresh(self, key: tuple[int, str], old: _Entry | None, now: float) -> _Entry:
        app_id, provider = key
        kind = self._registry.kind(provider)
        if kind is None:
            entry = _Entry(None, None, now, Unavailable(f"no {provider} adapter in this build"))
            return self._replace(key, entry)
        credential = await self._credential(app_id, provider)
        version = credential.version if credential else None
        if old is not None and old.version == version and old.provider is not None:
            old.checked_at = now
            return old
        if credential is None and kind.needs_credential:
            entry = _Entry(None, None, now, Unavailable(f"no {provider} credentials for this app"))
        else:
            entry = _Entry(kind.build(credential, self._registry.options), version, now)
        return self._replace(key, entry)

    def _replace(self, key: tuple[int, str], new: _Entry) -> _Entry:
        # What the pool holds now, not what this refresh started from: two refreshes of one
        # key (two lanes asking at once) both await the database, and the second used to drop
        # the first's adapter unclosed (its connections leaked until garbage collection).
        current = self._entries.get(key)
        self._entries[key] = new
        held = current.provider if current is not None else None
        if held is not new.provider:
            if held is not None:
                self._retired.append((held, new.checked_at))
                PROVIDER_ADAPTERS.labels(key[1]).dec()
            if new.provider is not None:
                PROVIDER_ADAPTERS.labels(key[1]).inc()
        return new

    async def _credential(self, app_id: int, provider: str) -> ProviderCredential | None:
        async with unit_of_work(self._db, readonly=True) as uow:
            info = await uow.credentials.get(app_id, provider)
            sealed = await uow.credentials.get_sealed(app_id, provider)
        if info is None or sealed is None:
            return self._fallback_for(app_id, provider)
        return ProviderCredential(
            app_id=app_id,
            provider=provider,
            settings=info.settings,
            secret=self._open(sealed),
            endpoint=info.endpoint,
            version=info.updated_at.isoformat(),
        )

    def _fallback_for(self, app_id: int, provider: str) -> ProviderCredential | None:
        found = self._fallback.get(provider)
        if found is None:
            return None
        return ProviderCredential(
            app_id, provider, found.settings, found.secret, endpoint=None, version="fallback"
        )

    async def close_retired(self, *, older_than_s: float = 120.0) -> None:
        """Close adapters replaced long enough ago that no batch still uses them."""
        cutoff = time.monotonic() - older_than_s
        due = [p for p, at in self._retired if at <= cutoff]
        self._retired = [(p, at) for p, at in self._retired if at > cutoff]
        for provider in due:
            await _close(provider)

    async def aclose(self) -> None:
        await self.close_retired(older_than_s=-1.0)
        entries, self._entries = self._entries, {}
        for (_, provider), entry in entries.items():
            if entry.provider is not None:
                PROVIDER_ADAPTERS.labels(provider).dec()
                await _close(entry.provider)


async def _close(provider: Provider) -> None:
    try:
        await provider.aclose()
    except Exception:
        _log.exception("closing a provider adapter failed")
