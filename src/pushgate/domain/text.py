"""Text that cannot be stored: what every front door refuses before it reaches a database.

PostgreSQL's text types refuse the NUL character (SQLite would keep it, so the two back ends
would disagree), and a lone UTF-16 surrogate (JSON's "\\ud800") has no UTF-8 encoding at all:
neither is part of any name, token or message a client could mean. Also how deep a JSON
value nests, and how an error may show a name the caller chose.
"""

from __future__ import annotations

import re
from typing import Any

UNSTORABLE_MESSAGE = "must not contain NUL or unpaired surrogate characters"
# Error messages name fields, and some names are the caller's own (an unknown member, a key
# of free-form data or a locale): one longer than any real name is described, not echoed
# (reliability.md B6: a 100 KB key came back in the answer).
MAX_SHOWN_NAME = 64
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def is_unstorable(value: str) -> bool:
    return _UNSTORABLE.search(value) is not None


def find_unstorable(value: Any) -> bool:
    """Whether a JSON-like value holds unstorable text, in a key or a value, at any depth.

    Walked with a list, not by recursion: a body nested as deep as the JSON parser goes
    (~990 levels) made the recursive walk a RecursionError, a 500 (reliability.md B4).
    """
    if isinstance(value, str):
        return is_unstorable(value)
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if is_unstorable(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return False


def nesting_depth(value: Any) -> int:
    """How deep objects and arrays nest in a JSON-like value (a scalar: 0), without recursion."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        pending.extend((child, depth + 1) for child in children)
    return deepest


def shown_name(name: str) -> str:
    """A name from the request as an error message may show it (see MAX_SHOWN_NAME)."""
    return name if len(name) <= MAX_SHOWN_NAME else f"<a name of {len(name)} characters>"
