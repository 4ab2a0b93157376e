"""schemathesis against the live OpenAPI document of a real server, on SQLite and PostgreSQL:
no 5xx, and every response (status, content type, body, headers) as the document says."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import hypothesis
import pytest
import schemathesis
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.conftest import MASTER_KEY, POSTGRES_URL, service_unavailable
from tests.e2e.server import LiveServer, live_server

ADMIN_KEY = "pga_schemathesis-" + secrets.token_hex(8)
ADMIN = {"X-API-Key": ADMIN_KEY}


def _seed(server: LiveServer) -> None:
    """Give generated requests something real to hit: an app, a key, a registration, a topic."""
    assert server.request("POST", "/v1/apps", {"name": "demo"}, ADMIN)[0] == 201
    status, _ = server.request(
        "POST", "/v1/apps/demo/keys", {"alias": "backend", "roles": ["app_admin"]}, ADMIN
    )
    assert status == 201
    status, _ = server.request(
        "POST",
        "/v1/apps/demo/registrations",
        {"platform": "ios", "token": "seed", "topics": ["news"]},
        ADMIN,
    )
    assert status == 201


async def _fresh_database() -> str:
    name = "pushgate_st_" + secrets.token_hex(4)
    try:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        service_unavailable(f"PostgreSQL at {POSTGRES_URL}", str(exc) or type(exc).__name__)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def _drop_database(name: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    env = {"PUSHGATE_ADMIN_KEY": ADMIN_KEY, "PUSHGATE_MASTER_KEY": MASTER_KEY}
    database = None
    if request.param == "postgres":
        database = asyncio.run(_fresh_database())
        env["PUSHGATE_DATABASE_URL"] = POSTGRES_URL.rsplit("/", 1)[0] + "/" + database
    try:
        with live_server(tmp_path_factory.mktemp("schemathesis"), env) as live:
            _seed(live)
            yield live
    finally:
        if database is not None:
            asyncio.run(_drop_database(database))


# ~150 operations x 15 examples: about a minute a backend; the default 120 s guards less.
@pytest.mark.timeout(300)
def test_every_operation_answers_as_documented(server: LiveServer) -> None:
    """Every operation, positive and negative cases, fixed seed: no 5xx, conformant answers.

    Driven through schemathesis's Python API (its pytest plugin does not run on pytest 9).
    """
    api = schemathesis.openapi.from_url(server.base_url + "/openapi.json")
    failures: list[str] = []
    operations = []
    for result in api.get_all_operations():
        assert isinstance(result, Ok), f"the served schema is invalid: {result}"
        operations.append(result.ok())
    assert len(operations) >= 20

    for operation in operations:

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=15,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        def check(case: Any) -> None:
            # Our validation is richer than JSON Schema can say (IANA time zones, vendor
            # platform aliases, cross-field rules such as Web Push keys), so a schema-valid
            # body may still get a 422; every other check runs.
            case.call_and_validate(headers=ADMIN, excluded_checks=[positive_data_acceptance])

        try:
            check()
        except Exception as exc:
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)


def test_openapi_document_is_served(server: LiveServer, tmp_path: Path) -> None:
    status, document = server.request("GET", "/openapi.json")
    assert status == 200
    paths = document["paths"]
    for path in (
        "/v1/apps",
        "/v1/apps/{app}/registrations",
        "/v1/apps/{app}/topics",
        "/v1/apps/{app}/credentials/{provider}",
        "/v1/oauth/token",
    ):
        assert path in paths
    assert set(document["components"]["securitySchemes"]) == {"ApiKey", "Bearer", "Basic"}
