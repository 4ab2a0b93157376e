"""Roles an app key (or an OAuth token's scopes) grants, and what each one allows."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from pushgate.errors import InvalidInput


class Role(StrEnum):
    # SAP Mobile Services service-key roles (002 seed), verbatim.
    PUSH_SINGLE = "push_single"
    PUSH_MULTIPLE = "push_multiple"
    PUSH_ALL = "push_all"
    PUSHREGISTRATIONS_READ = "pushregistrations_read"
    # pushgate's own: device registration writes and managing the app itself.
    REGISTRATIONS_WRITE = "registrations_write"
    APP_ADMIN = "app_admin"


ALL_ROLES: frozenset[Role] = frozenset(Role)


def parse_roles(names: Iterable[str], *, field: str = "roles") -> frozenset[Role]:
    """Validate role names; an empty set is refused because such a key could do nothing."""
    roles: set[Role] = set()
    for name in names:
        try:
            roles.add(Role(name))
        except ValueError:
            known = ", ".join(sorted(r.value for r in Role))
            raise InvalidInput(f"unknown role; use {known}", field=field) from None
    if not roles:
        raise InvalidInput("at least one role is required", field=field)
    return frozenset(roles)


def grants(held: frozenset[Role], needed: Role) -> bool:
    """app_admin holds every role of its app."""
    return needed in held or Role.APP_ADMIN in held
