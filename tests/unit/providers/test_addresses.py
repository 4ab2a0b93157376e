"""The SSRF guard: every refused range (IPv4, IPv6, IPv6 forms carrying IPv4), URL rules,
resolution, and the two ways an operator admits an address (fake mode, allow-list)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pytest

from pushgate.errors import InvalidInput
from pushgate.providers.addresses import (
    UnresolvableHost,
    blocked_reason,
    check_public_url,
    check_push_endpoint,
    parse_public_url,
)

pytestmark = pytest.mark.anyio

BLOCKED: list[tuple[str, str]] = [
    # IPv4
    ("0.0.0.0", "unspecified"),  # noqa: S104 - an address under test, not a bind
    ("0.1.2.3", "unspecified"),
    ("10.0.0.1", "private"),
    ("10.255.255.255", "private"),
    ("100.64.0.1", "reserved"),  # carrier-grade NAT
    ("100.127.255.254", "reserved"),
    ("127.0.0.1", "loopback"),
    ("127.53.1.2", "loopback"),
    ("169.254.0.1", "link-local"),
    ("169.254.169.254", "metadata"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.0.0.8", "reserved"),
    ("192.0.2.10", "reserved"),
    ("192.88.99.1", "reserved"),
    ("192.168.1.1", "private"),
    ("198.18.0.1", "reserved"),
    ("198.19.255.255", "reserved"),
    ("198.51.100.7", "reserved"),
    ("203.0.113.9", "reserved"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    # IPv6
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("::127.0.0.1", "reserved"),  # deprecated IPv4-compatible form
    ("::ffff:0:7f00:1", "reserved"),  # IPv4-translated form
    ("64:ff9b:1::1", "private"),
    ("100::1", "reserved"),
    ("2001::1", "reserved"),  # Teredo
    ("2001:db8::1", "reserved"),
    ("3fff::1", "reserved"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("fd00:ec2::254", "metadata"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("febf::1", "link-local"),
    ("fec0::1", "private"),
    ("ff02::1", "multicast"),
    # IPv6 forms that carry an IPv4 address: the IPv4 address is what is checked
    ("::ffff:127.0.0.1", "loopback (IPv4 inside IPv6)"),
    ("::ffff:10.1.2.3", "private (IPv4 inside IPv6)"),
    ("::ffff:169.254.169.254", "metadata (IPv4 inside IPv6)"),
    ("::ffff:0.0.0.0", "unspecified (IPv4 inside IPv6)"),
    ("2002:7f00:1::", "loopback (IPv4 inside IPv6)"),  # 6to4 of 127.0.0.1
    ("2002:a9fe:a9fe::1", "metadata (IPv4 inside IPv6)"),  # 6to4 of 169.254.169.254
    ("64:ff9b::7f00:1", "loopback (IPv4 inside IPv6)"),  # NAT64 of 127.0.0.1
    ("64:ff9b::c0a8:101", "private (IPv4 inside IPv6)"),  # NAT64 of 192.168.1.1
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "142.250.80.10",
    "172.32.0.1",  # just past 172.16.0.0/12
    "100.128.0.1",  # just past 100.64.0.0/10
    "169.255.0.1",
    "2606:4700::1111",
    "2001:4860:4860::8888",
    "2a00:1450:4001::1",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
]


@pytest.mark.parametrize(("address", "reason"), BLOCKED, ids=[a for a, _ in BLOCKED])
def test_blocked_ranges_are_named(address: str, reason: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://push.example.com/x",
        "ftp://push.example.com/x",
        "push.example.com/x",
        "https:///x",
        "https://",
        "https://user:pw@push.example.com/x",
        "https://user@push.example.com/x",
        "https://:pw@push.example.com/x",
        "https://push.example.com:99999/x",
        "https://push.example.com/a b",
        "https://[::1/x",
    ],
)
def test_url_rules_refuse(url: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_public_url(url, field="token")
    assert caught.value.field == "token"


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("https://Push.Example.COM./wp/1", "push.example.com", 443),
        ("HTTPS://push.example.com:8443/wp/1", "push.example.com", 8443),
        ("https://[2606:4700::1111]/x", "2606:4700::1111", 443),
    ],
)
def test_url_host_and_port_are_normalised(url: str, host: str, port: int) -> None:
    parsed = parse_public_url(url)
    assert (parsed.host, parsed.port) == (host, port)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/x",
        "https://127.1/x",  # the legacy spellings resolvers and libcurl accept
        "https://0x7f.0.0.1/x",
        "https://2130706433/x",
        "https://017700000001/x",
        "https://[::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://[fe80::1%25eth0]:8443/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[fd00:ec2::254]/",
    ],
)
async def test_literal_private_addresses_are_refused_without_dns(url: str) -> None:
    async def no_dns(host: str, port: int) -> Sequence[str]:
        raise AssertionError("a literal address needs no look-up")

    with pytest.raises(InvalidInput) as caught:
        await check_push_endpoint(url, allow_private=False, resolver=no_dns)
    assert caught.value.field == "token"
    assert not isinstance(caught.value, UnresolvableHost)


async def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    async def resolve(host: str, port: int) -> Sequence[str]:
        assert (host, port) == ("push.example.com", 443)
        return ["10.0.0.7"]

    with pytest.raises(InvalidInput) as caught:
        await check_push_endpoint(
            "https://push.example.com/wp/1", allow_private=False, resolver=resolve
        )
    assert caught.value.details == {"address": "10.0.0.7", "reason": "private"}


async def test_one_private_answer_among_public_ones_is_refused() -> None:
    async def resolve(host: str, port: int) -> Sequence[str]:
        return ["8.8.8.8", "::1"]

    with pytest.raises(InvalidInput):
        await check_push_endpoint("https://x.example/wp", allow_private=False, resolver=resolve)


async def test_a_name_resolving_to_public_addresses_passes() -> None:
    async def resolve(host: str, port: int) -> Sequence[str]:
        return ["142.250.80.10", "2a00:1450:4001::1"]

    parsed = await check_public_url(
        "https://fcm.googleapis.com/fcm/send/abc", allow_private=False, resolver=resolve
    )
    assert parsed.host == "fcm.googleapis.com"


@pytest.mark.parametrize("answers", [[], None])
async def test_a_name_that_does_not_resolve_is_unresolvable(answers: list[str] | None) -> None:
    async def resolve(host: str, port: int) -> Sequence[str]:
        if answers is None:
            raise OSError("Name or service not known")
        return answers

    with pytest.raises(UnresolvableHost) as caught:
        await check_push_endpoint("https://gone.example/wp", allow_private=False, resolver=resolve)
    assert caught.value.field == "token"


async def test_localhost_is_refused_through_the_system_resolver() -> None:
    with pytest.raises(InvalidInput) as caught:
        await check_push_endpoint("https://localhost:8443/wp/1", allow_private=False)
    assert caught.value.details["reason"] == "loopback"


async def test_fake_provider_mode_admits_private_addresses_but_not_http() -> None:
    await check_push_endpoint("https://127.0.0.1:9999/wp/1", allow_private=True)
    await check_push_endpoint("https://localhost/wp/1", allow_private=True)
    with pytest.raises(InvalidInput):
        await check_push_endpoint("http://127.0.0.1:9999/wp/1", allow_private=True)


async def test_the_operator_allow_list_admits_named_hosts_only() -> None:
    allowed = frozenset({"push.internal.example", "10.0.0.5"})

    async def resolve(host: str, port: int) -> Sequence[str]:
        return ["10.0.0.9"]

    await check_push_endpoint(
        "https://push.internal.example/wp",
        allow_private=False,
        allow_hosts=allowed,
        resolver=resolve,
    )
    await check_push_endpoint("https://10.0.0.5/wp", allow_private=False, allow_hosts=allowed)
    with pytest.raises(InvalidInput):
        await check_push_endpoint(
            "https://other.internal.example/wp",
            allow_private=False,
            allow_hosts=allowed,
            resolver=resolve,
        )


async def test_webhook_urls_use_the_same_guard_with_their_own_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        await check_public_url("https://192.168.0.1/hook", allow_private=False, field="url")
    assert caught.value.field == "url"
