"""A dialect's routes render every error in the vendor's shape, whatever raised it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from pushgate.errors import Conflict, StorageUnavailable
from pushgate.http.dialect import Refusal, dialect_route
from pushgate.http.errors import install_error_handlers
from pushgate.http.limits import BodyLimitMiddleware

pytestmark = pytest.mark.anyio


def render(_request: Request, refusal: Refusal) -> Response:
    body = {"vendor_error": refusal.message, "field": refusal.field, "kind": refusal.code}
    return JSONResponse(body, status_code=refusal.status)


class Body(BaseModel):
    count: int


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    router = APIRouter(route_class=dialect_route(render))

    @router.post("/vendor/typed")
    async def typed(body: Body) -> dict[str, int]:
        return {"count": body.count}

    @router.post("/vendor/conflict")
    async def conflict() -> None:
        raise Conflict("already there", field="name")

    @router.post("/vendor/down")
    async def down() -> None:
        raise StorageUnavailable("the database is unreachable")

    @router.post("/vendor/bug")
    async def bug() -> None:
        raise RuntimeError("a bug with a secret: s3cr3t")

    app = FastAPI()
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=64)
    install_error_handlers(app)
    app.include_router(router)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http


async def test_service_errors_keep_their_status(client: httpx.AsyncClient) -> None:
    response = await client.post("/vendor/conflict")
    assert response.status_code == 409
    assert response.json() == {"vendor_error": "already there", "field": "name", "kind": "conflict"}
    assert (await client.post("/vendor/down")).status_code == 503


async def test_validation_errors_reach_the_renderer(client: httpx.AsyncClient) -> None:
    wrong_type = await client.post("/vendor/typed", json={"count": "many"})
    assert wrong_type.status_code == 422
    assert wrong_type.json()["field"] == "count"
    malformed = await client.post(
        "/vendor/typed", content=b"{", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400
    assert "vendor_error" in malformed.json()


async def test_a_bug_is_a_500_in_the_vendor_shape_without_its_details(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/vendor/bug")
    assert response.status_code == 500
    assert response.json()["kind"] == "internal"
    assert "s3cr3t" not in response.text


async def test_a_body_over_the_limit_while_streaming_is_the_vendors_413(
    client: httpx.AsyncClient,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b'{"count": 1}       '

    response = await client.post(
        "/vendor/typed", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert "vendor_error" in response.json()


async def test_a_declared_oversize_is_the_vendors_413_too(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/vendor/typed", content=b'{"count": 1}' + b" " * 100,
        headers={"content-type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 413
    assert response.json()["kind"] == "body_too_large"
