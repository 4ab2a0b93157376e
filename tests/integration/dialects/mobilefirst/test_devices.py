"""Device registrations: the seed's example bodies verbatim, every status it lists, paging
through `next`, and every filter operator."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.dialects.mobilefirst.conftest import APP, V1, MobileFirst

pytestmark = pytest.mark.anyio

# The seed's bodies, byte for byte.
POST_BODY = b"""{
    "deviceId" : "12345-6789",
    "phoneNumber" : "123456789",
    "platform" : "A",
    "token" : "xyz"
}"""
PUT_BODY = b"""{
    "deviceId" : "12345-6789",
    "phoneNumber" : "123456789",
    "token" : "xyz",
    "userId" : "admin"
}"""
DEVICES = f"/apps/{APP}/devices"


async def raw(mfp: MobileFirst, method: str, path: str, body: bytes) -> Any:
    headers = {**mfp.auth, "Content-Type": "application/json"}
    return await mfp.http.request(method, V1 + path, content=body, headers=headers)


async def test_the_seeds_examples_register_read_update_and_delete_a_device(
    mfp: MobileFirst,
) -> None:
    created = await raw(mfp, "POST", DEVICES, POST_BODY)
    assert created.status_code == 201, created.text
    device = created.json()
    assert device["createdMode"] == "API"
    assert device["deviceId"] == "12345-6789"
    assert device["phoneNumber"] == "123456789"
    assert device["platform"] == "A"
    assert device["token"] == "xyz"
    assert device["createdTime"].endswith("Z")
    assert len(device["createdTime"]) == 20
    assert device["lastUpdatedTime"] == device["createdTime"]

    again = await raw(mfp, "POST", DEVICES, POST_BODY)  # a known deviceId is updated
    assert again.status_code == 200
    assert again.json()["deviceId"] == "12345-6789"

    read = await mfp.call("GET", DEVICES + "/12345-6789")
    assert read.status_code == 200
    assert read.json() == device | {"lastUpdatedTime": read.json()["lastUpdatedTime"]}

    updated = await raw(mfp, "PUT", DEVICES + "/12345-6789", PUT_BODY)
    assert updated.status_code == 200, updated.text
    body = updated.json()
    expected = {
        "createdMode": "API",
        "deviceId": "12345-6789",
        "phoneNumber": "123456789",
        "platform": "A",
        "token": "xyz",
        "userId": "admin",
    }
    assert {k: body[k] for k in expected} == expected
    assert set(body) == {*expected, "createdTime", "lastUpdatedTime"}

    deleted = await mfp.call("DELETE", DEVICES + "/12345-6789")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert (await mfp.call("GET", DEVICES + "/12345-6789")).status_code == 404
    assert (await mfp.call("DELETE", DEVICES + "/12345-6789")).status_code == 404


async def test_a_device_is_one_push_and_one_sms_registration_in_the_native_api(
    mfp: MobileFirst,
) -> None:
    await raw(mfp, "POST", DEVICES, POST_BODY)
    admin = {"X-API-Key": (await _admin_key())}
    listed = await mfp.http.get(f"/v1/apps/{APP}/registrations", headers=admin)
    pairs = sorted((r["platform"], r["token"], r["device_id"]) for r in listed.json()["items"])
    assert pairs == [("apns", "xyz", "12345-6789"), ("sms", "123456789", "12345-6789")]
    # A new token replaces the push registration; the phone number can be removed.
    changed = await mfp.call(
        "PUT", DEVICES + "/12345-6789", {"token": "abc", "phoneNumber": "", "userAgent": "UA/1"}
    )
    assert changed.status_code == 200
    assert changed.json()["token"] == "abc"
    assert "phoneNumber" not in changed.json()
    assert changed.json()["userAgent"] == "UA/1"
    listed = await mfp.http.get(f"/v1/apps/{APP}/registrations", headers=admin)
    assert [(r["platform"], r["token"]) for r in listed.json()["items"]] == [("apns", "abc")]


async def _admin_key() -> str:
    from tests.conftest import ADMIN_KEY

    return ADMIN_KEY


@pytest.mark.parametrize(
    ("path", "method", "body", "status"),
    [
        (DEVICES + "/nope", "GET", None, 404),
        (DEVICES + "/nope", "PUT", {"userId": "x"}, 404),
        (DEVICES + "/nope", "DELETE", None, 404),
        (DEVICES, "POST", {"platform": "A", "token": "t"}, 400),  # no deviceId
        (DEVICES, "POST", {"deviceId": "d", "token": "t"}, 400),  # a new device needs platform
        (DEVICES, "POST", {"deviceId": "d", "platform": "X", "token": "t"}, 400),
        (DEVICES, "POST", {"deviceId": "d", "platform": "A", "token": 7}, 400),
        (DEVICES, "POST", {"deviceId": "d", "platform": "A", "token": "has space"}, 400),
    ],
)
async def test_statuses_the_seed_lists(
    mfp: MobileFirst, path: str, method: str, body: Any, status: int
) -> None:
    response = await mfp.call(method, path, body)
    assert response.status_code == status, response.text
    assert response.json()["code"] == status


async def test_invalid_json_is_400_and_another_content_type_405(mfp: MobileFirst) -> None:
    broken = await raw(mfp, "POST", DEVICES, b'{"deviceId": ')
    assert broken.status_code == 400
    assert broken.json()["message"].startswith("Bad Request")
    headers = {**mfp.auth, "Content-Type": "text/plain"}
    for method, path in (("POST", DEVICES), ("PUT", DEVICES + "/d")):
        wrong = await mfp.http.request(method, V1 + path, content=POST_BODY, headers=headers)
        assert wrong.status_code == 405, wrong.text
        assert "Content-Type" in wrong.json()["message"]
    missing = await mfp.http.post(V1 + DEVICES, content=POST_BODY, headers=mfp.auth)
    assert missing.status_code == 405


async def _register(mfp: MobileFirst, n: int) -> None:
    for i in range(n):
        platform = "AGW"[i % 3]
        user = "alice" if i % 2 == 0 else "bob"
        body = {"deviceId": f"dev-{i:02d}", "platform": platform, "token": f"tok-{i:02d}",
                "userId": user}  # fmt: skip
        if i % 4 == 0:
            body["phoneNumber"] = f"+1555000{i:04d}"
        assert (await mfp.call("POST", DEVICES, body)).status_code == 201


async def test_paging_follows_next_to_the_end_and_previous_back(mfp: MobileFirst) -> None:
    await _register(mfp, 11)
    seen: list[str] = []
    url = f"{V1}{DEVICES}?size=4"
    pages = 0
    while url:
        response = await mfp.http.get(url, headers=mfp.auth)
        assert response.status_code == 200, response.text
        body = response.json()
        info = body["pageInfo"]
        assert all(isinstance(v, str) for v in info.values())
        assert info["totalCount"] == "11"
        assert info["count"] == str(len(body["devices"]))
        seen.extend(d["deviceId"] for d in body["devices"])
        if pages == 0:
            assert info["previous"] == ""
        else:
            assert info["previous"].startswith("http")
        url = info["next"]
        pages += 1
    assert pages == 3
    assert seen == [f"dev-{i:02d}" for i in range(11)]
    last = await mfp.http.get(f"{V1}{DEVICES}?size=4&offset=8", headers=mfp.auth)
    back = await mfp.http.get(last.json()["pageInfo"]["previous"], headers=mfp.auth)
    assert [d["deviceId"] for d in back.json()["devices"]] == [f"dev-{i:02d}" for i in (4, 5, 6, 7)]
    beyond = await mfp.http.get(f"{V1}{DEVICES}?offset=50", headers=mfp.auth)
    assert beyond.json()["devices"] == []
    assert beyond.json()["pageInfo"]["next"] == ""


async def _ids(mfp: MobileFirst, query: str) -> list[str]:
    response = await mfp.http.get(f"{V1}{DEVICES}?{query}", headers=mfp.auth)
    assert response.status_code == 200, response.text
    return [d["deviceId"] for d in response.json()["devices"]]


async def test_every_filter_operator(mfp: MobileFirst) -> None:
    await _register(mfp, 8)
    assert await _ids(mfp, "filter=platform==A") == ["dev-00", "dev-03", "dev-06"]
    assert await _ids(mfp, "filter=deviceId=@V-0") == [f"dev-0{i}" for i in range(8)]
    assert await _ids(mfp, "filter=token=@-07") == ["dev-07"]
    assert await _ids(mfp, "filter=platform==G;userId==bob") == ["dev-01", "dev-07"]
    assert await _ids(mfp, "filter=deviceId==dev-02,deviceId==dev-05") == ["dev-02", "dev-05"]
    assert await _ids(mfp, "filter=platform==W;userId==alice,token==tok-03") == [
        "dev-02",
        "dev-03",
    ]
    assert await _ids(mfp, "filter=phoneNumber=@0004") == ["dev-04"]
    assert await _ids(mfp, "userId=bob&filter=platform==A") == ["dev-03"]
    # The seed's example query, verbatim.
    example = "expand=true&filter=platform==A&offset=0&size=10&userId=admin"
    assert await _ids(mfp, example) == []


@pytest.mark.parametrize(
    "query",
    ["filter=platform", "filter=platform=A", "filter=;", "filter=platform==", "filter=nope==1",
     "offset=-1", "size=0", "size=x", "size=5000"],
)  # fmt: skip
async def test_a_malformed_list_query_is_400_naming_it(mfp: MobileFirst, query: str) -> None:
    response = await mfp.http.get(f"{V1}{DEVICES}?{query}", headers=mfp.auth)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == query.split("=")[0]


async def test_expand_and_the_seeds_expend_add_the_metadata(mfp: MobileFirst) -> None:
    await _register(mfp, 1)
    plain = (await mfp.http.get(V1 + DEVICES, headers=mfp.auth)).json()["devices"][0]
    assert set(plain) == {"deviceId", "phoneNumber", "platform", "token", "userId"}
    for name in ("expand", "expend"):
        full = await mfp.http.get(f"{V1}{DEVICES}?{name}=true", headers=mfp.auth)
        assert {"createdMode", "createdTime", "lastUpdatedTime"} <= set(full.json()["devices"][0])
