"""The SSRF guard at send time, for adapters that call tenant-supplied URLs.

Web Push endpoints, WNS channel URIs and SMS gateway URLs come from tenants and devices; the
worker calls them. Before a batch is sent, every distinct host is checked once
(addresses.py: no loopback, private, link-local, metadata or other non-public address),
bounded by the batch deadline. A URL that fails the URL rules or names a blocked address is
refused (REJECTED, code 1: never sent); a host that does not resolve, or not before the
deadline, is retried (it may be a transient DNS failure).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.errors import InvalidInput
from pushgate.providers.addresses import (
    Resolver,
    UnresolvableHost,
    check_public_url,
    parse_public_url,
)
from pushgate.providers.base import ProviderOptions, SendResult
from pushgate.providers.batching import retry, wait_until

ENDPOINT_REFUSED = SendResult(Outcome.REJECTED, ResultCode.INVALID_DATA, "EndpointRefused")
DNS_FAILED = retry("DnsFailed", unsent=True)
DNS_TIMEOUT = retry("DnsTimeout", unsent=True)


class EndpointGuard:
    def __init__(
        self,
        options: ProviderOptions,
        *,
        resolver: Resolver | None = None,  # host -> addresses; getaddrinfo when None
        scheme: str = "https",
    ) -> None:
        self._options = options
        self._resolver = resolver
        self._scheme = scheme

    async def refusals(self, urls: Iterable[str], deadline: float) -> dict[str, SendResult]:
        """url -> the result that stops it, for each URL the guard does not let through."""
        refused: dict[str, SendResult] = {}
        host_of_url: dict[str, str] = {}
        url_of_host: dict[str, str] = {}
        for url in urls:
            if url in host_of_url or url in refused:
                continue
            try:
                parsed = parse_public_url(url, field="token", scheme=self._scheme)
            except InvalidInput:
                refused[url] = ENDPOINT_REFUSED
                continue
            host_of_url[url] = parsed.host
            url_of_host.setdefault(parsed.host, url)
        if self._options.allow_private_addresses or not url_of_host:
            return refused  # fake-provider mode: the URL rules only, no address check
        loop = asyncio.get_running_loop()
        checks = {host: loop.create_task(self._check(url)) for host, url in url_of_host.items()}
        await wait_until(list(checks.values()), deadline)
        verdicts = {host: _verdict(task) for host, task in checks.items()}
        for url, host in host_of_url.items():
            verdict = verdicts[host]
            if verdict is not None:
                refused[url] = verdict
        return refused

    async def _check(self, url: str) -> None:
        await check_public_url(
            url,
            allow_private=False,
            allow_hosts=self._options.allowed_hosts,
            field="token",
            resolver=self._resolver,
            scheme=self._scheme,
        )


def _verdict(task: asyncio.Task[None]) -> SendResult | None:
    if task.cancelled():
        return DNS_TIMEOUT  # the batch deadline came first: nothing was sent
    error = task.exception()
    if error is None:
        return None
    if isinstance(error, UnresolvableHost):
        return DNS_FAILED  # may be transient: retried, not refused
    if isinstance(error, InvalidInput):
        return ENDPOINT_REFUSED
    raise error
