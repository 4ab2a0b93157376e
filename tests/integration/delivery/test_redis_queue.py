"""The delivery scenarios again, on the Redis Streams queue (PUSHGATE_QUEUE=redis).

The scenario tests are imported from their modules, so pytest runs them here a second time
with this module's `queue_settings`: the same behaviour, the other queue back end.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import REDIS_URL
from tests.integration.delivery.test_delivery_metrics import (
    test_the_backlog_counts_waiting_jobs_and_due_retries,
)
from tests.integration.delivery.test_lanes import (
    test_one_device_is_delivered_at_once_while_a_broadcast_runs,
)
from tests.integration.delivery.test_local_time import (
    test_each_device_gets_it_at_nine_in_its_own_zone,
)
from tests.integration.delivery.test_outcomes import (
    test_app_rate_limit_spreads_sends_without_counting_attempts,
    test_dead_token_deactivates_unless_renewed_after_the_provider_timestamp,
    test_rate_limited_once_is_queued_then_sent_after_retry_after,
)
from tests.integration.delivery.test_requests import (
    test_idempotency_key_returns_the_first_answer_and_sends_once,
    test_scheduled_notification_waits_and_can_be_cancelled_until_it_starts,
)
from tests.integration.delivery.test_targets import (
    test_app_target_reaches_every_active_registration_of_the_app_only,
    test_bulk_gives_each_user_its_variant_merged_over_the_common_one,
    test_push_group_and_platform_filter,
    test_registrations_target_reports_unknown_ids_as_not_found,
    test_topics_any_of_a_list_one_notification_per_device_with_user_filter,
)

__all__ = [
    "test_app_rate_limit_spreads_sends_without_counting_attempts",
    "test_app_target_reaches_every_active_registration_of_the_app_only",
    "test_bulk_gives_each_user_its_variant_merged_over_the_common_one",
    "test_dead_token_deactivates_unless_renewed_after_the_provider_timestamp",
    "test_each_device_gets_it_at_nine_in_its_own_zone",
    "test_idempotency_key_returns_the_first_answer_and_sends_once",
    "test_one_device_is_delivered_at_once_while_a_broadcast_runs",
    "test_push_group_and_platform_filter",
    "test_rate_limited_once_is_queued_then_sent_after_retry_after",
    "test_registrations_target_reports_unknown_ids_as_not_found",
    "test_scheduled_notification_waits_and_can_be_cancelled_until_it_starts",
    "test_the_backlog_counts_waiting_jobs_and_due_retries",
    "test_topics_any_of_a_list_one_notification_per_device_with_user_filter",
]


pytestmark = pytest.mark.anyio


@pytest.fixture
def queue_settings(redis_prefix: str) -> dict[str, Any]:
    return {"queue": "redis", "redis_url": REDIS_URL, "redis_prefix": redis_prefix}
