"""Client certificates of API keys: an X.509 service key is an API key with a certificate.

A TLS client presenting the certificate (to pushgate itself, or to a trusted proxy that
forwards it) authenticates as the key. Only the SHA-256 fingerprint of the certificate's DER
is stored; the certificate must be valid now when it is attached.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from pushgate.errors import InvalidInput, NotFound
from pushgate.store.uow import UnitOfWork

MAX_PEM_LENGTH = 16_384


def fingerprint_of_der(der: bytes) -> str:
    """The lowercase hex SHA-256 of a certificate's DER: how keys find their certificate."""
    return hashlib.sha256(der).hexdigest()


def parse_certificate(pem: str, now: datetime, *, field: str = "certificate") -> str:
    """The fingerprint of one PEM certificate that is valid at `now` (400 otherwise)."""
    if len(pem) > MAX_PEM_LENGTH or pem.count("-----BEGIN CERTIFICATE-----") != 1:
        raise InvalidInput(
            "must be exactly one PEM certificate (-----BEGIN CERTIFICATE-----)", field=field
        )
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        raise InvalidInput("is not a readable PEM certificate", field=field) from None
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise InvalidInput("is not valid now (see its notBefore and notAfter)", field=field)
    der = certificate.public_bytes(Encoding.DER)
    return fingerprint_of_der(der)


async def get_fingerprint(uow: UnitOfWork, app_id: int, alias: str) -> str:
    exists, fingerprint = await uow.key_certificates.fingerprint(app_id, alias)
    if not exists:
        raise NotFound("no key with this alias", field="alias")
    if fingerprint is None:
        raise NotFound("this key has no certificate", field="certificate")
    return fingerprint


async def attach_certificate(
    uow: UnitOfWork, app_id: int, alias: str, pem: str, now: datetime
) -> tuple[str, str | None]:
    """Attach (or replace) the key's certificate: (its fingerprint, the one it replaced)."""
    fingerprint = parse_certificate(pem, now)
    exists, previous = await uow.key_certificates.fingerprint(app_id, alias)
    if not exists or not await uow.key_certificates.attach(app_id, alias, fingerprint):
        raise NotFound("no key with this alias", field="alias")
    return fingerprint, previous


async def detach_certificate(uow: UnitOfWork, app_id: int, alias: str) -> str:
    """Remove the key's certificate; returns its fingerprint (to evict caches)."""
    fingerprint = await get_fingerprint(uow, app_id, alias)
    await uow.key_certificates.detach(app_id, alias)
    return fingerprint
