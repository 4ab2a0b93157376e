"""GET .../notifications/{id}/errors: a notification's ERROR deliveries by code and reason."""

from __future__ import annotations

import httpx
import pytest

from pushgate.delivery.worker import Worker
from tests.integration.delivery.conftest import register, send, wait_done

pytestmark = pytest.mark.anyio


async def test_errors_are_counted_by_code_and_reason_most_frequent_first(
    client: httpx.AsyncClient, app_key: dict[str, str], worker: Worker
) -> None:
    # Two unregistered tokens, one invalid, one too large, one delivered (no error).
    for token in ("dead-1", "dead-2", "bad-1", "big-1", "ok-1"):
        await register(client, app_key, token, user="alice")
    response = await send(client, app_key, {"users": ["alice"]})
    assert response.status_code in (200, 202), response.text
    notification_id = response.json()["id"]
    await wait_done(client, app_key, notification_id)

    errors = await client.get(
        f"/v1/apps/news/notifications/{notification_id}/errors", headers=app_key
    )

    # PostgreSQL refused this query (a bound '' in GROUP BY) until the reason became a literal.
    assert errors.status_code == 200, errors.text
    assert errors.json() == {
        "notification_id": notification_id,
        "items": [
            {"code": 6, "reason": "Unregistered", "count": 2},
            {"code": 6, "reason": "BadDeviceToken", "count": 1},
            {"code": 9, "reason": "PayloadTooLarge", "count": 1},
        ],
    }
