"""Localized sends pick each device's text by its userLocale: de-DE-bay -> de-DE -> de ->
the fallback; en_US matches en-US; an unknown locale gets the fallback."""

from __future__ import annotations

import httpx
import pytest

from pushgate.providers.recording import Recorder
from tests.integration.dialects.sap.conftest import Keys, make_user, register_device
from tests.integration.dialects.sap.samples import PUSH_TO_USERS, curl_headers

pytestmark = pytest.mark.anyio

LOCALES = {
    "tok-bay": "de-DE-bay",
    "tok-ch": "de-CH",
    "tok-de": "de",
    "tok-us": "en_US",
    "tok-us-dash": "en-US",
    "tok-fr": "fr",
    "tok-none": None,
}


async def test_each_locale_gets_its_best_match(
    client: httpx.AsyncClient, keys: Keys, recorder: Recorder
) -> None:
    user = await make_user(client, "user1")
    for token, locale in LOCALES.items():
        await register_device(client, user, token, token, userLocale=locale)
    body = {
        "users": ["user1"],
        "notification": {
            "notification": {"alert": "Hello!"},
            "notifications": {
                "en_US": {"alert": "Howdie!"},
                "de": {"alert": "Guten Tag!"},
                "de-DE": {"alert": "Servus!", "sound": "bavarian"},
            },
        },
    }
    response = await client.post(PUSH_TO_USERS.path(), json=body, headers=curl_headers(keys.all))
    assert response.status_code == 200, response.text
    alerts = {token: push.content.alert for _, token, push in recorder.accepted}
    assert alerts == {
        "tok-bay": "Servus!",  # de-DE-bay -> de-DE
        "tok-ch": "Guten Tag!",  # de-CH -> de
        "tok-de": "Guten Tag!",
        "tok-us": "Howdie!",
        "tok-us-dash": "Howdie!",
        "tok-fr": "Hello!",  # no variant: the fallback
        "tok-none": "Hello!",
    }
    sounds = {token: push.content.sound for _, token, push in recorder.accepted}
    assert sounds["tok-bay"] == "bavarian"
    # On Android the alert travels in the data too: each variant its own.
    by_token = {token: push.content.fcm for _, token, push in recorder.accepted}
    assert by_token["tok-ch"] == {"data": {"alert": "Guten Tag!"}}


async def test_a_localized_body_without_its_fallback_is_400(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    body = {"users": ["user1"], "notification": {"notifications": {"de": {"alert": "Hallo"}}}}
    response = await client.post(PUSH_TO_USERS.path(), json=body, headers=curl_headers(keys.all))
    assert response.status_code == 400
    status = response.json()["status"]
    assert status["parameters"] == ["notification.notification"]
    assert status["notification"] == "notification.notification: is required"


async def test_a_variant_that_is_no_locale_is_400(client: httpx.AsyncClient, keys: Keys) -> None:
    body = {
        "users": ["user1"],
        "notification": {"notification": {"alert": "Hi"}, "notifications": {"!!": {"alert": "x"}}},
    }
    response = await client.post(PUSH_TO_USERS.path(), json=body, headers=curl_headers(keys.all))
    assert response.status_code == 400
    assert response.json()["status"]["parameters"] == ["notification.notifications.!!"]
