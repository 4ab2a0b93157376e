"""Assertions on check_credential refusals, shared by the credential-check tests."""

from __future__ import annotations

import pytest

from pushgate.domain.records import JsonObject
from pushgate.errors import InvalidInput, PushgateError
from pushgate.services.credential_checks import check_credential


def refused(
    provider: str, fields: JsonObject, kind: type[InvalidInput] = InvalidInput
) -> InvalidInput:
    """The error check_credential raises, which must be exactly of `kind`."""
    with pytest.raises(InvalidInput) as info:
        check_credential(provider, fields)
    assert type(info.value) is kind
    return info.value


def assert_hides(error: PushgateError, *secrets: str) -> None:
    """Neither the secret nor any line of its PEM body shows up in what the caller sees."""
    shown = f"{error}\n{error.message}\n{error.details!r}\n{error.field}"
    for secret in secrets:
        body = [ln for ln in secret.splitlines() if ln.strip() and not ln.startswith("-----")]
        for fragment in (secret, *body):
            assert fragment not in shown
