"""Lists: `offset`, `size`, `expand` (also the seed's spelling `expend`), `filter`, and the
`pageInfo` of the answer with its `next` and `previous` links.

Filter syntax (MobileFirst's, FIQL-like): a term is `field==value` (equal) or `field=@value`
(contains, ignoring case); `;` joins terms with and, `,` with or, and binds looser than `;`
(`a==1;b==2,c==3` is (a and b) or c). Values run to the next `;` or `,`. Anything else is a
400 naming `filter`. pageInfo's values are strings, as in the seed's example; a link is
empty when there is no such page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import Request

from pushgate.dialects.mobilefirst.errors import Keyed
from pushgate.domain.filters import FieldFilter, Op, Term, and_filter
from pushgate.errors import InvalidInput

DEFAULT_SIZE = 100
MAX_SIZE = 1000
MAX_FILTER = 2000
_TERM = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)(==|=@)(.*)$", re.DOTALL)
_TRUE = ("true", "1", "yes")


@dataclass(frozen=True, slots=True)
class Listing:
    offset: int
    size: int
    expand: bool
    where: FieldFilter


def parse_filter(text: str) -> FieldFilter:
    if len(text) > MAX_FILTER:
        raise Keyed("invalid_filter", f"filter: at most {MAX_FILTER} characters", field="filter")
    groups: list[tuple[Term, ...]] = []
    for alternative in text.split(","):
        terms: list[Term] = []
        for part in alternative.split(";"):
            match = _TERM.fullmatch(part)
            if match is None or not match.group(3):
                raise Keyed(
                    "invalid_filter",
                    "filter: each term is field==value or field=@value, joined by ; (and) "
                    "or , (or)",
                    field="filter",
                )
            op = Op.EQ if match.group(2) == "==" else Op.CONTAINS
            terms.append(Term(match.group(1), op, match.group(3)))
        groups.append(tuple(terms))
    return tuple(groups)


def _integer(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidInput(f"{name}: must be a whole number from {low} to {high}", field=name)
    return int(raw)


def listing(request: Request, *shortcuts: str) -> Listing:
    """The list parameters; each shortcut parameter present (userId=...) adds field==value."""
    params = request.query_params
    text = params.get("filter")
    where = parse_filter(text) if text else ()
    extra = tuple(Term(name, Op.EQ, params[name]) for name in shortcuts if params.get(name))
    expand = any(params.get(name, "").lower() in _TRUE for name in ("expand", "expend"))
    return Listing(
        offset=_integer(request, "offset", 0, 0, 10_000_000),
        size=_integer(request, "size", DEFAULT_SIZE, 1, MAX_SIZE),
        expand=expand,
        where=and_filter(where, extra),
    )


def page_info(request: Request, page: Listing, count: int, total: int) -> dict[str, str]:
    """count, totalCount, and links to the pages around this one (same query otherwise)."""
    after = page.offset + count
    next_link = ""
    if after < total and count > 0:
        next_link = str(request.url.include_query_params(offset=after, size=page.size))
    previous = ""
    if page.offset > 0:
        before = max(page.offset - page.size, 0)
        previous = str(request.url.include_query_params(offset=before, size=page.size))
    return {
        "count": str(count),
        "next": next_link,
        "previous": previous,
        "totalCount": str(total),
    }
