"""TLS for `pushgate serve`: HTTPS, and the verified client certificate in the ASGI scope.

uvicorn (0.54, the locked version) requests and verifies client certificates when told to
(ssl_cert_reqs, ssl_ca_certs) but does not hand them to the application: its scope has no
ASGI TLS extension. This protocol adds `scope["extensions"]["tls"]` (the ASGI spec's TLS
extension: `client_cert_chain` as PEM) to every request of a TLS connection, read once per
connection from the handshake. The X.509 service keys of the SAP dialect read it.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pushgate.config import Settings
from pushgate.http.protocol import BoundedHttpToolsProtocol

PROTOCOL = "pushgate.cli_tls:ClientCertHttpToolsProtocol"


def tls_extension(transport: asyncio.BaseTransport) -> dict[str, Any] | None:
    """The ASGI TLS extension of a connection; None when it is not TLS."""
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return {
        "server_cert": None,
        # Only the leaf: Python's ssl module exposes no verified chain before 3.13.
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
        "client_cert_name": None,
        "client_cert_error": None,
        "tls_version": None,
        "cipher_suite": None,
    }


class ClientCertHttpToolsProtocol(BoundedHttpToolsProtocol):
    """pushgate's httptools protocol (the bounded request head), with the TLS extension in
    each request's scope."""

    _tls: dict[str, Any] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._tls = tls_extension(transport)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._tls is not None:
            scope: dict[str, Any] = self.scope  # type: ignore[assignment]
            scope["extensions"] = {"tls": dict(self._tls)}


@dataclass(frozen=True, slots=True)
class TlsOptions:
    """uvicorn.run's keyword arguments for the configured TLS (empty: plain HTTP)."""

    kwargs: dict[str, Any]

    @property
    def scheme(self) -> str:
        return "https" if self.kwargs else "http"


def tls_options(settings: Settings) -> TlsOptions:
    if settings.tls_cert_file is None:
        return TlsOptions({})
    kwargs: dict[str, Any] = {
        "ssl_certfile": str(settings.tls_cert_file),
        "ssl_keyfile": str(settings.tls_key_file),
        "http": PROTOCOL,
    }
    if settings.tls_client_ca_file is not None:
        # Requested, and verified when given: clients with an API key need none.
        kwargs["ssl_ca_certs"] = str(settings.tls_client_ca_file)
        kwargs["ssl_cert_reqs"] = ssl.CERT_OPTIONAL
    for path in (settings.tls_cert_file, settings.tls_key_file, settings.tls_client_ca_file):
        if path is not None and not Path(path).is_file():
            raise FileNotFoundError(f"TLS file not found: {path}")
    return TlsOptions(kwargs)
