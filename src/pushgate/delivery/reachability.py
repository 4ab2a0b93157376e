"""Which providers nothing has reached lately, per app: resends of requests that never reached
a provider (refused, reset, unreachable) are spaced out by how long that has lasted, instead
of going out every poll while it is down (reliability.md F13).

A route is one push service of Web Push, whose endpoints name many (FCM, Mozilla, Apple...):
each is up or down on its own, so one origin refusing while the others answer is an outage of
that origin alone. The other providers are one route each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from urllib.parse import urlsplit

from pushgate.domain.platforms import Platform
from pushgate.providers.base import SendResult

_WEBPUSH = Platform.WEBPUSH.provider


class Reachability:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        # (app, provider, route) -> since when every answer sent that way was "unsent"
        self._unreachable_since: dict[tuple[int, str, str], datetime] = {}

    def note(
        self, app_id: int, provider: str, tokens: Sequence[str], answers: Sequence[SendResult]
    ) -> None:
        """After one adapter call, per route: all unsent starts (or continues) an outage;
        anything that reached the provider ends it, so unsent answers are resent soon again."""
        unsent_by_route: dict[str, bool] = {}
        if provider == _WEBPUSH:
            for token, answer in zip(tokens, answers, strict=True):
                route = route_of(provider, token)
                unsent_by_route[route] = unsent_by_route.get(route, True) and answer.unsent
        else:
            unsent_by_route[""] = all(answer.unsent for answer in answers)
        for route, all_unsent in unsent_by_route.items():
            key = (app_id, provider, route)
            if all_unsent:
                self._unreachable_since.setdefault(key, self._clock())
            else:
                self._unreachable_since.pop(key, None)

    def unreachable_s(self, app_id: int, provider: str, token: str, now: datetime) -> float:
        """How long nothing sent to `token`'s route has reached the provider (0: it is up)."""
        since = self._unreachable_since.get((app_id, provider, route_of(provider, token)))
        return (now - since).total_seconds() if since is not None else 0.0


def route_of(provider: str, token: str) -> str:
    """A Web Push endpoint's scheme and host; "" for every other provider."""
    if provider != _WEBPUSH:
        return ""
    parts = urlsplit(token)
    return f"{parts.scheme}://{parts.netloc}"
