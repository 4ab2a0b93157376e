"""TLS for the fakes: a throwaway CA (trustme) and a server certificate for the loopback names."""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme

SERVER_NAMES = ("127.0.0.1", "localhost", "::1")


class FakeCertificates:
    """One CA per fake deployment; clients trust `ca_file`, servers use `server_context`."""

    def __init__(self, directory: Path) -> None:
        self._ca = trustme.CA(organization_name="pushgate fake providers")
        self._server = self._ca.issue_cert(*SERVER_NAMES)
        directory.mkdir(parents=True, exist_ok=True)
        self.ca_file = directory / "fake-providers-ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_file))

    def server_context(self, alpn: tuple[str, ...] = ("h2",)) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._server.configure_cert(context)
        context.set_alpn_protocols(list(alpn))
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting this CA (tests and the fakes' own health checks)."""
        context = ssl.create_default_context()
        self._ca.configure_trust(context)
        return context

    def issue_client_certificate(self, common_name: str) -> tuple[bytes, bytes]:
        """(certificate PEM, private key PEM) signed by this CA: APNs certificate auth tests."""
        cert = self._ca.issue_cert(common_name)
        return cert.cert_chain_pems[0].bytes(), cert.private_key_pem.bytes()

    def trust_client_certificates(self, context: ssl.SSLContext) -> None:
        """Ask clients for a certificate signed by this CA (optional: token auth has none)."""
        self._ca.configure_trust(context)
        context.verify_mode = ssl.CERT_OPTIONAL
