"""Prepared notifications: one Push per (bulk entry, locale), bulk entries by user, the cache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pushgate.delivery.prepared import Prepared, PreparedCache
from pushgate.domain.notifications import (
    Counts,
    Lane,
    Notification,
    NotificationRequest,
    NotificationState,
)
from pushgate.domain.payload import Content, DeliveryOptions, Message, build_message
from pushgate.domain.platforms import Platform
from pushgate.domain.recipients import Recipient
from pushgate.domain.targets import BulkEntry, Target, TargetKind

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OPTIONS = DeliveryOptions(expires_at=NOW + timedelta(hours=1))
COMMON = build_message(
    Content(alert="Hello!"),
    {"de": Content(alert="Guten Tag!"), "en-US": Content(alert="Howdie!")},
)


def _notification(notification_id: str = "n" * 32, epoch: int = 0) -> Notification:
    return Notification(
        id=notification_id,
        app_id=1,
        kind="users",
        lane=Lane.BULK,
        state=NotificationState.SENDING,
        request_json="{}",
        epoch=epoch,
        send_at=None,
        local_time=False,
        expires_at=OPTIONS.expires_at,
        idempotency_key=None,
        counts=Counts(0, 0, 0, 0, 0, 0, 0),
        fanout_done=False,
        batches_open=1,
        created_at=NOW,
        updated_at=NOW,
        started_at=NOW,
        completed_at=None,
    )


def _prepared(
    target: Target, message: Message = COMMON, notification: Notification | None = None
) -> Prepared:
    request = NotificationRequest(target, message, OPTIONS)
    return Prepared(notification or _notification(), request, {"fcm": 50.0}, [3, 4])


def _row(
    registration_id: str,
    *,
    locale: str | None = None,
    user_name: str | None = None,
    user_uuid: str | None = None,
) -> Recipient:
    return Recipient(
        registration_id=registration_id,
        platform=Platform.FCM,
        token="tok-" + registration_id,
        user_name=user_name,
        user_uuid=user_uuid,
        locale=locale,
    )


USERS = Target(TargetKind.USERS, users=("alice", "bob"))

# --- one Push per locale ------------------------------------------------------------------


def test_registrations_with_the_same_locale_share_one_push() -> None:
    prepared = _prepared(USERS)
    first = prepared.push_for(_row("r1", locale="de-DE"))
    second = prepared.push_for(_row("r2", locale="de-DE"))
    assert first is second


def test_push_carries_the_variant_for_the_registrations_locale() -> None:
    prepared = _prepared(USERS)
    assert prepared.push_for(_row("r1", locale="de-DE-bay")).content.alert == "Guten Tag!"
    assert prepared.push_for(_row("r2", locale="en_US")).content.alert == "Howdie!"
    assert prepared.push_for(_row("r3", locale="fr")).content.alert == "Hello!"
    assert prepared.push_for(_row("r4")).content.alert == "Hello!"


def test_different_locales_get_their_own_push() -> None:
    prepared = _prepared(USERS)
    assert prepared.push_for(_row("r1", locale="de")) is not prepared.push_for(
        _row("r2", locale="en-US")
    )


def test_push_carries_the_notifications_options() -> None:
    assert _prepared(USERS).push_for(_row("r1")).options == OPTIONS


def test_prepared_keeps_rate_limits_and_topic_ids() -> None:
    prepared = _prepared(USERS)
    assert prepared.rate_limits == {"fcm": 50.0}
    assert prepared.topic_ids == (3, 4)


# --- bulk entries -------------------------------------------------------------------------


def _entry(user: str | None, user_uuid: str | None, alert: str) -> BulkEntry:
    return BulkEntry(
        user, user_uuid, build_message(Content(alert=alert), {"de": Content(alert=alert + " (de)")})
    )


BULK = Target(
    TargetKind.BULK,
    bulk=(
        _entry("alice", None, "for alice"),
        _entry(None, "uuid-bob", "for bob"),
        _entry("carol", "uuid-carol", "for carol"),
        _entry("alice", None, "for alice, again"),
    ),
)


def _alert(prepared: Prepared, row: Recipient, history: dict[str, set[str]] | None = None) -> str:
    alert = prepared.push_for(row, history).content.alert
    assert alert is not None
    return alert


def test_bulk_entry_is_chosen_by_user_name() -> None:
    assert _alert(_prepared(BULK), _row("r1", user_name="carol")) == "for carol"


def test_bulk_entry_is_chosen_by_global_user_id_without_a_name_match() -> None:
    row = _row("r1", user_name="robert", user_uuid="uuid-bob")
    assert _alert(_prepared(BULK), row) == "for bob"


def test_user_name_wins_over_global_user_id() -> None:
    row = _row("r1", user_name="alice", user_uuid="uuid-bob")
    assert _alert(_prepared(BULK), row) == "for alice"


def test_bulk_entry_is_chosen_by_a_past_global_user_id() -> None:
    row = _row("r1", user_uuid="uuid-new")
    history = {"r1": {"uuid-old", "uuid-bob"}}
    assert _alert(_prepared(BULK), row, history) == "for bob"


def test_current_global_user_id_wins_over_a_past_one() -> None:
    row = _row("r1", user_uuid="uuid-carol")
    assert _alert(_prepared(BULK), row, {"r1": {"uuid-bob"}}) == "for carol"


def test_past_ids_of_another_registration_do_not_count() -> None:
    row = _row("r1", user_uuid="uuid-new")
    assert _alert(_prepared(BULK), row, {"r2": {"uuid-bob"}}) == "Hello!"


def test_registration_matching_no_entry_gets_the_common_notification() -> None:
    assert _alert(_prepared(BULK), _row("r1", user_name="dave", locale="de")) == "Guten Tag!"


def test_first_entry_for_a_user_named_twice_wins() -> None:
    assert _alert(_prepared(BULK), _row("r1", user_name="alice")) == "for alice"


def test_bulk_entry_variant_follows_the_registrations_locale() -> None:
    row = _row("r1", user_name="carol", locale="de-CH")
    assert _alert(_prepared(BULK), row) == "for carol (de)"


def test_same_entry_and_locale_share_one_push() -> None:
    prepared = _prepared(BULK)
    one = prepared.push_for(_row("r1", user_name="alice", locale="de"))
    two = prepared.push_for(_row("r2", user_name="alice", locale="de"))
    assert one is two


def test_same_locale_in_different_entries_gets_different_pushes() -> None:
    prepared = _prepared(BULK)
    alice = prepared.push_for(_row("r1", user_name="alice", locale="de"))
    carol = prepared.push_for(_row("r2", user_name="carol", locale="de"))
    assert alice is not carol
    assert alice.content != carol.content


def test_history_is_needed_only_when_an_entry_names_a_global_user_id() -> None:
    assert _prepared(BULK).needs_history
    by_name = Target(TargetKind.BULK, bulk=(_entry("alice", None, "a"),))
    assert not _prepared(by_name).needs_history
    assert not _prepared(USERS).needs_history


def test_non_bulk_target_ignores_user_names() -> None:
    prepared = _prepared(USERS)
    assert prepared.push_for(_row("r1", user_name="alice")).content.alert == "Hello!"


# --- PreparedCache ------------------------------------------------------------------------


def _item(notification_id: str, epoch: int = 0) -> Prepared:
    return _prepared(USERS, notification=_notification(notification_id, epoch))


def test_cache_finds_what_was_put_by_id_and_epoch() -> None:
    cache = PreparedCache()
    item = _item("a")
    assert cache.put(item) is item
    assert cache.get("a", 0) is item


def test_cache_misses_another_epoch_of_the_same_notification() -> None:
    cache = PreparedCache()
    cache.put(_item("a", epoch=1))
    assert cache.get("a", 2) is None
    assert cache.get("b", 1) is None


def test_cache_holds_at_most_its_limit_dropping_the_oldest() -> None:
    cache = PreparedCache(limit=3)
    for name in "abcd":
        cache.put(_item(name))
    assert cache.get("a", 0) is None
    assert all(cache.get(name, 0) is not None for name in "bcd")


def test_cache_drops_the_least_recently_used() -> None:
    cache = PreparedCache(limit=3)
    for name in "abc":
        cache.put(_item(name))
    cache.get("a", 0)  # a is now the most recently used
    cache.put(_item("d"))
    assert cache.get("b", 0) is None
    assert all(cache.get(name, 0) is not None for name in "acd")


def test_putting_a_key_again_replaces_it_and_makes_it_recent() -> None:
    cache = PreparedCache(limit=2)
    cache.put(_item("a"))
    cache.put(_item("b"))
    newer = cache.put(_item("a"))
    cache.put(_item("c"))
    assert cache.get("a", 0) is newer
    assert cache.get("b", 0) is None
