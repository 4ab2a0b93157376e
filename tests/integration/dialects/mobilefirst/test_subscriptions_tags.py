"""Subscriptions (device-tag pairs) and tags: the seed's examples, its statuses, filters and
paging."""

from __future__ import annotations

import pytest

from tests.integration.dialects.mobilefirst.conftest import APP, V1, MobileFirst

pytestmark = pytest.mark.anyio
SUBSCRIPTIONS = f"/apps/{APP}/subscriptions"
TAGS = f"/apps/{APP}/tags"
SUBSCRIPTION_BODY = b"""{
  "deviceId" : "12345-6789",
  "tagName" : "testTag"
}"""


async def device(mfp: MobileFirst, device_id: str, user: str = "admin", **extra: str) -> None:
    body = {"deviceId": device_id, "platform": "A", "token": f"tok-{device_id}", "userId": user}
    response = await mfp.call("POST", f"/apps/{APP}/devices", {**body, **extra})
    assert response.status_code == 201, response.text


async def subscribe(mfp: MobileFirst, device_id: str, tag: str) -> str:
    response = await mfp.call("POST", SUBSCRIPTIONS, {"deviceId": device_id, "tagName": tag})
    assert response.status_code == 201, response.text
    subscription_id: str = response.json()["subscriptionId"]
    return subscription_id


async def test_the_seeds_subscription_example(mfp: MobileFirst) -> None:
    await device(mfp, "12345-6789")
    headers = {**mfp.auth, "Content-Type": "application/json"}
    created = await mfp.http.post(V1 + SUBSCRIPTIONS, content=SUBSCRIPTION_BODY, headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert {k: body[k] for k in ("deviceId", "tagName")} == {
        "deviceId": "12345-6789",
        "tagName": "testTag",
    }
    one = await mfp.call("GET", f"{SUBSCRIPTIONS}/{body['subscriptionId']}")
    assert one.status_code == 200
    (entry,) = one.json()["devices"]
    assert entry["deviceId"] == "12345-6789"
    assert entry["platform"] == "A"
    assert entry["token"] == "tok-12345-6789"
    assert entry["userId"] == "admin"
    assert entry["tagName"] == "testTag"
    assert one.json()["pageInfo"] == {"count": "1", "next": "", "previous": "", "totalCount": "1"}
    tag = await mfp.call("GET", f"{TAGS}/testTag")  # created on first subscription
    assert tag.status_code == 200
    assert tag.json()["subscriptionCount"] == "1"

    gone = await mfp.call("DELETE", f"{SUBSCRIPTIONS}/{body['subscriptionId']}")
    assert gone.status_code == 204
    assert (await mfp.call("GET", f"{SUBSCRIPTIONS}/{body['subscriptionId']}")).status_code == 404
    assert (
        await mfp.call("DELETE", f"{SUBSCRIPTIONS}/{body['subscriptionId']}")
    ).status_code == 404
    # The device and the tag stay.
    assert (await mfp.call("GET", f"/apps/{APP}/devices/12345-6789")).status_code == 200
    assert (await mfp.call("GET", f"{TAGS}/testTag")).status_code == 200


async def test_subscription_refusals_the_seed_lists(mfp: MobileFirst) -> None:
    unknown = await mfp.call("POST", SUBSCRIPTIONS, {"deviceId": "nope", "tagName": "t"})
    assert unknown.status_code == 404
    assert unknown.json()["field"] == "deviceId"
    await device(mfp, "long", user="u" * 255)
    too_long = await mfp.call("POST", SUBSCRIPTIONS, {"deviceId": "long", "tagName": "t"})
    assert too_long.status_code == 400
    assert "254" in too_long.json()["message"]
    await device(mfp, "short", user="u" * 254)
    assert (
        await mfp.call("POST", SUBSCRIPTIONS, {"deviceId": "short", "tagName": "t"})
    ).status_code == 201
    for bad in ("not-an-id", "0" * 32 + "-1", "x-y"):
        assert (await mfp.call("GET", f"{SUBSCRIPTIONS}/{bad}")).status_code == 404
    missing_tag = await mfp.call("POST", SUBSCRIPTIONS, {"deviceId": "short"})
    assert missing_tag.status_code == 400
    assert missing_tag.json()["field"] == "tagName"


async def test_subscriptions_filter_and_page(mfp: MobileFirst) -> None:
    for i, user in enumerate(["user1", "user1", "user2"]):
        await device(mfp, f"dev-{i}", user=user)
    await subscribe(mfp, "dev-0", "sports")
    await subscribe(mfp, "dev-0", "news")
    await subscribe(mfp, "dev-1", "sports")
    await subscribe(mfp, "dev-2", "tagged")

    async def pairs(query: str) -> list[tuple[str, str]]:
        response = await mfp.http.get(f"{V1}{SUBSCRIPTIONS}?{query}", headers=mfp.auth)
        assert response.status_code == 200, response.text
        return [(d["deviceId"], d["tagName"]) for d in response.json()["devices"]]

    assert await pairs("") == [  # in the order devices and tags were created
        ("dev-0", "sports"),
        ("dev-0", "news"),
        ("dev-1", "sports"),
        ("dev-2", "tagged"),
    ]
    assert await pairs("tagName=sports") == [("dev-0", "sports"), ("dev-1", "sports")]
    assert await pairs("userId=user2") == [("dev-2", "tagged")]
    assert await pairs("filter=tagName=@tag") == [("dev-2", "tagged")]
    assert await pairs("filter=tagName==tagged,tagName==news") == [
        ("dev-0", "news"),
        ("dev-2", "tagged"),
    ]
    # The seed's example query, verbatim: every shortcut and the filter together.
    example = (
        "deviceId=12345-6789&expand=true&filter=tagName=@tag&offset=0&size=10&tagName=sports"
        "&userId=user1"
    )
    assert await pairs(example) == []
    seen: list[tuple[str, str]] = []
    url = f"{V1}{SUBSCRIPTIONS}?size=3"
    while url:
        body = (await mfp.http.get(url, headers=mfp.auth)).json()
        seen.extend((d["deviceId"], d["tagName"]) for d in body["devices"])
        assert body["pageInfo"]["totalCount"] == "4"
        url = body["pageInfo"]["next"]
    assert seen == await pairs("")


async def test_tags_are_created_read_changed_listed_and_deleted(mfp: MobileFirst) -> None:
    created = await mfp.call(
        "POST", TAGS, {"name": "SampleTag", "description": "Description about SampleTag"}
    )
    assert created.status_code == 201, created.text
    tag = created.json()
    assert tag["name"] == "SampleTag"
    assert tag["description"] == "Description about SampleTag"
    assert tag["createdMode"] == "API"
    assert tag["createdTime"].endswith("Z")
    assert (await mfp.call("POST", TAGS, {"name": "SampleTag"})).status_code == 409
    assert (await mfp.call("POST", TAGS, {"description": "x"})).status_code == 400
    read = await mfp.call("GET", f"{TAGS}/SampleTag")
    assert {k: read.json()[k] for k in ("name", "description", "createdMode")} == {
        "name": "SampleTag",
        "description": "Description about SampleTag",
        "createdMode": "API",
    }
    changed = await mfp.call("PUT", f"{TAGS}/SampleTag", {"description": "new"})
    assert changed.json()["description"] == "new"
    assert (await mfp.call("PUT", f"{TAGS}/Nope", {"description": "x"})).status_code == 404
    for name in ("alpha", "beta", "gamma"):
        await mfp.call("POST", TAGS, {"name": name, "description": f"about {name}"})
    listed = await mfp.http.get(f"{V1}{TAGS}?filter=description=@ABOUT", headers=mfp.auth)
    assert [t["name"] for t in listed.json()["tags"]] == ["alpha", "beta", "gamma"]
    one_page = await mfp.http.get(f"{V1}{TAGS}?size=2&offset=2", headers=mfp.auth)
    assert [t["name"] for t in one_page.json()["tags"]] == ["beta", "gamma"]
    assert one_page.json()["pageInfo"]["totalCount"] == "4"
    deleted = await mfp.call("DELETE", f"{TAGS}/SampleTag")
    assert deleted.status_code == 204
    missing = await mfp.call("GET", f"{TAGS}/SampleTag")
    assert missing.status_code == 404
    assert missing.json()["field"] == "tagName"
    assert (await mfp.call("DELETE", f"{TAGS}/SampleTag")).status_code == 404
