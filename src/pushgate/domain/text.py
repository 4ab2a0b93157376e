"""Text that cannot be stored: what every front door refuses before it reaches a database.

PostgreSQL's text types refuse the NUL character (SQLite would keep it, so the two back ends
would disagree), and a lone UTF-16 surrogate (JSON's "\\ud800") has no UTF-8 encoding at all:
neither is part of any name, token or message a client could mean.
"""

from __future__ import annotations

import re
from typing import Any

UNSTORABLE_MESSAGE = "must not contain NUL or unpaired surrogate characters"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def is_unstorable(value: str) -> bool:
    return _UNSTORABLE.search(value) is not None


def find_unstorable(value: Any) -> bool:
    """Whether a JSON-like value holds unstorable text, in a key or a value, at any depth."""
    if isinstance(value, str):
        return is_unstorable(value)
    if isinstance(value, dict):
        return any(find_unstorable(k) or find_unstorable(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(find_unstorable(item) for item in value)
    return False
