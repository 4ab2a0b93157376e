"""Secrets at rest: the master key, Fernet sealing, and keys derived from the master key."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from pushgate.domain.records import JsonObject
from pushgate.errors import InvalidInput

MASTER_KEY_FILE = "master.key"


class Vault:
    """Seals provider secrets with the master key; derives purpose-bound subkeys from it."""

    def __init__(self, master_key: bytes) -> None:
        try:
            self._fernet = Fernet(master_key)
        except (ValueError, TypeError):
            raise InvalidInput(
                "must be a Fernet key: 32 random bytes, url-safe base64", field="master_key"
            ) from None
        self._master = base64.urlsafe_b64decode(master_key)

    def seal(self, secret: JsonObject) -> str:
        return self._fernet.encrypt(json.dumps(secret, sort_keys=True).encode()).decode()

    def open(self, sealed: str) -> JsonObject:
        try:
            value = json.loads(self._fernet.decrypt(sealed.encode()))
        except InvalidToken:
            raise RuntimeError("sealed secret does not open with this master key") from None
        if not isinstance(value, dict):
            raise RuntimeError("sealed secret is not an object")
        return value

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for one purpose (e.g. signing OAuth tokens), stable per master key."""
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
            self._master
        )


def load_master_key(configured: str | None, data_dir: Path) -> bytes:
    """The configured key, else the one in data_dir, else a new one written there with mode 0600."""
    if configured:
        return configured.encode()
    path = data_dir / MASTER_KEY_FILE
    if path.exists():
        return path.read_bytes().strip()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # holds the database and keys
    key = Fernet.generate_key()
    # O_EXCL: two processes starting at once must not overwrite each other's key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
    return key
