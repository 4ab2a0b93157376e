"""Text no database stores (NUL, lone surrogates) is refused at the edge, naming the field, on
both back ends alike: PostgreSQL answered such a value with a 500 and SQLite stored it."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.integration.api.helpers import ADMIN, make_app

pytestmark = pytest.mark.anyio

BAD = ["a\u0000b", "a\ud800b"]


def raw(body: object) -> bytes:
    # json.dumps escapes both as \u0000 and \ud800, exactly what a client would send.
    return json.dumps(body).encode()


def filled(value: object, bad: str) -> object:
    if isinstance(value, str):
        return value.replace("{bad}", bad)
    if isinstance(value, dict):
        return {k: filled(v, bad) for k, v in value.items()}
    if isinstance(value, list):
        return [filled(v, bad) for v in value]
    return value


async def post(client: httpx.AsyncClient, path: str, body: object) -> httpx.Response:
    headers = {**ADMIN, "content-type": "application/json"}
    return await client.post(path, content=raw(body), headers=headers)


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/apps/news/registrations", {"platform": "fcm", "token": "{bad}"}, "token"),
        ("/v1/apps/news/registrations", {"platform": "fcm", "token": "t", "user": "{bad}"},
         "user"),
        ("/v1/apps/news/topics", {"name": "n", "description": "{bad}"}, "description"),
        ("/v1/apps/news/users", {"name": "u", "external_id": "{bad}"}, "external_id"),
        ("/v1/apps/news/notifications",
         {"target": {"users": ["u"]}, "notification": {"alert": "{bad}"}},
         "notification.alert"),
        ("/v1/apps/news/notifications",
         {"target": {"users": ["u"]}, "notification": {"alert": "a", "data": {"k": "{bad}"}}},
         "notification.data"),
    ],
)  # fmt: skip
async def test_bodies_with_unstorable_text_are_refused_and_store_nothing(
    client: httpx.AsyncClient,
    bad: str,
    path: str,
    body: dict[str, object],
    field: str,
) -> None:
    await make_app(client, "news")
    response = await post(client, path, filled(body, bad))
    # 400 from a service rule, 422 from request validation: never a 500, never stored.
    assert response.status_code in (400, 422), response.text
    assert response.json()["error"]["field"] == field
    listed = await client.get("/v1/apps/news/registrations", headers=ADMIN)
    assert listed.json()["items"] == []


async def test_path_and_query_values_with_a_nul_are_400(client: httpx.AsyncClient) -> None:
    await make_app(client, "news")
    by_query = await client.get("/v1/apps/news/registrations?user=a%00b", headers=ADMIN)
    by_path = await client.get("/v1/apps/news/users/a%00b", headers=ADMIN)
    assert (by_query.status_code, by_query.json()["error"]["field"]) == (400, "user")
    assert (by_path.status_code, by_path.json()["error"]["field"]) == (400, "user")
