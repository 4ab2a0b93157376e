"""Canonical platforms and the vendor aliases that map onto them.

Every front door names platforms its own way: MobileFirst `A`/`G`/`W`, ServiceNow `Apple`/
`Android`, Discord `gcm`/`apns_internal_voip`, SAP `ios`/`android`/`w3c`. They all resolve here,
case-insensitively. `_internal` is Discord's name for the APNs sandbox (development) gateway.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pushgate.errors import InvalidInput


class Platform(StrEnum):
    APNS = "apns"
    APNS_VOIP = "apns_voip"
    FCM = "fcm"
    WEBPUSH = "webpush"
    WNS = "wns"
    SMS = "sms"

    @property
    def provider(self) -> str:
        """The provider whose credentials deliver to this platform."""
        return "apns" if self in (Platform.APNS, Platform.APNS_VOIP) else self.value


@dataclass(frozen=True, slots=True)
class ResolvedPlatform:
    platform: Platform
    # True when the alias itself names the sandbox (apns_internal); None when it says nothing.
    sandbox: bool | None = None


_ALIASES: dict[str, ResolvedPlatform] = {}


def _alias(platform: Platform, *names: str, sandbox: bool | None = None) -> None:
    for name in names:
        _ALIASES[name.lower()] = ResolvedPlatform(platform, sandbox)


_alias(Platform.APNS, "apns", "ios", "apple", "a", "ipados", "macos")
_alias(Platform.APNS, "apns_internal", "apns_sandbox", "ios_sandbox", sandbox=True)
_alias(Platform.APNS_VOIP, "apns_voip", "voip", "ios_voip")
_alias(Platform.APNS_VOIP, "apns_internal_voip", "apns_voip_sandbox", sandbox=True)
_alias(Platform.FCM, "fcm", "gcm", "android", "g", "google", "firebase")
_alias(Platform.WEBPUSH, "webpush", "web_push", "web", "w3c", "w3c_push", "browser")
_alias(Platform.WNS, "wns", "windows", "w", "microsoft", "mpns")
_alias(Platform.SMS, "sms", "phone")

ALIASES: dict[str, ResolvedPlatform] = dict(_ALIASES)


def resolve_platform(name: str, *, field: str = "platform") -> ResolvedPlatform:
    """Map a vendor alias (any case) to its canonical platform, or raise naming the field."""
    resolved = ALIASES.get(name.strip().lower())
    if resolved is None:
        known = ", ".join(sorted(p.value for p in Platform))
        raise InvalidInput(f"unknown platform; use one of {known} or a vendor alias", field=field)
    return resolved
