"""Key roles and what they grant; the rules for names that appear in URL paths."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import pytest

from pushgate.domain.names import check_name, check_topic_name
from pushgate.domain.roles import ALL_ROLES, Role, grants, parse_roles
from pushgate.errors import ErrorCode, InvalidInput

# --- parse_roles ---------------------------------------------------------------------------


def test_parse_roles_returns_the_named_roles() -> None:
    assert parse_roles(["push_single", "pushregistrations_read"]) == frozenset(
        {Role.PUSH_SINGLE, Role.PUSHREGISTRATIONS_READ}
    )


def test_parse_roles_collapses_duplicates() -> None:
    assert parse_roles(["app_admin", "app_admin"]) == frozenset({Role.APP_ADMIN})


def test_parse_roles_accepts_every_role() -> None:
    assert parse_roles(r.value for r in Role) == ALL_ROLES


def test_all_roles_is_every_role() -> None:
    assert frozenset(Role) == ALL_ROLES
    assert len(ALL_ROLES) == 6


@pytest.mark.parametrize(
    "names",
    [["superuser"], ["push_single", "root"], ["push single"], [""], ["push_single "]],
)
def test_parse_roles_refuses_unknown_role(names: list[str]) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_roles(names)
    assert info.value.code is ErrorCode.INVALID
    assert info.value.field == "roles"
    # The message lists what is allowed, so the caller can fix the request.
    assert all(r.value in info.value.message for r in Role)


def test_parse_roles_refusal_names_the_given_field() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_roles(["wizard"], field="scope")
    assert info.value.field == "scope"


@pytest.mark.parametrize("names", [[], (), iter(())])
def test_parse_roles_refuses_empty(names: Iterable[str]) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_roles(names)
    assert info.value.field == "roles"
    assert "at least one role" in info.value.message


# --- grants --------------------------------------------------------------------------------


@pytest.mark.parametrize("needed", list(Role))
def test_app_admin_grants_every_role(needed: Role) -> None:
    assert grants(frozenset({Role.APP_ADMIN}), needed) is True


@pytest.mark.parametrize("role", list(Role))
def test_a_role_grants_itself(role: Role) -> None:
    assert grants(frozenset({role}), role) is True


@pytest.mark.parametrize(
    ("held", "needed"),
    [
        (held, needed)
        for held, needed in itertools.permutations(Role, 2)
        if held is not Role.APP_ADMIN
    ],
)
def test_other_roles_grant_only_themselves(held: Role, needed: Role) -> None:
    assert grants(frozenset({held}), needed) is False


def test_push_all_does_not_imply_push_single() -> None:
    # SAP's push roles are separate grants, not a ladder.
    assert grants(frozenset({Role.PUSH_ALL, Role.PUSH_MULTIPLE}), Role.PUSH_SINGLE) is False


@pytest.mark.parametrize("needed", list(Role))
def test_no_roles_grant_nothing(needed: Role) -> None:
    assert grants(frozenset(), needed) is False


# --- check_name ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["a", "9", "com.example.app", "A-1_b.c", "my-app", "x" * 128, "a" + "." * 127]
)
def test_check_name_accepts(value: str) -> None:
    assert check_name(value, field="name") == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "x" * 129,
        ".hidden",
        "..",
        "-a",
        "_a",
        "a/b",
        "a%2Fb",
        "a\\b",
        "a b",
        " a",
        "a ",
        "a\n",
        "a\x00b",
        "a\tb",
        "a?b",
        "a#b",
        "a:b",
        "café",
    ],
)
def test_check_name_refuses(value: str) -> None:
    with pytest.raises(InvalidInput) as info:
        check_name(value, field="alias")
    assert info.value.field == "alias"
    assert info.value.code is ErrorCode.INVALID


# --- check_topic_name ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["news", "Sports: Football", "a b", "x", "x" * 129, "x" * 255, "Überraschung", "a.b-c_d"],
)
def test_check_topic_name_accepts(value: str) -> None:
    assert check_topic_name(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "x" * 256,
        "a/b",
        "/news",
        "a\\b",
        "a?b",
        "a#b",
        "a%b",
        "a%2Fb",
        "a\x00b",
        "a\nb",
        "a\rb",
        "a\tb",
        "\x1f",
        "\x1b[31mred",
        " lead",
        "trail ",
        "   ",
        "trail\u00a0",
    ],
)
def test_check_topic_name_refuses(value: str) -> None:
    with pytest.raises(InvalidInput) as info:
        check_topic_name(value)
    assert info.value.field == "name"
    assert info.value.code is ErrorCode.INVALID


def test_check_topic_name_refusal_names_the_given_field() -> None:
    with pytest.raises(InvalidInput) as info:
        check_topic_name("a/b", field="topics[0]")
    assert info.value.field == "topics[0]"


# DEL and the C1 controls are control characters too; \x9b is the 8-bit ANSI escape
# introducer (regression test for 8d8da86).
@pytest.mark.parametrize("value", ["a\x7fb", "a\x85b", "\x9b31mred"])
def test_check_topic_name_refuses_del_and_c1_controls(value: str) -> None:
    with pytest.raises(InvalidInput):
        check_topic_name(value)
