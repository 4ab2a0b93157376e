"""reliability.md F10's slow provider, made by the fault proxy, and the checks every test of it
shares: the attempt's length against the total deadline, and the fake's ledger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pushgate.domain.statuses import Outcome
from pushgate.fakes.fault_proxy import Faults
from pushgate.fakes.inbox import Inbox
from pushgate.providers.base import SendResult

# F10 names a 30 s deadline; the criterion is the *total* deadline, whatever its length, so
# the tests use 2 s (each mode costs one deadline of waiting) and keep the ±1 s tolerance.
DEADLINE_S = 2.0
TOLERANCE_S = 1.0

# Each on a warm connection (TLS and HTTP/2 set up through the proxy by a first send), so
# what is slow is the answer, not the connect:
SLOW_MODES: dict[str, Faults] = {
    # "30 s to headers": the request reaches the fake, which answers at once; the proxy holds
    # every byte of the answer for 30 s (far past the deadline).
    "headers": Faults(chunk_delay_s=30.0),
    # "1 byte/9 s body": one byte of the answer every 0.25 s. Scaled with the deadline: bytes
    # keep arriving well inside it, so a per-read (idle) timeout would be reset by each and
    # never fire, while a total deadline ends the attempt on time. (The proxy sees TLS, not
    # HTTP: headers and body trickle alike, and no answer is ever complete.)
    "trickle": Faults(trickle_s=0.25),
    # Accepted, read, never answered: the connection goes dark.
    "blackhole": Faults(blackhole=True),
}


@dataclass(frozen=True, slots=True)
class Attempt:
    """One slow attempt and its retry, as an adapter test saw them."""

    adapter: str
    mode: str
    took_s: float  # from the send to its result
    first: SendResult  # the slow attempt's result
    retried: SendResult  # the retry's, after the fault was lifted
    seen_before_lift: int  # requests for the token the fake saw before the fault was lifted
    seen: int  # ... and in all
    times: list[float]  # when the fake's ledger accepted the token

    def line(self) -> str:
        gap = f"{self.times[1] - self.times[0]:.2f} s" if len(self.times) == 2 else "-"
        first = f"{self.first.outcome.value} {self.first.reason}"
        return (
            f"{self.adapter:8} {self.mode:9} attempt {self.took_s:.2f} s (deadline {DEADLINE_S}"
            f" s) -> {first}{' unsent' if self.first.unsent else ''}; retry ->"
            f" {self.retried.outcome.value}; fake saw {self.seen} requests, accepted"
            f" {len(self.times)}x, {gap} apart"
        )

    def check(self) -> None:
        """F10's criteria for one mode."""
        what = f"{self.adapter} {self.mode}"
        assert_ends_at_the_deadline(self.took_s, what)
        # Retried, and counted as an attempt: the request left, the provider may have it.
        assert (self.first.outcome, self.first.reason) == (Outcome.RETRY, "timeout"), what
        assert not self.first.unsent, what
        assert self.retried.outcome is Outcome.SENT, (what, self.retried)
        # No concurrent double send: one request while the slow one was open, one retry.
        assert self.seen_before_lift <= 1, what
        assert self.seen == self.seen_before_lift + 1, what
        assert_no_overlapping_duplicate(self.times, what)


def assert_ends_at_the_deadline(took_s: float, what: str) -> None:
    assert abs(took_s - DEADLINE_S) <= TOLERANCE_S, (
        f"{what}: the attempt took {took_s:.2f} s, not {DEADLINE_S} s ± {TOLERANCE_S} s"
    )


def receptions(inbox: Inbox, token: str) -> list[float]:
    """When the fake accepted `token`, as UNIX seconds, oldest first."""
    return sorted(r.received_at.timestamp() for r in inbox.received if r.token == token)


def assert_no_overlapping_duplicate(times: Sequence[float], token: str) -> float | None:
    """A token is in the ledger at most twice (the slow attempt the fake did process, and
    the retry), and never twice at once: a retry sent while the first attempt was still open
    would reach the fake within milliseconds of it, not a whole deadline later."""
    assert 1 <= len(times) <= 2, f"{token} accepted {len(times)} times"
    if len(times) == 1:
        return None
    gap = times[1] - times[0]
    assert gap >= DEADLINE_S - TOLERANCE_S, f"{token} sent twice {gap:.3f} s apart: overlapping"
    return gap
