"""The one place a provider is added: provider name -> its adapter's entry (kinds.py)."""

from __future__ import annotations

from pushgate.providers.apns import apns_kind
from pushgate.providers.fcm import fcm_kind
from pushgate.providers.kinds import ProviderKind, ProviderRegistry
from pushgate.providers.sms import sms_kind
from pushgate.providers.webpush import webpush_kind
from pushgate.providers.wns import wns_kind

__all__ = ["ProviderKind", "ProviderRegistry", "default_kinds"]


def default_kinds() -> dict[str, ProviderKind]:
    """The adapters this build ships, by provider (credential) name."""
    kinds = (apns_kind(), fcm_kind(), webpush_kind(), wns_kind(), sms_kind())
    return {kind.name: kind for kind in kinds}
