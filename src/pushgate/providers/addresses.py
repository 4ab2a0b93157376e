"""SSRF guard for URLs a tenant supplies and a worker calls: Web Push endpoints, later webhooks.

A tenant registers an endpoint; our worker POSTs to it. Without this guard a tenant could make
pushgate call its own loopback admin ports, the cloud metadata service or the private network
(issue 4: "refuse https-less URLs and any address that resolves to loopback, private,
link-local or metadata ranges, unless an operator allow-list or fake-provider mode admits it").

Two parts: pure (parse_public_url, blocked_reason: no I/O, unit-tested range by range) and one
coroutine (check_public_url / check_push_endpoint) that also resolves the host name.

Residual risk, DNS rebinding: the check resolves the name, then the transport resolves it again
when it connects, and a hostile DNS server can answer a public address to the first look-up and
a private one to the second. Ideal is connecting to the checked address (pycurl's
CURLOPT_RESOLVE can pin it); the HttpTransport protocol takes only a URL today, so the adapter
re-checks at every send (shrinking the window to milliseconds) and the residual risk is
documented here and in the Web Push adapter.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from pushgate.errors import InvalidInput

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# Every range a worker must never call, with why (IANA special-purpose registries, RFC 6890).
# Checked in order; the first match names the refusal. IPv6 forms that embed an IPv4 address
# (mapped, 6to4, NAT64) are unwrapped first and the IPv4 address is checked against this table.
BLOCKED_NETWORKS: tuple[tuple[_V4 | _V6, str], ...] = (
    (_V4("169.254.169.254/32"), "metadata"),  # AWS/GCP/Azure instance metadata service
    (_V6("fd00:ec2::254/128"), "metadata"),  # AWS metadata over IPv6 (inside fc00::/7)
    (_V4("0.0.0.0/8"), "unspecified"),  # RFC 1122 "this network"; 0.0.0.0 reaches localhost
    (_V4("10.0.0.0/8"), "private"),  # RFC 1918
    (_V4("100.64.0.0/10"), "reserved"),  # RFC 6598 carrier-grade NAT shared space
    (_V4("127.0.0.0/8"), "loopback"),  # RFC 1122
    (_V4("169.254.0.0/16"), "link-local"),  # RFC 3927
    (_V4("172.16.0.0/12"), "private"),  # RFC 1918
    (_V4("192.0.0.0/24"), "reserved"),  # RFC 6890 IETF protocol assignments
    (_V4("192.0.2.0/24"), "reserved"),  # RFC 5737 TEST-NET-1
    (_V4("192.88.99.0/24"), "reserved"),  # RFC 7526 deprecated 6to4 relay anycast
    (_V4("192.168.0.0/16"), "private"),  # RFC 1918
    (_V4("198.18.0.0/15"), "reserved"),  # RFC 2544 benchmarking
    (_V4("198.51.100.0/24"), "reserved"),  # RFC 5737 TEST-NET-2
    (_V4("203.0.113.0/24"), "reserved"),  # RFC 5737 TEST-NET-3
    (_V4("224.0.0.0/4"), "multicast"),  # RFC 5771
    (_V4("240.0.0.0/4"), "reserved"),  # RFC 1112 future use, with 255.255.255.255 broadcast
    (_V6("::/128"), "unspecified"),  # RFC 4291
    (_V6("::1/128"), "loopback"),  # RFC 4291
    (_V6("::/96"), "reserved"),  # RFC 4291 deprecated IPv4-compatible addresses
    (_V6("::ffff:0:0:0/96"), "reserved"),  # RFC 2765 IPv4-translated addresses
    (_V6("64:ff9b:1::/48"), "private"),  # RFC 8215 local-use NAT64
    (_V6("100::/64"), "reserved"),  # RFC 6666 discard-only
    (_V6("2001::/23"), "reserved"),  # RFC 2928 IETF protocol assignments (Teredo, ORCHID...)
    (_V6("2001:db8::/32"), "reserved"),  # RFC 3849 documentation
    (_V6("3fff::/20"), "reserved"),  # RFC 9637 documentation
    (_V6("fc00::/7"), "private"),  # RFC 4193 unique local
    (_V6("fe80::/10"), "link-local"),  # RFC 4291
    (_V6("fec0::/10"), "private"),  # RFC 3879 deprecated site-local
    (_V6("ff00::/8"), "multicast"),  # RFC 4291
)

_NAT64 = _V6("64:ff9b::/96")  # RFC 6052 well-known prefix: the last 32 bits are IPv4


@dataclass(frozen=True, slots=True)
class PublicUrl:
    """A URL that passed the parse step: its host, port and, for a literal, its address."""

    url: str
    host: str  # lower case, brackets and trailing dot removed
    port: int
    address: IpAddress | None  # set when the host is an IP literal (any form inet_aton takes)


class UnresolvableHost(InvalidInput):
    """The host name has no address now: at registration a refusal, at send time a RETRY."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped ::ffff:a.b.c.d, 6to4, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def blocked_reason(address: IpAddress) -> str | None:
    """Why a worker must not call `address` (loopback, private, metadata...), or None."""
    if isinstance(address, ipaddress.IPv6Address):
        address = ipaddress.IPv6Address(address.compressed.split("%")[0])  # drop a zone id
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = blocked_reason(embedded)
            return None if reason is None else f"{reason} (IPv4 inside IPv6)"
    for network, reason in BLOCKED_NETWORKS:
        if address.version == network.version and address in network:
            return reason
    # Belt and braces: anything the standard library does not call global (a range added to
    # the IANA registries after this table was written) is refused too.
    if not address.is_global:
        return "reserved"
    return None


def _literal_address(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    # Legacy IPv4 spellings ("127.1", "0x7f.0.0.1", "2130706433") that resolvers and libcurl
    # accept; treating them as host names would only defer the same answer to getaddrinfo.
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, UnicodeError):
        return None


def parse_public_url(url: str, *, field: str = "url", scheme: str = "https") -> PublicUrl:
    """Refuse a URL that is not `scheme`, carries credentials or has no host; no I/O."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidInput("must be a valid URL", field=field) from None
    if parts.scheme.lower() != scheme:
        raise InvalidInput(f"must be an {scheme}:// URL", field=field)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InvalidInput("must not carry a user name or password", field=field)
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidInput("must name a host", field=field)
    if any(ch.isspace() for ch in url):
        raise InvalidInput("must not contain white space", field=field)
    return PublicUrl(url, host, port or 443, _literal_address(host))


async def _system_resolver(host: str, port: int) -> Sequence[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _refuse(address: IpAddress, reason: str, field: str) -> InvalidInput:
    # The address is ours to name (it came from DNS or the URL): no secret, helps operators.
    return InvalidInput(
        f"points to a {reason} address, which pushgate does not call",
        field=field,
        details={"address": str(address), "reason": reason},
    )


async def check_public_url(
    url: str,
    *,
    allow_private: bool,
    allow_hosts: frozenset[str] = frozenset(),
    field: str = "url",
    resolver: Resolver | None = None,  # the system's getaddrinfo when None
    scheme: str = "https",
) -> PublicUrl:
    """Refuse `url` unless it is `scheme` and every address its host resolves to is public.

    `allow_private` (fake-provider mode) and `allow_hosts` (the operator's allow-list, exact
    lower-case host names or literals) skip the address check, never the URL rules.
    """
    parsed = parse_public_url(url, field=field, scheme=scheme)
    if allow_private or parsed.host in allow_hosts:
        return parsed
    if parsed.address is not None:
        addresses: list[IpAddress] = [parsed.address]
    else:
        try:
            answers = await (resolver or _system_resolver)(parsed.host, parsed.port)
        except (OSError, UnicodeError):
            raise UnresolvableHost("names a host that does not resolve", field=field) from None
        try:
            addresses = [ipaddress.ip_address(answer.split("%")[0]) for answer in answers]
        except ValueError:
            raise UnresolvableHost("names a host with an unusable address", field=field) from None
        if not addresses:
            raise UnresolvableHost("names a host that does not resolve", field=field)
    for address in addresses:  # every answer: a rebinding name may mix public and private
        reason = blocked_reason(address)
        if reason is not None:
            raise _refuse(address, reason, field)
    return parsed


async def check_push_endpoint(
    url: str,
    *,
    allow_private: bool,
    allow_hosts: frozenset[str] = frozenset(),
    resolver: Resolver | None = None,
) -> None:
    """The Web Push endpoint rule: check_public_url for the registration's `token` field."""
    await check_public_url(
        url, allow_private=allow_private, allow_hosts=allow_hosts, field="token", resolver=resolver
    )
