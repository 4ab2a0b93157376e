"""Hypothesis strategies for the domain's values, shared by the round-trip and property tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

from pushgate.domain.payload import Content, DeliveryOptions, Message, Priority
from pushgate.domain.platforms import Platform
from pushgate.domain.targets import BulkEntry, CapabilityUser, Target, TargetKind

# Timing is not under test, and a 2-core CI machine under coverage is slow: no deadline.
PROPERTY = settings(deadline=None)

SHORT_TEXT = st.text(max_size=12)

# A locale in canonical form (lower case, `-` separated), as normalize_locale returns it.
CANONICAL_LOCALE = st.from_regex(r"[a-z]{2,3}(-[a-z0-9]{1,8}){0,6}", fullmatch=True)


@st.composite
def spelled(draw: st.DrawFn, canonical: str) -> str:
    """`canonical` as a device may write it: any case, `_` or `-`, blanks around it."""
    out: list[str] = []
    for ch in canonical:
        if ch == "-":
            out.append(draw(st.sampled_from("-_")))
        else:
            out.append(ch.upper() if draw(st.booleans()) else ch)
    pad = st.sampled_from(["", " ", "\t"])
    return draw(pad) + "".join(out) + draw(pad)


def _json_values() -> st.SearchStrategy[Any]:
    scalars: st.SearchStrategy[Any] = st.none() | st.booleans() | st.integers() | SHORT_TEXT
    scalars |= st.floats(allow_nan=False, allow_infinity=False)
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(SHORT_TEXT, inner, max_size=3),
        max_leaves=6,
    )


JSON_OBJECT: st.SearchStrategy[dict[str, Any]] = st.dictionaries(
    SHORT_TEXT, _json_values(), max_size=3
)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


CONTENT: st.SearchStrategy[Content] = st.builds(
    Content,
    alert=_maybe(SHORT_TEXT),
    title=_maybe(SHORT_TEXT),
    body=_maybe(SHORT_TEXT),
    badge=_maybe(st.integers(min_value=0, max_value=10_000)),
    sound=_maybe(SHORT_TEXT),
    data=_maybe(st.dictionaries(SHORT_TEXT, SHORT_TEXT, max_size=4)),
    category=_maybe(SHORT_TEXT),
    thread_id=_maybe(SHORT_TEXT),
    content_available=_maybe(st.booleans()),
    mutable_content=_maybe(st.booleans()),
    apns=_maybe(JSON_OBJECT),
    fcm=_maybe(JSON_OBJECT),
    webpush=_maybe(JSON_OBJECT),
    wns=_maybe(JSON_OBJECT),
)

MESSAGE: st.SearchStrategy[Message] = st.builds(
    Message,
    default=CONTENT,
    localized=st.dictionaries(CANONICAL_LOCALE, CONTENT, max_size=3),
)

# Fixed offsets within the ±14 h real zones use; minutes only, as real offsets are.
ZONE = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
AWARE_DATETIME: st.SearchStrategy[datetime] = st.datetimes(
    min_value=datetime(2000, 1, 1),  # naive: the strategy attaches the zone
    max_value=datetime(2100, 1, 1),
    timezones=ZONE | st.just(UTC),
)

OPTIONS: st.SearchStrategy[DeliveryOptions] = st.builds(
    DeliveryOptions,
    expires_at=AWARE_DATETIME,
    priority=_maybe(st.sampled_from(Priority)),
    collapse_id=_maybe(SHORT_TEXT),
    once=st.booleans(),
)

_NAMES = st.lists(SHORT_TEXT, max_size=3).map(tuple)

BULK_ENTRY: st.SearchStrategy[BulkEntry] = st.builds(
    BulkEntry, user=_maybe(SHORT_TEXT), user_uuid=_maybe(SHORT_TEXT), message=MESSAGE
)

CAPABILITY_USER: st.SearchStrategy[CapabilityUser] = st.builds(
    CapabilityUser, user=_maybe(SHORT_TEXT), user_uuid=_maybe(SHORT_TEXT), form_factors=_NAMES
)

# Every field drawn whatever the kind: a round trip must keep what a selector carries.
TARGET: st.SearchStrategy[Target] = st.builds(
    Target,
    kind=st.sampled_from(TargetKind),
    registration_ids=_NAMES,
    device_id=_maybe(SHORT_TEXT),
    user=_maybe(SHORT_TEXT),
    users=_NAMES,
    user_uuids=_NAMES,
    bulk=st.lists(BULK_ENTRY, max_size=2).map(tuple),
    topics=_NAMES,
    push_group=_maybe(SHORT_TEXT),
    capability=_maybe(SHORT_TEXT),
    capability_users=st.lists(CAPABILITY_USER, max_size=2).map(tuple),
    platforms=st.frozensets(st.sampled_from(Platform)),
)
