"""What the engine knows of a provider: how to render for it, its limit, how to build it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pushgate.domain.platforms import Platform
from pushgate.providers.base import Provider, ProviderCredential, ProviderOptions, Push

Render = Callable[[Push, Platform], bytes]
Build = Callable[[ProviderCredential | None, ProviderOptions], Provider]


@dataclass(frozen=True, slots=True)
class ProviderKind:
    name: str  # the credential's provider name: apns, fcm, webpush, wns, sms
    needs_credential: bool
    # The wire body for a push (Web Push: the plaintext before encryption), and its limit:
    # used before queueing (per-target "too large", result code 9) and for previews.
    render: Render
    payload_limit: Callable[[Platform], int]
    build: Build


class ProviderRegistry:
    """Which adapter delivers each provider's platforms in this process."""

    def __init__(self, kinds: Mapping[str, ProviderKind], options: ProviderOptions) -> None:
        self._kinds = dict(kinds)
        self.options = options

    def kind(self, provider: str) -> ProviderKind | None:
        return self._kinds.get(provider)

    def oversized(self, push: Push, platform: Platform) -> bool:
        """True when the rendered payload for `platform` exceeds that provider's limit."""
        kind = self._kinds.get(platform.provider)
        if kind is None:
            return False
        return len(kind.render(push, platform)) > kind.payload_limit(platform)
