"""Bulk registration import: up to 1,000 registrations a request, an outcome per row."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pushgate.api.v1.common import ROUTER_DEFAULTS
from pushgate.api.v1.registrations import RegistrationIn
from pushgate.domain.roles import Role
from pushgate.errors import ErrorCode, PushgateError
from pushgate.http.deps import PrincipalDep, RuntimeDep
from pushgate.http.errors import STATUS, describe_validation
from pushgate.services.auth import app_id_for
from pushgate.services.registration_import import (
    MAX_IMPORT_ROWS,
    ImportItem,
    import_registrations,
)

router = APIRouter(tags=["registrations"], **ROUTER_DEFAULTS)


class ImportIn(BaseModel):
    # Not a StrictModel for the rows: each row is validated on its own (as RegistrationIn,
    # text storability included), so one bad row is refused alone, never the whole batch.
    model_config = ConfigDict(extra="forbid")

    rows: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_IMPORT_ROWS,
        description="Registrations exactly as POST /v1/apps/{app}/registrations takes them",
    )


class RowError(BaseModel):
    status: int = Field(description="What the single registration request would have answered")
    code: str
    message: str
    field: str | None = None


class RowResult(BaseModel):
    index: int = Field(description="The row's position in `rows`")
    status: Literal["created", "updated", "rejected"]
    id: str | None = Field(default=None, description="The registration's id")
    error: RowError | None = None


class ImportOut(BaseModel):
    created: int
    updated: int
    rejected: int
    results: list[RowResult]


class _RowRefused(PushgateError):
    """A row that failed request validation, with the status the single request answers."""

    def __init__(self, status: int, code: ErrorCode, message: str, field: str | None) -> None:
        super().__init__(message, field=field)
        self.status = status
        self.row_code = code


def _item(row: dict[str, Any]) -> ImportItem | PushgateError:
    try:
        parsed = RegistrationIn.model_validate(row)
    except ValidationError as exc:
        status, code, message, field, _ = describe_validation(exc.errors())
        return _RowRefused(status, code, message, field)
    return ImportItem(parsed.platform, parsed.token, parsed.to_write())


def _error(exc: PushgateError) -> RowError:
    if isinstance(exc, _RowRefused):
        return RowError(status=exc.status, code=exc.row_code, message=exc.message, field=exc.field)
    return RowError(status=STATUS[exc.code], code=exc.code, message=exc.message, field=exc.field)


@router.post(
    "/apps/{app}/registrations/import",
    response_model=ImportOut,
    responses={200: {"description": "Every row's outcome (a refused row fails alone)"}},
)
async def import_registrations_route(
    app: str, body: ImportIn, principal: PrincipalDep, runtime: RuntimeDep
) -> Response:
    """Create or update up to 1,000 registrations (role registrations_write).

    Each row is what `POST /v1/apps/{app}/registrations` takes and is checked exactly as
    that request would be; the answer gives each row's outcome: created or updated with the
    registration's id, or rejected with the status, code, message and field the single
    request would have answered. Rows naming the same platform and token apply in order.
    """
    app_id = await app_id_for(runtime.db, principal, app, Role.REGISTRATIONS_WRITE)
    items = [_item(row) for row in body.rows]
    outcomes = await import_registrations(
        runtime.db, app_id, items, runtime.clock(), endpoints=runtime.engine.registry.options
    )
    results: list[RowResult] = []
    counts = {"created": 0, "updated": 0, "rejected": 0}
    for index, outcome in enumerate(outcomes):
        if outcome.error is not None:
            result = RowResult(index=index, status="rejected", error=_error(outcome.error))
        else:
            state: Literal["created", "updated"] = "created" if outcome.created else "updated"
            result = RowResult(index=index, status=state, id=outcome.registration_id)
        counts[result.status] += 1
        results.append(result)
    answer = ImportOut(**counts, results=results)
    # Serialized here, not validated again against response_model by FastAPI.
    return Response(answer.model_dump_json(), media_type="application/json")
