"""Field filters for lists: an OR of AND-groups of (field, operator, value) terms.

Front doors parse their own syntax into this (MobileFirst: `userId==alice;platform==A`,
`,` for or); the store turns each field into a column. Matching is exact (`eq`) or a
case-insensitive substring (`contains`), the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Op(StrEnum):
    EQ = "eq"
    CONTAINS = "contains"


@dataclass(frozen=True, slots=True)
class Term:
    field: str
    op: Op
    value: str


# ((a AND b) OR (c)): empty means "everything".
FieldFilter = tuple[tuple[Term, ...], ...]


def and_filter(base: FieldFilter, extra: tuple[Term, ...]) -> FieldFilter:
    """`base` with every group also requiring `extra` (a list's shortcut parameters)."""
    if not extra:
        return base
    if not base:
        return (extra,)
    return tuple(group + extra for group in base)
