"""Rules for the names that appear in URL paths: apps, key aliases, topics."""

from __future__ import annotations

import re

from pushgate.errors import InvalidInput

# Path-safe: letters, digits and . _ - (MobileFirst app ids look like com.example.app);
# no leading punctuation so names never collide with relative path segments.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# Topics are subscribed to by vendor clients with free-form tag names, so allow spaces and ':'
# but no control character: C0, DEL and C1 (\x9b is the 8-bit ANSI escape introducer).
_TOPIC = re.compile(r"^[^\x00-\x1f\x7f-\x9f/\\?#%]{1,255}$")


def check_name(value: str, *, field: str) -> str:
    if not _NAME.fullmatch(value):
        raise InvalidInput(
            "must be 1-128 characters of letters, digits, '.', '_' or '-', starting with a "
            "letter or digit",
            field=field,
        )
    return value


def check_topic_name(value: str, *, field: str = "name") -> str:
    if not _TOPIC.fullmatch(value) or value.strip() != value:
        raise InvalidInput(
            "must be 1-255 characters without control characters, '/', '\\', '?', '#', '%' "
            "or surrounding spaces",
            field=field,
        )
    return value


def check_user_name(value: str, *, field: str = "name") -> str:
    """User names come from vendor clients (e-mail addresses, names with spaces): the topic
    rule, which keeps them usable in a path segment."""
    return check_topic_name(value, field=field)
