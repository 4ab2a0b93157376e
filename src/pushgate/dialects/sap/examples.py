"""The seed document's request bodies, as examples of the OpenAPI description.

The curl samples' bodies, and the device push's HTTP sample (the other HTTP samples elide
list items with `...` and are no JSON).
"""

from __future__ import annotations

from typing import Any

DEVICE: dict[str, Any] = {
    "curl": {"alert": "Hello World"},
    "http": {
        "alert": "Hello World",
        "sound": "default",
        "apns": {"category": "immediate-action", "customValues": '{"order" : "4711-2314"}'},
        "gcm": {"delayWhileIdle": True, "timeToLive": 123456},
    },
}
_LOCALIZED = {
    "notification": {"alert": "Hello!"},
    "notifications": {"en_US": {"alert": "Howdie!"}, "de": {"alert": "Guten Tag!"}},
}
USERS: dict[str, Any] = {
    "curl": {"users": ["user1"], "userUUIDs": ["userUUIDs1"], "notification": _LOCALIZED}
}
BULK: dict[str, Any] = {
    "curl": {
        "notification": {"notification": {"alert": "generic alert"}},
        "userNotifications": [
            {
                "userUUID": "global-user-id",
                "user": "user1",
                "notification": {"notification": {"alert": "user alert"}},
            }
        ],
    }
}
FLAT: dict[str, Any] = {"curl": {"alert": "Hello World"}}
TOPIC: dict[str, Any] = {
    "curl": {
        "users": ["user1"],
        "userUUIDs": ["userUUIDs1"],
        "topics": ["topic1"],
        "notification": _LOCALIZED,
    }
}
CAPABILITY: dict[str, Any] = {
    "curl": {
        "users": [{"formFactor": ["phone"], "user": "user1"}],
        "notification": {"alert": "Hello World"},
    }
}
REGISTRATION: dict[str, Any] = {
    "seed": {
        "pushToken": "*****",
        "pushGroup": "all",
        "timeZone": "MESZ",
        "formFactor": "phone",
        "capabilities": [
            {"name": "capability1", "category": "push", "value": "true"},
            {"name": "capability2", "category": "push", "value": "true"},
        ],
        "userLocale": "en",
        "deviceModel": "iPhone",
    }
}
