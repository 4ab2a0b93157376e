"""Console pages over the real services: credentials, search, composer, funnel."""

from __future__ import annotations

import re

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.integration.api.helpers import ADMIN, make_app
from tests.integration.console.helpers import csrf_of, sign_in

pytestmark = pytest.mark.anyio

P8 = (
    ec.generate_private_key(ec.SECP256R1())
    .private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    .decode()
)


async def test_credentials_are_tested_saved_and_never_shown_back(client: httpx.AsyncClient) -> None:
    await make_app(client, "news")
    await sign_in(client, ADMIN["X-API-Key"])
    csrf = await csrf_of(client, "/console/apps/news")
    fields = (
        '{"key_id": "ABC123DEFG", "team_id": "TEAM123456", "topic": "com.ex.news", "key": '
        + repr(P8).replace("'", '"')
        + "}"
    )
    form = {"csrf": csrf, "provider": "apns", "fields": fields}
    tested = await client.post("/console/apps/news/credentials", data={**form, "action": "test"})
    assert "apns: valid" in tested.text
    assert "no credential" not in tested.text
    assert (await client.get("/v1/apps/news/credentials/apns", headers=ADMIN)).status_code == 404
    bad = {**form, "fields": fields.replace(P8.splitlines()[1], "nope")}
    refused = await client.post("/console/apps/news/credentials", data={**bad, "action": "save"})
    assert re.search(r"apns: .*\(key\)", refused.text)
    saved = await client.post("/console/apps/news/credentials", data={**form, "action": "save"})
    assert "apns: saved" in saved.text
    page = await client.get("/console/apps/news")
    key_line = P8.splitlines()[1]
    for response in (tested, saved, page):
        assert key_line not in response.text
    assert "com.ex.news" in page.text
    generated = await client.post(
        "/console/apps/news/credentials",
        data={"csrf": csrf, "provider": "webpush", "subject": "mailto:ops@example.com",
              "action": "save"},
    )  # fmt: skip
    assert "webpush: saved" in generated.text
    assert "public_key" in generated.text
    assert "private_key" not in generated.text


async def test_registrations_are_found_by_token_prefix_and_show_their_history(
    client: httpx.AsyncClient,
) -> None:
    await make_app(client, "news")
    for token, user in (("abc111", "alice"), ("abc222", "bob"), ("zzz333", "alice")):
        answer = await client.post(
            "/v1/apps/news/registrations",
            json={"platform": "android", "token": token, "user": user, "topics": ["sport"]},
            headers=ADMIN,
        )
        assert answer.status_code == 201, answer.text
    await sign_in(client, ADMIN["X-API-Key"])
    found = await client.get("/console/apps/news/registrations?token=abc&user=alice")
    assert "abc111" in found.text
    assert "abc222" not in found.text
    assert "zzz333" not in found.text
    assert "abc222" in (await client.get("/console/apps/news/registrations?topic=sport")).text
    wildcard = await client.get("/console/apps/news/registrations?token=%25")
    assert "No registration matches" in wildcard.text  # LIKE characters are escaped
    rid = re.search(r"/registrations/([0-9a-f]{32})", found.text)
    assert rid is not None
    detail = await client.get(f"/console/apps/news/registrations/{rid.group(1)}")
    assert detail.status_code == 200
    assert "Delivery history" in detail.text


async def test_the_composer_previews_each_provider_payload_then_sends(
    client: httpx.AsyncClient,
) -> None:
    await make_app(client, "news")
    await client.post(
        "/v1/apps/news/registrations",
        json={"platform": "android", "token": "fcm-1", "user": "alice", "locale": "de-AT"},
        headers=ADMIN,
    )
    await sign_in(client, ADMIN["X-API-Key"])
    csrf = await csrf_of(client, "/console/apps/news/compose")
    form = {
        "csrf": csrf,
        "target_kind": "users",
        "target_value": "alice",
        "title": "Goal <b>",
        "body": "2:1",
        "locale_1": "de",
        "title_1": "Tor!",
    }
    shown = await client.post("/console/apps/news/compose", data={**form, "action": "preview"})
    assert shown.status_code == 200
    assert "Goal &lt;b&gt;" in shown.text
    assert re.search(r"APNs: <span class=\"size\">\d+ / 4096 bytes", shown.text)
    assert re.search(r"FCM: <span class=\"size\">\d+ / 4096 bytes", shown.text)
    assert re.search(r"Web Push: <span class=\"size\">\d+ / 3993 bytes", shown.text)
    assert "&#34;Tor!&#34;" in shown.text  # the de variant's own payloads
    over = await client.post(
        "/console/apps/news/compose", data={**form, "body": "x" * 2048, "title": "y" * 2048,
                                            "action": "preview"},
    )  # fmt: skip
    assert "over the limit" in over.text
    sent = await client.post("/console/apps/news/compose", data={**form, "action": "send"})
    assert sent.status_code == 303
    page = await client.get(sent.headers["location"])
    assert page.status_code == 200
    assert "<svg" in page.text
    assert "Delivery funnel" in page.text
    live = await client.get(sent.headers["location"] + "/live")
    body = live.json()
    assert body["done"] is True  # inline delivery: no credential, so an error at once
    assert 'id="count-ERROR">1<' in body["html"]
    overview = await client.get("/console/")
    assert re.search(r"<td>fcm</td><td>0</td><td>1</td>", overview.text)  # delivered, errors
    assert "Errors by provider" in overview.text


async def test_the_simulator_is_there_only_with_the_fake_providers(
    client: httpx.AsyncClient,
) -> None:
    await sign_in(client, ADMIN["X-API-Key"])
    assert "Device simulator" not in (await client.get("/console/")).text
    assert (await client.get("/console/simulator")).status_code == 404


async def test_test_button_checks_the_form_offline_and_probes_the_stored_credential(
    client: httpx.AsyncClient,
) -> None:
    await make_app(client, "news")
    await sign_in(client, ADMIN["X-API-Key"])
    csrf = await csrf_of(client, "/console/apps/news")
    form = {"csrf": csrf, "provider": "webpush", "action": "test"}
    nothing = await client.post("/console/apps/news/credentials", data={**form, "fields": ""})
    assert "no stored credential to test against the provider" in nothing.text
    assert 'id="probe"' not in nothing.text
    saved = await client.post(
        "/console/apps/news/credentials",
        data={**form, "action": "save", "subject": "mailto:ops@example.com"},
    )
    assert "webpush: saved" in saved.text
    tested = await client.post(
        "/console/apps/news/credentials", data={**form, "fields": '{"subject": "ftp://x"}'}
    )
    assert re.search(r"webpush: form invalid: .*\(subject\)", tested.text)
    probe = re.search(r'<p class="notice" role="status" id="probe" data-ok="(\w+)">', tested.text)
    assert probe is not None
    assert probe.group(1) == "true"
    assert "checked offline only" in tested.text
    public_key = re.search(r'"public_key": "([^"]+)"', saved.text)
    assert public_key is not None
    assert public_key.group(1) in tested.text
