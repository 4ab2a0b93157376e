"""Target selectors: shape rules per kind, the role each needs, lanes and round trips."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given

from pushgate.domain.payload import Content, Message
from pushgate.domain.platforms import Platform
from pushgate.domain.roles import Role
from pushgate.domain.targets import (
    MAX_LISTED,
    BulkEntry,
    CapabilityUser,
    Target,
    TargetKind,
    check_target,
    required_role,
)
from pushgate.errors import ErrorCode, InvalidInput, MissingField
from tests.unit.domain.strategies import PROPERTY, TARGET

K = TargetKind
HELLO = Message(Content(alert="Hello"), {"de": Content(alert="Hallo")})

# One well-formed selector of every kind, each with what its kind can carry.
VALID: dict[TargetKind, Target] = {
    K.REGISTRATIONS: Target(K.REGISTRATIONS, registration_ids=("r1", "r2")),
    K.DEVICE: Target(K.DEVICE, device_id="dev-1", user="alice"),
    K.USERS: Target(K.USERS, users=("alice", "bob"), user_uuids=("u-1",)),
    K.BULK: Target(
        K.BULK,
        bulk=(
            BulkEntry("alice", None, HELLO),
            BulkEntry(None, "u-2", Message(Content(alert="Hi Bob"))),
        ),
    ),
    K.APP: Target(K.APP, platforms=frozenset({Platform.APNS, Platform.FCM})),
    K.TOPICS: Target(K.TOPICS, topics=("news", "sport"), users=("alice",)),
    K.PUSH_GROUP: Target(K.PUSH_GROUP, push_group="admin"),
    K.CAPABILITY: Target(
        K.CAPABILITY,
        capability="capability1",
        capability_users=(
            CapabilityUser(user="user1", form_factors=("phone",)),
            CapabilityUser(user_uuid="u-3"),
        ),
    ),
}


def test_every_kind_has_a_valid_example() -> None:
    assert set(VALID) == set(TargetKind)


@pytest.mark.parametrize("kind", list(TargetKind))
def test_well_formed_target_of_every_kind_passes(kind: TargetKind) -> None:
    target = VALID[kind]
    assert check_target(target) is target


def _target_with(kind: TargetKind, name: str, value: Any) -> Target:
    changes: dict[str, Any] = {name: value}
    return Target(kind, **changes)


def _missing(target: Target) -> MissingField:
    with pytest.raises(MissingField) as caught:
        check_target(target)
    assert caught.value.code is ErrorCode.MISSING_FIELD
    return caught.value


@pytest.mark.parametrize(
    ("target", "field"),
    [
        (Target(K.REGISTRATIONS), "target.registrations"),
        (Target(K.DEVICE, device_id="dev-1"), "target.user"),
        (Target(K.USERS), "target.users"),
        (Target(K.BULK), "target.bulk"),
        (Target(K.TOPICS), "target.topics"),
        (Target(K.TOPICS, users=("alice",)), "target.topics"),
        (Target(K.PUSH_GROUP), "target.push_group"),
        (Target(K.PUSH_GROUP, push_group=""), "target.push_group"),
        (Target(K.CAPABILITY), "target.capability"),
        (Target(K.CAPABILITY, capability_users=(CapabilityUser("u"),)), "target.capability"),
    ],
    ids=lambda value: value.kind.value if isinstance(value, Target) else value,
)
def test_target_missing_what_its_kind_needs_names_the_field(target: Target, field: str) -> None:
    assert _missing(target).field == field


def test_device_target_without_device_id_is_refused() -> None:
    _missing(Target(K.DEVICE, user="alice"))


def test_device_target_accepts_a_global_user_id_for_the_user() -> None:
    check_target(Target(K.DEVICE, device_id="dev-1", user_uuids=("u-1",)))


def test_users_target_accepts_only_global_user_ids() -> None:
    check_target(Target(K.USERS, user_uuids=("u-1",)))


def test_bulk_entry_naming_no_user_is_refused_naming_its_index() -> None:
    target = Target(K.BULK, bulk=(BulkEntry("alice", None, HELLO), BulkEntry(None, None, HELLO)))
    assert _missing(target).field == "target.bulk[1].user"


def test_bulk_entry_with_empty_names_counts_as_naming_no_user() -> None:
    assert _missing(Target(K.BULK, bulk=(BulkEntry("", "", HELLO),))).field == "target.bulk[0].user"


def test_app_target_needs_nothing_named() -> None:
    check_target(Target(K.APP))


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("registration_ids", K.REGISTRATIONS),
        ("users", K.USERS),
        ("user_uuids", K.USERS),
        ("topics", K.TOPICS),
    ],
)
def test_at_most_10000_entries_are_listed(name: str, kind: TargetKind) -> None:
    names = tuple(f"n{i}" for i in range(MAX_LISTED))
    check_target(_target_with(kind, name, names))
    with pytest.raises(InvalidInput) as caught:
        check_target(_target_with(kind, name, (*names, "one-more")))
    assert caught.value.field == f"target.{name}"
    assert not isinstance(caught.value, MissingField)


def test_at_most_10000_bulk_entries() -> None:
    entries = tuple(BulkEntry(f"user{i}", None, HELLO) for i in range(MAX_LISTED + 1))
    check_target(Target(K.BULK, bulk=entries[:-1]))
    with pytest.raises(InvalidInput) as caught:
        check_target(Target(K.BULK, bulk=entries))
    assert caught.value.field == "target.bulk"


# --- roles and lanes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "role"),
    [
        (Target(K.DEVICE, device_id="d", user="alice"), Role.PUSH_SINGLE),
        (Target(K.REGISTRATIONS, registration_ids=("r1",)), Role.PUSH_SINGLE),
        (Target(K.REGISTRATIONS, registration_ids=("r1", "r2")), Role.PUSH_MULTIPLE),
        (Target(K.USERS, users=("alice",)), Role.PUSH_MULTIPLE),
        (VALID[K.USERS], Role.PUSH_MULTIPLE),
        (VALID[K.BULK], Role.PUSH_MULTIPLE),
        (VALID[K.TOPICS], Role.PUSH_MULTIPLE),
        (VALID[K.PUSH_GROUP], Role.PUSH_MULTIPLE),
        (VALID[K.CAPABILITY], Role.PUSH_MULTIPLE),
        (Target(K.APP), Role.PUSH_ALL),
        (VALID[K.APP], Role.PUSH_ALL),  # a platform filter still reaches the whole app
    ],
    ids=lambda value: value.kind.value if isinstance(value, Target) else value.value,
)
def test_required_role_follows_how_many_devices_the_kind_reaches(
    target: Target, role: Role
) -> None:
    assert required_role(target) is role


@pytest.mark.parametrize(
    ("target", "single"),
    [
        (VALID[K.DEVICE], True),
        (Target(K.REGISTRATIONS, registration_ids=("r1",)), True),
        (VALID[K.REGISTRATIONS], False),
        (Target(K.USERS, users=("alice",)), False),
        (VALID[K.BULK], False),
        (VALID[K.APP], False),
        (VALID[K.TOPICS], False),
        (VALID[K.PUSH_GROUP], False),
        (VALID[K.CAPABILITY], False),
    ],
)
def test_is_single_only_for_one_named_device(target: Target, single: bool) -> None:
    assert target.is_single is single


SMALL_KINDS = {K.REGISTRATIONS, K.DEVICE, K.USERS, K.BULK}


@pytest.mark.parametrize("kind", list(TargetKind))
def test_is_small_for_named_devices_and_users_only(kind: TargetKind) -> None:
    assert VALID[kind].is_small is (kind in SMALL_KINDS)


# --- round trips --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(TargetKind))
def test_target_of_every_kind_round_trips_through_json(kind: TargetKind) -> None:
    target = VALID[kind]
    assert Target.from_dict(json.loads(json.dumps(target.to_dict()))) == target


@PROPERTY
@given(target=TARGET)
def test_any_target_round_trips_through_its_dict(target: Target) -> None:
    assert Target.from_dict(target.to_dict()) == target


@PROPERTY
@given(target=TARGET)
def test_any_target_round_trips_through_json(target: Target) -> None:
    assert Target.from_dict(json.loads(json.dumps(target.to_dict()))) == target


def test_platforms_are_stored_in_a_stable_order() -> None:
    one = Target(K.APP, platforms=frozenset({Platform.WNS, Platform.APNS, Platform.FCM}))
    assert one.to_dict()["platforms"] == ["apns", "fcm", "wns"]
