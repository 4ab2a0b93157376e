"""OAuth confidential clients' scopes (MobileFirst's names) and what each one allows.

A client belongs to one app and may be granted `push.application.<its app>` plus any of
SCOPES. A token's `X.write` also passes a check for `X.read`. The admin key, used as a bearer
token, holds every scope of every app.
"""

from __future__ import annotations

from collections.abc import Iterable

from pushgate.errors import InvalidInput

APP_SCOPE_PREFIX = "push.application."
# MobileFirst's scopes: devices (also subscriptions and tags, as the seed says), messages,
# applications, settings (also the per-provider *Conf scopes of MobileFirst's reference),
# webhooks.
SCOPES: frozenset[str] = frozenset(
    {
        "devices.write",
        "devices.read",
        "messages.write",
        "messages.read",
        "apps.write",
        "apps.read",
        "settings.write",
        "settings.read",
        "webhooks.write",
        "webhooks.read",
        "apnsConf.write",
        "apnsConf.read",
        "gcmConf.write",
        "gcmConf.read",
        "wnsConf.write",
        "wnsConf.read",
        "smsConf.write",
        "smsConf.read",
    }
)
MAX_SCOPE_LENGTH = 255


def app_scope(app_name: str) -> str:
    return APP_SCOPE_PREFIX + app_name


def parse_client_scopes(names: Iterable[str], app_name: str, *, field: str) -> tuple[str, ...]:
    """The scopes a client of `app_name` may hold: SCOPES and its own app's scope, each once.

    The app's own scope is always added: a client of an app acts on that app.
    """
    own = app_scope(app_name)
    found: list[str] = []
    for name in names:
        if name != own and name not in SCOPES:
            raise InvalidInput(
                f"unknown scope; use {own} or one of {', '.join(sorted(SCOPES))}", field=field
            )
        if name not in found:
            found.append(name)
    if own not in found:
        found.append(own)
    return tuple(sorted(found))


def parse_scope_parameter(value: str) -> tuple[str, ...]:
    """An OAuth `scope` parameter: space-separated names (RFC 6749 section 3.3)."""
    if len(value) > 4 * MAX_SCOPE_LENGTH * 8:
        raise InvalidInput("is too long", field="scope")
    return tuple(dict.fromkeys(value.split()))


def holds(granted: frozenset[str], needed: str) -> bool:
    """`needed` is granted, or it is a read scope whose write scope is."""
    if needed in granted:
        return True
    return needed.endswith(".read") and needed.removesuffix(".read") + ".write" in granted
