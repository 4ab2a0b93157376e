"""Identifiers we mint: time-ordered so inserts append and keyset pages follow creation order."""

from __future__ import annotations

import os
import time


def new_id() -> str:
    """32 hex characters: 48 bits of Unix milliseconds then 80 random bits (UUIDv7 layout)."""
    millis = time.time_ns() // 1_000_000
    return f"{millis:012x}{os.urandom(10).hex()}"
