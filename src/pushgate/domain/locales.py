"""Locale keys and the fallback chain of the SAP seed: de-DE-bay -> de-DE -> de -> default.

Matching ignores case and treats `_` like `-` (`en_US` = `en-US` = `EN-us`).
"""

from __future__ import annotations

import re

from pushgate.errors import InvalidInput

# A language of 2-3 letters, then subtags of 1-8 letters or digits (BCP 47's shape, loosely:
# devices send POSIX-style en_US as well as en-US).
_LOCALE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{1,8}){0,6}$")


def normalize_locale(value: str, *, field: str = "locale") -> str:
    """The canonical key of a locale: lower case, `-` separated; refuses what is no locale."""
    key = value.strip().replace("_", "-").lower()
    if not _LOCALE.fullmatch(key):
        raise InvalidInput(
            "must be a locale such as de, de-DE or de_DE (language, then subtags)", field=field
        )
    return key


def fallback_chain(locale: str) -> list[str]:
    """The keys to try, most specific first; empty for a value that is not a locale."""
    key = locale.strip().replace("_", "-").lower()
    if not _LOCALE.fullmatch(key):
        return []
    parts = key.split("-")
    return ["-".join(parts[:n]) for n in range(len(parts), 0, -1)]
