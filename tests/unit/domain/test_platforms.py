"""Platform aliases: every front door's vendor name resolves to one canonical platform."""

from __future__ import annotations

import pytest

from pushgate.domain.platforms import ALIASES, Platform, ResolvedPlatform, resolve_platform
from pushgate.errors import ErrorCode, InvalidInput

# The vendor names the front doors send (platforms.py docstring), written out so a removed or
# re-pointed alias fails here rather than at a customer's registration call.
VENDOR_NAMES: list[tuple[str, Platform, bool | None]] = [
    ("A", Platform.APNS, None),  # MobileFirst
    ("G", Platform.FCM, None),
    ("W", Platform.WNS, None),
    ("Apple", Platform.APNS, None),  # ServiceNow
    ("Android", Platform.FCM, None),
    ("gcm", Platform.FCM, None),  # Discord
    ("apns_internal", Platform.APNS, True),
    ("apns_internal_voip", Platform.APNS_VOIP, True),
    ("ios", Platform.APNS, None),  # SAP
    ("android", Platform.FCM, None),
    ("w3c", Platform.WEBPUSH, None),
    ("voip", Platform.APNS_VOIP, None),
    ("firebase", Platform.FCM, None),
    ("browser", Platform.WEBPUSH, None),
    ("phone", Platform.SMS, None),
]


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_every_alias_resolves_to_its_table_entry(alias: str) -> None:
    assert resolve_platform(alias) == ALIASES[alias]


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_alias_table_keys_are_lower_case(alias: str) -> None:
    assert alias == alias.lower()


@pytest.mark.parametrize(("name", "platform", "sandbox"), VENDOR_NAMES)
def test_vendor_name_resolves_to_platform(
    name: str, platform: Platform, sandbox: bool | None
) -> None:
    assert resolve_platform(name) == ResolvedPlatform(platform, sandbox)


@pytest.mark.parametrize("platform", list(Platform))
def test_canonical_name_resolves_to_itself_without_sandbox(platform: Platform) -> None:
    assert resolve_platform(platform.value) == ResolvedPlatform(platform, None)


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_alias_resolves_in_any_case(alias: str) -> None:
    expected = ALIASES[alias]
    assert resolve_platform(alias.upper()) == expected
    assert resolve_platform(alias.title()) == expected
    assert resolve_platform(alias.swapcase()) == expected


def test_surrounding_spaces_are_ignored() -> None:
    assert resolve_platform("  iOS\t") == ResolvedPlatform(Platform.APNS, None)


@pytest.mark.parametrize("alias", sorted(a for a in ALIASES if "_internal" in a))
def test_internal_alias_means_sandbox(alias: str) -> None:
    resolved = resolve_platform(alias)
    assert resolved.sandbox is True
    assert resolved.platform in (Platform.APNS, Platform.APNS_VOIP)


def test_internal_aliases_exist() -> None:
    # Guards the parametrisation above against silently running zero cases.
    assert {a for a in ALIASES if "_internal" in a} == {"apns_internal", "apns_internal_voip"}


@pytest.mark.parametrize("alias", ["apns_sandbox", "ios_sandbox", "apns_voip_sandbox"])
def test_sandbox_alias_means_sandbox(alias: str) -> None:
    assert resolve_platform(alias).sandbox is True


@pytest.mark.parametrize(
    "alias", sorted(a for a in ALIASES if "sandbox" not in a and "_internal" not in a)
)
def test_other_aliases_say_nothing_about_sandbox(alias: str) -> None:
    assert resolve_platform(alias).sandbox is None


@pytest.mark.parametrize(
    "name", ["blackberry", "Symbian-OS", "", "   ", "apns internal", "i0s", "fcm\x00", "APNS_PROD"]
)
def test_unknown_platform_is_refused_without_echoing_it(name: str) -> None:
    with pytest.raises(InvalidInput) as info:
        resolve_platform(name)
    error = info.value
    assert error.code is ErrorCode.INVALID
    assert error.field == "platform"
    if name.strip():
        assert name not in error.message
        assert name not in str(error)
    # The message tells the caller what would have worked.
    assert all(p.value in error.message for p in Platform)


def test_unknown_platform_names_the_given_field() -> None:
    with pytest.raises(InvalidInput) as info:
        resolve_platform("nokia", field="registrations[3].platform")
    assert info.value.field == "registrations[3].platform"


@pytest.mark.parametrize(
    ("platform", "provider"),
    [
        (Platform.APNS, "apns"),
        (Platform.APNS_VOIP, "apns"),
        (Platform.FCM, "fcm"),
        (Platform.WEBPUSH, "webpush"),
        (Platform.WNS, "wns"),
        (Platform.SMS, "sms"),
    ],
)
def test_provider_of_platform(platform: Platform, provider: str) -> None:
    assert platform.provider == provider


def test_every_platform_has_a_provider_case() -> None:
    assert {p.provider for p in Platform} == {"apns", "fcm", "webpush", "wns", "sms"}
