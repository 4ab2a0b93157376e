"""The log processors: secrets blanked, device tokens shortened, keys found inside text."""

from __future__ import annotations

from typing import Any

from pushgate.telemetry import REDACTED, _redact, short_token


def _redacted(**event: Any) -> dict[str, Any]:
    return dict(_redact(None, "info", dict(event)))


def test_fields_named_like_secrets_are_blanked() -> None:
    found = _redacted(
        key="k1",
        api_key="k2",
        client_secret="s",
        password="p",
        private_key="pk",
        authorization="Bearer x",
        key_id="ABC123DEFG",
    )
    assert found == {
        "key": REDACTED,
        "api_key": REDACTED,
        "client_secret": REDACTED,
        "password": REDACTED,
        "private_key": REDACTED,
        "authorization": REDACTED,
        "key_id": "ABC123DEFG",
    }


def test_device_tokens_are_shortened() -> None:
    token = "a1" * 32
    assert _redacted(token=token)["token"] == f"a1a1a1...({len(token)})"
    assert short_token("short") == "short"


def test_keys_jwts_and_pem_blocks_inside_text_are_blanked() -> None:
    key = "pgk_" + "Z" * 43
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlc2lnbmF0dXJl"
    pem = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMG\n-----END PRIVATE KEY-----"
    found = _redacted(event=f"refused {key} and {jwt}", exception=f"ValueError: {pem} bad")
    assert key not in found["event"]
    assert jwt not in found["event"]
    assert found["event"] == f"refused {REDACTED} and {REDACTED}"
    assert "MIGHAgEAMBMG" not in found["exception"]
    assert _redacted(event="nothing secret here") == {"event": "nothing secret here"}
