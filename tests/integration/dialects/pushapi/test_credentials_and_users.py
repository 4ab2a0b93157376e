"""CompanyId + IntegrationKey authenticate (401 for every wrong pair, whatever the reason);
UserId, UserEmail and UserExternalId name one user of that app."""

from __future__ import annotations

import httpx
import pytest

from pushgate.providers.recording import Recorder
from tests.conftest import ADMIN_KEY
from tests.integration.api.helpers import ADMIN, make_app, make_key
from tests.integration.delivery.conftest import register
from tests.integration.dialects.pushapi.conftest import (
    ALICE_TOKENS,
    BOB_TOKEN,
    Company,
    field_of,
    make_user,
    push_json,
    refusal,
    stored_notifications,
)
from tests.integration.dialects.pushapi.samples import read_xml

pytestmark = pytest.mark.anyio
WRONG_PAIR = "IntegrationKey: the company id and key do not match an API key of that app"


@pytest.fixture
async def other(client: httpx.AsyncClient, company: Company) -> Company:
    """A second app, "sport", with its own alice and her own device."""
    app = await make_app(client, "sport")
    key = await make_key(client, "sport", "push_all", alias="integration")
    created = await client.post("/v1/apps/sport/users", json={"name": "alice"}, headers=ADMIN)
    assert created.status_code == 201, created.text
    registered = await client.post(
        "/v1/apps/sport/registrations",
        json={"platform": "ios", "token": "5905905f", "user": "alice"},
        headers=ADMIN,
    )
    assert registered.status_code == 201, registered.text
    company_id = app["company_id"]
    assert isinstance(company_id, int)
    return Company(company_id, key)


async def test_every_wrong_pair_is_the_same_401(
    client: httpx.AsyncClient, company: Company, other: Company, recorder: Recorder
) -> None:
    pairs = {
        "another app's key": (company.company_id, other.key),
        "this key, another app's id": (other.company_id, company.key),
        "an id no app has": (company.company_id + 1000, company.key),
        "the seed's zero": (0, company.key),
        "an unknown key": (company.company_id, "pgk_" + "x" * 43),
        "an empty key": (company.company_id, ""),
        "the admin key": (company.company_id, ADMIN_KEY),
        "no company id": (None, company.key),
    }
    answers = set()
    for label, (company_id, key) in pairs.items():
        body = company.body(UserId="alice", Body="hi", CompanyId=company_id, IntegrationKey=key)
        response = await push_json(client, body)
        status = refusal(response, 401)
        assert response.headers["www-authenticate"] == 'IntegrationKey realm="pushgate"', label
        answers.add((status["ErrorCode"], status["Message"], field_of(status)))
    # One answer whatever was wrong: an app id cannot be probed with a key of another app.
    assert answers == {("Unauthenticated", WRONG_PAIR, "IntegrationKey")}
    assert recorder.accepted == []
    assert await stored_notifications(client) == []


async def test_a_wrong_pair_is_401_in_xml_by_default(
    client: httpx.AsyncClient, company: Company
) -> None:
    body = company.body(UserId="alice", Body="hi", IntegrationKey="pgk_wrong")
    response = await push_json(client, body, answer=None)
    assert response.status_code == 401, response.text
    root, answer = read_xml(response.content)
    assert root == "ErrorResponse"
    assert answer["ResponseStatus"]["ErrorCode"] == "Unauthenticated"


async def test_a_key_of_the_app_without_a_push_role_is_401_saying_so(
    client: httpx.AsyncClient, company: Company
) -> None:
    key = await make_key(client, "news", "registrations_write", "pushregistrations_read")
    body = company.body(UserId="alice", Body="hi", IntegrationKey=key)
    status = refusal(await push_json(client, body), 401)
    assert status["Message"] == (
        "IntegrationKey: this key has no push role (push_single, push_multiple, push_all)"
    )
    assert await stored_notifications(client) == []


@pytest.mark.parametrize("role", ["push_single", "push_multiple", "push_all", "app_admin"])
async def test_any_push_role_sends(
    client: httpx.AsyncClient, company: Company, recorder: Recorder, role: str
) -> None:
    key = await make_key(client, "news", role, alias=f"with-{role.replace('_', '-')}")
    body = company.body(UserId="alice", Body="hi", IntegrationKey=key)
    response = await push_json(client, body)
    assert response.status_code == 200, response.text
    assert sorted(recorder.tokens()) == sorted(ALICE_TOKENS)


async def test_a_user_name_reaches_only_this_apps_user(
    client: httpx.AsyncClient, company: Company, other: Company, recorder: Recorder
) -> None:
    response = await push_json(client, other.body(UserId="alice", Body="hi"))
    assert response.status_code == 200, response.text
    assert recorder.tokens() == ["5905905f"]


@pytest.mark.parametrize(
    ("fields", "tokens"),
    [
        ({"UserEmail": "alice@example.com"}, ALICE_TOKENS),
        ({"UserExternalId": "ext-bob"}, (BOB_TOKEN,)),
        (
            {"UserId": "bob", "UserEmail": "bob@example.com", "UserExternalId": "ext-bob"},
            (BOB_TOKEN,),
        ),
        ({"UserId": "", "UserEmail": "", "UserExternalId": "ext-alice"}, ALICE_TOKENS),
    ],
)
async def test_the_user_is_chosen_by_name_email_or_external_id(
    client: httpx.AsyncClient,
    company: Company,
    recorder: Recorder,
    fields: dict[str, str],
    tokens: tuple[str, ...],
) -> None:
    response = await push_json(client, company.body(Body="hi", **fields))
    assert response.status_code == 200, response.text
    assert sorted(recorder.tokens()) == sorted(tokens)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"UserId": "mallory"}, "UserId"),
        ({"UserEmail": "mallory@example.com"}, "UserEmail"),
        ({"UserExternalId": "ext-mallory"}, "UserExternalId"),
        ({"UserId": "alice", "UserEmail": "mallory@example.com"}, "UserEmail"),
    ],
)
async def test_an_unknown_user_is_404_naming_the_identifier(
    client: httpx.AsyncClient, company: Company, fields: dict[str, str], field: str
) -> None:
    status = refusal(await push_json(client, company.body(Body="hi", **fields)), 404)
    assert (status["ErrorCode"], field_of(status)) == ("NotFound", field)
    assert await stored_notifications(client) == []


async def test_an_unknown_user_is_checked_only_after_the_credentials(
    client: httpx.AsyncClient, company: Company, other: Company
) -> None:
    # bob exists in "news" only: a key of "sport" learns nothing about news's users.
    body = other.body(UserId="bob", Body="hi", CompanyId=company.company_id)
    refusal(await push_json(client, body), 401)


async def test_identifiers_naming_different_users_are_400(
    client: httpx.AsyncClient, company: Company, recorder: Recorder
) -> None:
    body = company.body(UserId="alice", UserExternalId="ext-bob", Body="hi")
    status = refusal(await push_json(client, body), 400)
    assert field_of(status) == "UserExternalId"
    assert status["Message"] == "UserExternalId: names another user than the name does"
    assert recorder.accepted == []
    assert await stored_notifications(client) == []


async def test_an_email_shared_by_two_users_is_400_ambiguous(
    client: httpx.AsyncClient, company: Company
) -> None:
    await make_user(client, "news", "alice2", email="alice@example.com")
    await register(client, ADMIN, "a11ce2", platform="ios", user="alice2")
    status = refusal(
        await push_json(client, company.body(UserEmail="alice@example.com", Body="hi")), 400
    )
    assert field_of(status) == "UserEmail"
    assert "several users" in status["Message"]
    assert await stored_notifications(client) == []
