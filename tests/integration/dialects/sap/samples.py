"""Seed 002's request examples, verbatim: each curl sample's URL, headers and -d body, and
the HTTP samples' paths and bodies. The shell variables are filled in as a shell would."""

from __future__ import annotations

from dataclasses import dataclass

# export PUSH_KEY="X-API-Key: 9999...fe40"; export PUSH_URL=https://.../5f9b5b8d-...; PUSH_APP=any
SERVICE_PATH = "/5f9b5b8d-ffeb-4330-b607-638a0184a990"
PUSH_APP = "any"


@dataclass(frozen=True, slots=True)
class Curl:
    """`curl -X METHOD URL -H 'content-type: application/json' -H 'accept: application/json'
    -H ${PUSH_KEY} -d 'BODY'`, with the URL as written in the document."""

    method: str
    url: str
    body: bytes | None = None

    def path(self, push_url: str = SERVICE_PATH, **placeholders: str) -> str:
        """The URL with ${PUSH_URL} (here: a path), ${PUSH_APP} and {placeholders} filled."""
        url = self.url.replace("${PUSH_URL}", push_url).replace("${PUSH_APP}", PUSH_APP)
        url = url.replace("'", "")  # the shell's quotes around the registration URLs
        for name, value in placeholders.items():
            url = url.replace("{" + name + "}", value)
        return url


def curl_headers(key: str, *, body: bool = True) -> dict[str, str]:
    """-H 'content-type: application/json' -H 'accept: application/json' -H ${PUSH_KEY}."""
    headers = {"accept": "application/json", "X-API-Key": key}
    if body:
        headers["content-type"] = "application/json"
    return headers


PUSH_TO_DEVICE = Curl(
    "POST",
    "${PUSH_URL}/mobileservices/push/v1/backend/applications/${PUSH_APP}/notifications/users/"
    "{username}/devices/{deviceId}/notifications",
    b'{"alert" : "Hello World"}',
)
# The HTTP sample of Push to Device: its path and its body.
PUSH_TO_DEVICE_HTTP_PATH = (
    "/mobileservices/push/v1/backend/applications/{applicationId}/users/{username}/devices/"
    "{deviceId}/notifications"
)
PUSH_TO_DEVICE_HTTP_BODY = b"""{
    "alert" : "Hello World",
    "sound" : "default",
    "apns" : {
        "category" : "immediate-action",
        "customValues" : "{\\"order\\" : \\"4711-2314\\"}"
    },
    "gcm" : {
        "delayWhileIdle" : true,
        "timeToLive" : 123456
    }
}"""
PUSH_TO_USERS = Curl(
    "POST",
    "${PUSH_URL}/mobileservices/push/v2/backend/applications/${PUSH_APP}/notifications/users",
    b'{"users":["user1"],"userUUIDs":["userUUIDs1"],"notification" : {"notification":'
    b'{"alert":"Hello!"},"notifications":{"en_US":{"alert":"Howdie!"},"de":'
    b'{"alert":"Guten Tag!"}}}}',
)
BULK_PUSH = Curl(
    "POST",
    "${PUSH_URL}/mobileservices/push/v2/backend/applications/${PUSH_APP}/notifications/bulk",
    b'{"notification":{"notification":{"alert":"generic alert"}},"userNotifications":'
    b'[{"userUUID":"global-user-id","user":"user1","notification":{"notification":'
    b'{"alert":"user alert"}}}]}',
)
PUSH_TO_APPLICATION = Curl(
    "POST",
    "${PUSH_URL}/mobileservices/push/v1/backend/applications/${PUSH_APP}/notifications",
    b'{"alert" : "Hello World"}',
)
PUSH_TO_TOPIC = Curl(
    "POST",
    "${PUSH_URL}/mobileservices/push/v2/backend/applications/${PUSH_APP}/topics/notifications",
    b'{"users":["user1"],"userUUIDs":["userUUIDs1"],"topics":["topic1"],"notification":'
    b'{"notification":{"alert":"Hello!"},"notifications":{"en_US":{"alert":"Howdie!"},"de":'
    b'{"alert":"Guten Tag!"}}}}',
)
# The curl.exe variant of Push to Topic, with the document's ",," (not JSON).
PUSH_TO_TOPIC_CURL_EXE = Curl(
    "POST",
    PUSH_TO_TOPIC.url,
    b'{"users":["user1"],"userUUIDs":["userUUIDs1"],,"topics":["topic1"],"notification":'
    b'{"notification":{"alert":"Hello!"},"notifications":{"en_US":{"alert":"Howdie!"},"de":'
    b'{"alert":"Guten Tag!"}}}}',
)
PUSH_TO_GROUP = Curl(
    "POST",
    "${PUSH_URL}/mobileservices/push/v1/backend/applications/applicationId/groups/{group}/"
    "notifications",
    b'{"alert":"Hello World"}',
)
PUSH_TO_CAPABILITY = Curl(
    "POST",
    "${PUSH_URL}/mobileservices/push/v1/backend/capabilities/{capability}/notifications",
    b'{"users":[{"formFactor":["phone"],"user":"user1"}],"notification":{"alert":"Hello World"}}',
)
NOTIFICATION_STATUS = Curl(
    "GET", "${PUSH_URL}/mobileservices/push/v2/backend/notifications/{notificationId}/status"
)
REGISTRATION = Curl(
    "GET", "${PUSH_URL}'/mobileservices/push/v2/backend/registrations/{registrationId}'"
)
REGISTRATIONS_BY_USER = Curl(
    "GET", "${PUSH_URL}'/mobileservices/push/v2/backend/registrations?username={username}'"
)
REGISTRATIONS_BY_GROUP = Curl(
    "GET", "${PUSH_URL}'/mobileservices/push/v2/backend/registrations?pushGroup={group}'"
)
# "Example Registration Payload" of Push to Capability.
REGISTRATION_PAYLOAD = b"""{
  "pushToken": "*****",
  "pushGroup": "all",
  "timeZone": "MESZ",
  "formFactor": "phone",
  "capabilities": [
    {
      "name": "capability1",
      "category": "push",
      "value": "true"
    },
    {
      "name": "capability2",
      "category": "push",
      "value": "true"
    }
  ],
  "userLocale": "en",
  "deviceModel": "iPhone"
}"""
