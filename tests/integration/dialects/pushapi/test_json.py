"""JSON bodies: the seed's sample verbatim, filled variants, formats, and type errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from pushgate.providers.recording import Recorder
from tests.integration.api.helpers import ADMIN
from tests.integration.delivery.conftest import register
from tests.integration.dialects.pushapi.conftest import (
    ALICE_TOKENS,
    Company,
    field_of,
    push_json,
    refusal,
    stored_notifications,
)
from tests.integration.dialects.pushapi.samples import PATH, SEED_SAMPLE_BODY, read_xml

pytestmark = pytest.mark.anyio


async def test_seed_sample_body_verbatim_is_400_for_want_of_a_user(
    client: httpx.AsyncClient, company: Company
) -> None:
    for answer in ("json", None):
        response = await client.post(
            PATH,
            params={"format": answer} if answer else {},
            content=SEED_SAMPLE_BODY,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400, response.text
        if answer == "json":
            status = refusal(response, 400)
            assert status["ErrorCode"] == "MissingField"
            assert field_of(status) == "UserId"
        else:  # the default answer format is XML
            root, body = read_xml(response.content)
            assert root == "ErrorResponse"
            assert body["ResponseStatus"]["ErrorCode"] == "MissingField"
            assert body["ResponseStatus"]["Errors"][0]["FieldName"] == "UserId"
    assert await stored_notifications(client) == []


async def test_seed_sample_filled_in_sends_to_every_device_of_the_user(
    client: httpx.AsyncClient, company: Company, recorder: Recorder
) -> None:
    body = company.body(UserId="alice", Title="Goal!", Body="2:1")
    response = await push_json(client, body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert answer["UserId"] == "alice"
    assert len(answer["NotificationId"]) == 32
    devices = answer["Devices"]
    assert sorted(d["Platform"] for d in devices) == ["apns", "fcm"]
    for device in devices:
        assert (device["Status"], device["Code"], device["Message"]) == ("SENT", 0, "success")
        assert device["DeliveryId"] == answer["NotificationId"] + device["RegistrationId"]
    assert sorted(recorder.tokens()) == sorted(ALICE_TOKENS)
    for _, _, push in recorder.accepted:
        assert (push.content.title, push.content.body) == ("Goal!", "2:1")
    assert [n["id"] for n in await stored_notifications(client)] == [answer["NotificationId"]]


async def test_a_device_the_provider_refuses_is_reported_with_its_code(
    client: httpx.AsyncClient, company: Company
) -> None:
    await register(client, ADMIN, "dead-carol", platform="ios", user="carol")
    response = await push_json(client, company.body(UserId="carol", Body="hello"))
    assert response.status_code == 200, response.text
    (device,) = response.json()["Devices"]
    assert (device["Status"], device["Code"]) == ("ERROR", 6)
    assert device["Message"] == "Unregistered"


async def test_a_user_without_devices_gets_an_empty_device_list(
    client: httpx.AsyncClient, company: Company
) -> None:
    response = await push_json(client, company.body(UserId="carol", Body="hello"))
    assert response.status_code == 200, response.text
    assert response.json()["Devices"] == []


@pytest.mark.parametrize("answer", [None, "xml", "XML"])
async def test_the_answer_is_xml_unless_json_is_asked_for(
    client: httpx.AsyncClient, company: Company, answer: str | None
) -> None:
    response = await push_json(client, company.body(UserId="alice", Body="hi"), answer=answer)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/xml; charset=utf-8"
    assert b'xmlns:i="http://www.w3.org/2001/XMLSchema-instance"' in response.content
    root, body = read_xml(response.content)
    assert root == "PushResponse"
    assert body["UserId"] == "alice"
    assert len(body["NotificationId"]) == 32
    assert sorted(d["Platform"] for d in body["Devices"]) == ["apns", "fcm"]
    for device in body["Devices"]:
        assert (device["Status"], device["Code"], device["Message"]) == ("SENT", "0", "success")
        assert set(device) == {
            "RegistrationId", "DeliveryId", "Platform", "Status", "Code", "Message"
        }  # fmt: skip


async def test_format_json_in_any_case(client: httpx.AsyncClient, company: Company) -> None:
    response = await push_json(client, company.body(UserId="alice", Body="hi"), answer="Json")
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"NotificationId", "UserId", "Devices"}


async def test_an_unknown_format_is_refused_in_xml(
    client: httpx.AsyncClient, company: Company
) -> None:
    response = await push_json(client, company.body(UserId="alice", Body="hi"), answer="yaml")
    assert response.status_code == 400, response.text
    root, body = read_xml(response.content)
    assert root == "ErrorResponse"
    assert body["ResponseStatus"]["Errors"][0]["FieldName"] == "format"
    assert await stored_notifications(client) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("Sound", "yes"),
        ("Sound", 1),
        ("ExpirySecs", -1),
        ("ExpirySecs", 1.5),
        ("ExpirySecs", "60"),
        ("ExpirySecs", True),
        ("ExpirySecs", 2**31),
        ("CompanyId", "1"),
        ("CompanyId", True),
        ("CompanyId", -3),
        ("UserId", 5),
        ("UserEmail", ["alice@example.com"]),
        ("Title", "x" * 2049),
        ("Body", {"text": "hi"}),
        ("IntegrationKey", 12),
        ("IntegrationKey", "pgk_\ud800"),  # an unpaired surrogate: JSON can escape one
        ("UserId", "al\u0000ice"),
    ],
)
async def test_a_field_of_the_wrong_type_is_400_naming_it(
    client: httpx.AsyncClient, company: Company, field: str, value: object
) -> None:
    body = company.body(UserId="alice", Body="hi")
    body[field] = value
    status = refusal(await push_json(client, body), 400)
    assert field_of(status) == field
    assert status["Message"].startswith(f"{field}: must be")
    assert await stored_notifications(client) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"UserId": "alice",', "the body is not valid JSON"),
        (b"[1, 2]", "the body must be a JSON object"),
        (b"\xff\xfe\x00", "the body is not valid JSON"),
        (b"[" * 50_000 + b"]" * 50_000, "the body is not valid JSON"),
        (b"", "the body is not valid JSON"),
    ],
)
async def test_a_body_that_is_no_json_object_is_400(
    client: httpx.AsyncClient, company: Company, content: bytes, message: str
) -> None:
    response = await client.post(
        PATH,
        params={"format": "json"},
        content=content,
        headers={"Content-Type": "application/json"},
    )
    status = refusal(response, 400)
    assert status["Message"] == message
    assert status["Errors"] == []


async def test_neither_title_nor_body_is_400(client: httpx.AsyncClient, company: Company) -> None:
    status = refusal(await push_json(client, company.body(UserId="alice")), 400)
    assert (status["ErrorCode"], field_of(status)) == ("MissingField", "Body")
    assert await stored_notifications(client) == []


async def test_names_match_in_any_case_and_unknown_members_are_ignored(
    client: httpx.AsyncClient, company: Company, recorder: Recorder
) -> None:
    body = {
        "userId": "alice",
        "title": "Hi",
        "companyid": company.company_id,
        "INTEGRATIONKEY": company.key,
        "Priority": "high",
    }
    response = await push_json(client, body)
    assert response.status_code == 200, response.text
    assert sorted(recorder.tokens()) == sorted(ALICE_TOKENS)


async def test_a_name_given_twice_in_two_cases_is_400(
    client: httpx.AsyncClient, company: Company
) -> None:
    content = json.dumps(company.body(UserId="alice", Body="hi"))[:-1] + ', "userid": "bob"}'
    response = await client.post(
        PATH,
        params={"format": "json"},
        content=content,
        headers={"Content-Type": "application/json"},
    )
    assert field_of(refusal(response, 400)) == "UserId"
    assert await stored_notifications(client) == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
async def test_a_content_type_neither_json_nor_xml_is_415(
    client: httpx.AsyncClient, company: Company, content_type: str
) -> None:
    response = await client.post(
        PATH,
        params={"format": "json"},
        content=json.dumps(company.body(UserId="alice", Body="hi")),
        headers={"Content-Type": content_type},
    )
    status = refusal(response, 415)
    assert status["ErrorCode"] == "UnsupportedMediaType"
    assert await stored_notifications(client) == []


async def test_an_oversized_body_is_413_in_the_dialect_shape(
    client: httpx.AsyncClient, company: Company
) -> None:
    body = company.body(UserId="alice", Body="hi", Padding="x" * 200_000)
    response = await push_json(client, body, answer=None)
    assert response.status_code == 413, response.text
    root, answer = read_xml(response.content)
    assert (root, answer["ResponseStatus"]["ErrorCode"]) == ("ErrorResponse", "BodyTooLarge")
    assert await stored_notifications(client) == []


async def test_an_oversized_streamed_body_is_413_in_the_dialect_shape(
    client: httpx.AsyncClient, company: Company
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield json.dumps(company.body(UserId="alice", Body="hi"))[:-1].encode()
        for _ in range(40):
            yield b', "Padding": "' + b"x" * 4096 + b'"'
        yield b"}"

    response = await client.post(
        PATH,
        params={"format": "json"},
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert refusal(response, 413)["ErrorCode"] == "BodyTooLarge"
    assert await stored_notifications(client) == []


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_another_method_is_405_in_the_dialect_shape(
    client: httpx.AsyncClient, method: str
) -> None:
    response = await client.request(method, PATH, params={"format": "json"})
    assert response.headers["allow"] == "POST"
    assert refusal(response, 405)["ErrorCode"] == "MethodNotAllowed"
    in_xml = await client.request(method, PATH)
    assert in_xml.status_code == 405, in_xml.text
    assert read_xml(in_xml.content)[0] == "ErrorResponse"
