"""The answer to a push: a result per registration reached, and the document's status.

200: the push went to the providers (review the results for queued or refused targets);
202: push to device only, queued (the provider has not answered yet); 422: every target
was refused by its provider. `target` is the registration id, `notificationId` the
delivery's own id (what GET v2/backend/notifications/{notificationId}/status takes).
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Response

from pushgate.dialects.sap.names import result_message
from pushgate.dialects.sap.schemas import PushResponse, PushResult
from pushgate.domain.statuses import DeliveryStatus
from pushgate.services.notifications import TargetResult


def http_status(results: Sequence[TargetResult], *, device: bool) -> int:
    if results and all(r.status is DeliveryStatus.ERROR for r in results):
        return 422
    if device and any(r.status is DeliveryStatus.QUEUED for r in results):
        return 202
    return 200


def push_result(result: TargetResult) -> PushResult:
    if result.status is DeliveryStatus.QUEUED:
        message = "queued: " + (result.message or "the provider has not answered yet")
    else:
        message = result_message(result.code, result.platform, result.message)
    return PushResult(
        target=result.registration_id,
        notificationId=result.delivery_id,
        code=int(result.code),
        message=message,
    )


def push_answer(results: Sequence[TargetResult], *, device: bool) -> Response:
    body = PushResponse(status=None, pushResults=[push_result(r) for r in results])
    return Response(
        body.model_dump_json(),
        status_code=http_status(results, device=device),
        media_type="application/json",
    )
