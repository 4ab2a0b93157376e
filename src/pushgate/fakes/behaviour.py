"""How a fake answers: by token prefix (hex-safe, so APNs tokens can carry it) and by plan.

| prefix | behaviour |
|---|---|
| `dead` | permanently unregistered (APNs 410 + timestamp, FCM UNREGISTERED, Web Push 410) |
| `bad`  | invalid token (BadDeviceToken, INVALID_ARGUMENT, Web Push 404) |
| `429`  | rate limited once with Retry-After: 1, then accepted |
| `500`  | server error once, then accepted |
| `5105` | answers after 5 s |

`dead`, `bad` are hex ("dead", "bad" are hex digits), so an APNs token such as `dead0123...`
is still a well-formed hex token. `Behaviours.fault_every` adds a steady fault mix for any
token (every Nth request refused with the `429` and `500` answers in turn).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum


class TokenBehaviour(StrEnum):
    ACCEPT = "accept"
    DEAD = "dead"
    BAD = "bad"
    RATE_LIMITED_ONCE = "429"
    SERVER_ERROR_ONCE = "500"
    SLOW = "5105"


SLOW_DELAY_S = 5.0

# Longest prefix first: "5105" must win over "500"-style checks of other prefixes.
_PREFIXES: tuple[tuple[str, TokenBehaviour], ...] = (
    ("5105", TokenBehaviour.SLOW),
    ("dead", TokenBehaviour.DEAD),
    ("bad", TokenBehaviour.BAD),
    ("429", TokenBehaviour.RATE_LIMITED_ONCE),
    ("500", TokenBehaviour.SERVER_ERROR_ONCE),
)


def token_behaviour(token: str) -> TokenBehaviour:
    lowered = token.lower()
    for prefix, behaviour in _PREFIXES:
        if lowered.startswith(prefix):
            return behaviour
    return TokenBehaviour.ACCEPT


@dataclass(slots=True)
class ServerPlan:
    """Whole-server behaviour, changed through the control API or by tests."""

    # HTTP/2 fakes: SETTINGS_MAX_CONCURRENT_STREAMS of a new connection, and after the first
    # accepted request (APNs allows 1 stream until a valid token was seen).
    initial_max_streams: int = 1000
    max_streams: int = 1000
    goaway_after_streams: int | None = None  # send GOAWAY after this many streams per connection
    reset_after_streams: int | None = None  # drop the TCP connection after this many streams
    delay_s: float = 0.0  # added to every answer
    # Scripted status for every request, whatever the token (e.g. 503 for an outage test).
    fail_status: int | None = None
    fail_retry_after: str | None = None


@dataclass(slots=True)
class Behaviours:
    """Per-token answer state: the "once" behaviours fail only the first request of a token."""

    plan: ServerPlan = field(default_factory=ServerPlan)
    seen: Counter[str] = field(default_factory=Counter)
    # A steady fault mix, whatever the token (bench/load.py's soak, reliability.md L5):
    # every `fault_every`-th request that would be accepted is refused instead, in turn as
    # 429 + Retry-After: 1 and as 500 (the "once" prefixes' answers), so 20 means 5 %.
    # Not a ServerPlan field: the control API's plan stays as it is.
    fault_every: int | None = None
    requests: int = 0
    faults: Counter[TokenBehaviour] = field(default_factory=Counter)

    def decide(self, token: str) -> TokenBehaviour:
        """The behaviour of this request for `token`, counting it."""
        self.seen[token] += 1
        self.requests += 1
        behaviour = token_behaviour(token)
        once = (TokenBehaviour.RATE_LIMITED_ONCE, TokenBehaviour.SERVER_ERROR_ONCE)
        if behaviour in once and self.seen[token] > 1:
            behaviour = TokenBehaviour.ACCEPT
        if behaviour is TokenBehaviour.ACCEPT and self.fault_every:
            turn, rest = divmod(self.requests, self.fault_every)
            if rest == 0:
                behaviour = once[turn % 2]
                self.faults[behaviour] += 1
        return behaviour
