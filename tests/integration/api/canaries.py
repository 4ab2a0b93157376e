"""What tests/integration/api/test_canaries.py plants (reliability.md S5) and where it looks.

`plant` creates, through the API, secrets of every kind an app holds and records each as a
canary; `refused_requests` are bad requests that carry more; `read_everything` reads every
GET route of every front door and every console page with a credential the front door takes.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from pushgate.fakes.deployment import APNS_TOPIC, FakeDeployment
from tests.conftest import ADMIN_KEY
from tests.integration.console.helpers import sign_in
from tests.integration.webhook_receiver import Receiver

CANARY = "canary" + secrets.token_hex(5)
ADMIN = {"X-API-Key": ADMIN_KEY}
APNS_KEY_ID, APNS_TEAM = "CNRYKEY001", "CNRYTEAM01"
SMS_SID = "AC" + secrets.token_hex(16)
WNS_CLIENT = "ms-app://s-1-15-2-canary"
MADE_UP = "zz-made-up"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class Canaries:
    """label -> a secret's text that must not appear anywhere; and private data (device
    tokens, notification text) that the API returns to its owner and the database holds, but
    that no log line may show."""

    items: dict[str, str] = field(default_factory=dict)
    private: dict[str, str] = field(default_factory=dict)

    def add(self, label: str, value: str) -> str:
        assert len(value) >= 12, (label, value)  # a short string could match by chance
        self.items[label] = value
        return value

    def add_pem(self, label: str, pem: str) -> str:
        """Each base64 line of the PEM's body (a key re-encoded without line breaks, or with
        its newlines escaped in JSON, still contains every full line); the PEM returned."""
        lines = [line for line in pem.splitlines() if line and not line.startswith("-----")]
        for number, line in enumerate(lines):
            if len(line) >= 16:
                self.add(f"{label} line {number}", line)
        return pem

    def add_ec_key(self, label: str, key: ec.EllipticCurvePrivateKey) -> str:
        """The private scalar as raw base64url (VAPID, JWK) and hex, and the PKCS#8 PEM."""
        scalar = key.private_numbers().private_value.to_bytes(32, "big")
        self.add(f"{label} scalar b64url", b64url(scalar))
        self.add(f"{label} scalar hex", scalar.hex())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return self.add_pem(label, pem)

    def found_in(self, text: str | bytes) -> list[str]:
        if isinstance(text, bytes):
            return [k for k, v in self.items.items() if v.encode() in text]
        return [k for k, v in self.items.items() if v in text]

    def private_in(self, text: str) -> list[str]:
        return [k for k, v in self.private.items() if v in text]


@dataclass
class Planted:
    canaries: Canaries
    app_key: str
    user_token: str
    client_id: str
    registration_id: str
    notification_id: str
    user_token_id: str


async def ok(client: httpx.AsyncClient, method: str, path: str, **options: Any) -> Any:
    options.setdefault("headers", ADMIN)
    response = await client.request(method, path, **options)
    assert response.status_code < 300, (method, path, response.status_code, response.text)
    return response.json() if response.content else None


async def _credentials(client: httpx.AsyncClient, fakes: FakeDeployment, c: Canaries) -> None:
    """Every provider's credential of app "shop", each accepted by its fake."""
    apns = ec.generate_private_key(ec.SECP256R1())
    fakes.apns.add_key(APNS_KEY_ID, APNS_TEAM, apns.public_key())
    p8 = c.add_ec_key("APNs .p8 key", apns)
    service_account = fakes.credentials()["fcm"]["service_account"]
    c.add_pem("FCM service-account key", service_account["private_key"])
    vapid = ec.generate_private_key(ec.SECP256R1())
    c.add_ec_key("VAPID private key", vapid)
    wns_secret = c.add("WNS client secret", f"wns-{CANARY}-secret")
    fakes.wns.register_client(WNS_CLIENT, wns_secret)
    sms_token = c.add("SMS auth token", f"sms-{CANARY}-token")
    c.add("SMS Basic header", base64.b64encode(f"{SMS_SID}:{sms_token}".encode()).decode())
    fakes.sms.register_account(SMS_SID, sms_token)
    scalar = vapid.private_numbers().private_value.to_bytes(32, "big")
    fields = {
        "apns": {"key_id": APNS_KEY_ID, "team_id": APNS_TEAM, "key": p8, "topic": APNS_TOPIC},
        "fcm": {"service_account": service_account},
        "webpush": {"subject": "mailto:ops@example.com", "private_key": b64url(scalar)},
        "wns": {"client_id": WNS_CLIENT, "client_secret": wns_secret},
        "sms": {"gateway_url": fakes.sms.twilio_url(SMS_SID), "auth_type": "basic",
                "username": SMS_SID, "password": sms_token, "sender": "+15550000000"},
    }  # fmt: skip
    for provider, body in fields.items():
        await ok(client, "PUT", f"/v1/apps/shop/credentials/{provider}", json=body)


async def _stored_only_credentials(client: httpx.AsyncClient, c: Canaries) -> None:
    """An APNs certificate with a password-protected key, and an SMS bearer token."""
    password = c.add("APNs key password", f"pkpw-{CANARY}")
    issued = trustme.CA().issue_cert("canary.example")
    key = serialization.load_pem_private_key(issued.private_key_pem.bytes(), None)
    c.add_pem("APNs certificate key", issued.private_key_pem.bytes().decode())
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password.encode()),
    ).decode()
    c.add_pem("APNs certificate key, encrypted", encrypted)
    await ok(client, "POST", "/v1/apps", json={"name": "certs"})
    certificate = issued.cert_chain_pems[0].bytes().decode()
    await ok(
        client,
        "PUT",
        "/v1/apps/certs/credentials/apns",
        json={"certificate": certificate, "private_key": encrypted,
              "private_key_password": password, "topic": "com.example.certs"},
    )  # fmt: skip
    bearer = c.add("SMS bearer token", f"smsbearer-{CANARY}")
    await ok(
        client,
        "PUT",
        "/v1/apps/certs/credentials/sms",
        json={"gateway_url": "https://93.184.215.14/sms", "auth_type": "bearer", "token": bearer},
    )


async def _devices(
    client: httpx.AsyncClient, fakes: FakeDeployment, headers: dict[str, str], c: Canaries
) -> str:
    subscription = fakes.webpush.subscribe()
    c.private.update(
        {
            "APNs device token": "a1b2c3d4" + secrets.token_hex(28),
            "FCM device token": f"fcm-{CANARY}-device",
            "Web Push endpoint": subscription.endpoint,
            "Web Push p256dh": subscription.p256dh,
            "Web Push auth": subscription.auth,
        }
    )
    devices: list[dict[str, Any]] = [
        {"platform": "ios", "token": c.private["APNs device token"]},
        {"platform": "android", "token": c.private["FCM device token"]},
        {"platform": "webpush", "token": subscription.endpoint,
         "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}},
        {"platform": "wns", "token": fakes.wns.channel()},
        {"platform": "sms", "token": "+15550001234"},
    ]  # fmt: skip
    ids = []
    for device in devices:
        body = {**device, "user": "alice", "topics": ["news"]}
        created = await ok(
            client, "POST", "/v1/apps/shop/registrations", json=body, headers=headers
        )
        ids.append(created["id"])
    return str(ids[0])


async def plant(client: httpx.AsyncClient, fakes: FakeDeployment, receiver: Receiver) -> Planted:
    c = Canaries()
    c.add("admin key", ADMIN_KEY)
    await ok(client, "POST", "/v1/apps", json={"name": "shop"})
    roles = ["app_admin", "push_all", "registrations_write", "pushregistrations_read"]
    app_key = (
        await ok(client, "POST", "/v1/apps/shop/keys", json={"alias": "ops", "roles": roles})
    )["key"]
    c.add("app key", app_key)
    hook = await ok(
        client, "POST", "/v1/apps/shop/webhooks",
        json={"name": "crm", "url": receiver.url, "events": ["*"]},
    )  # fmt: skip
    receiver.secrets["crm"] = c.add("webhook secret", hook["secret"])
    await _credentials(client, fakes, c)
    await _stored_only_credentials(client, c)
    password = c.add("user password", f"pw-{CANARY}-alice")
    await ok(client, "POST", "/v1/apps/shop/users", json={"name": "alice", "password": password})
    token = await ok(client, "POST", "/v1/apps/shop/users/alice/tokens", json={})
    c.add("user token", token["token"])
    secret = await ok(client, "POST", "/v1/apps/shop/user-token-secret", json={})
    c.add("user-token secret", secret["secret"])
    created = await ok(
        client,
        "POST",
        "/v1/apps/shop/clients",
        json={"scopes": ["devices.write", "messages.write"]},
    )
    c.add("OAuth client secret", created["client_secret"])
    grant = {"grant_type": "client_credentials"}
    basic = httpx.BasicAuth(created["client_id"], created["client_secret"])
    mfp = await ok(client, "POST", "/mfp/api/az/v1/token", data=grant, auth=basic, headers={})
    c.add("MobileFirst access token", mfp["access_token"])
    native = await ok(
        client,
        "POST",
        "/v1/oauth/token",
        data=grant,
        auth=httpx.BasicAuth("ops", app_key),
        headers={},
    )
    c.add("native access token", native["access_token"])
    headers = {"X-API-Key": app_key}
    registration_id = await _devices(client, fakes, headers, c)
    alert, data = f"alert-{CANARY}-text", f"data-{CANARY}-value"
    c.private.update({"notification text": alert, "notification data": data})
    sent = await ok(
        client, "POST", "/v1/apps/shop/notifications", headers=headers,
        json={"target": {"topics": ["news"]},
              "notification": {"title": "Hi", "alert": alert, "data": {"k": data}}},
    )  # fmt: skip
    return Planted(
        c, app_key, token["token"], created["client_id"], registration_id, sent["id"], token["id"]
    )


def refused_requests(c: Canaries, planted: Planted) -> list[tuple[str, str, dict[str, Any]]]:
    """Bad requests carrying a canary in a value, a credential or a malformed body."""
    wrong_key = c.add("wrong API key", f"pga_{CANARY}-wrong-key")
    wrong_password = c.add("wrong password", f"wrongpw-{CANARY}")
    bad_value = c.add("refused value", f"refused-{CANARY}-value")
    pem_begin = "-----BEGIN PRIVATE KEY-----"  # pragma: allowlist secret - a canary, not a key
    fake_pem = f"{pem_begin}\n{bad_value}\n-----END PRIVATE KEY-----\n"
    app_key = {"X-API-Key": planted.app_key}
    wns = "/v1/apps/shop/credentials/wns"
    grant = {"grant_type": "client_credentials"}
    mfp = {"Authorization": f"Bearer {ADMIN_KEY}"}
    client_secret = "/v1/apps/shop/credentials"
    return [
        ("GET", "/v1/apps", {"headers": {"X-API-Key": wrong_key}}),
        ("GET", "/v1/apps", {"headers": {"Authorization": f"Bearer {wrong_key}"}}),
        ("GET", "/v1/apps", {"auth": httpx.BasicAuth("ops", wrong_key)}),
        ("POST", "/v1/oauth/token", {"data": grant, "auth": httpx.BasicAuth("ops", wrong_key)}),
        ("POST", "/mfp/api/az/v1/token",
         {"data": grant, "auth": httpx.BasicAuth(planted.client_id, wrong_password)}),
        ("POST", "/api/now/push/shop/installation",
         {"json": {"platform": "x", "token": "y"},
          "auth": httpx.BasicAuth("alice", wrong_password)}),
        ("POST", "/api/v2/push", {"params": {"format": "json"}, "json": {
            "UserId": "alice", "Title": "t", "CompanyId": 1, "IntegrationKey": wrong_key}}),
        ("PUT", f"{client_secret}/apns", {"headers": app_key, "json": {
            "key_id": APNS_KEY_ID, "team_id": APNS_TEAM, "key": fake_pem, "topic": APNS_TOPIC}}),
        ("PUT", wns, {"headers": app_key,
                      "json": {"client_id": "x", "client_secret": [bad_value]}}),
        ("PUT", wns, {"headers": app_key,
                      "json": {"client_id": "x", "client_secret": {"a": bad_value}}}),
        ("PUT", wns, {"headers": app_key, "json": {"client_id": "x", "client_secret": "s",
                                                   "password": bad_value}}),
        ("PUT", wns, {"headers": {**app_key, "content-type": "application/json"},
                      "content": b'{"client_id": "x", "client_secret": "' + bad_value.encode()}),
        ("PUT", f"{client_secret}/fcm", {"headers": app_key, "json": {"service_account": {
            "type": "service_account", "project_id": "p", "client_email": "e@x",
            "private_key": fake_pem}}}),
        ("PUT", f"{client_secret}/webpush", {"headers": app_key, "json": {
            "subject": "mailto:a@b.c", "private_key": bad_value}}),
        ("PUT", f"{client_secret}/sms", {"headers": app_key, "json": {
            "gateway_url": bad_value, "auth_type": "bearer", "token": bad_value}}),
        ("POST", "/v1/apps/shop/users", {"headers": app_key, "json": {
            "name": "bob", "password": [bad_value]}}),
        ("PUT", "/imfpush/v1/apps/shop/settings/wnsConf",
         {"headers": mfp, "json": {"packageSID": "x", "clientSecret": [bad_value]}}),
        ("PUT", "/imfpush/v1/apps/shop/settings/apnsConf",
         {"headers": mfp, "json": {"key": fake_pem, "keyId": APNS_KEY_ID, "teamId": APNS_TEAM}}),
        ("GET", "/users/@me/devices/sync-token",
         {"headers": {"Authorization": f"Bearer pgu_{CANARY}x"}}),
    ]  # fmt: skip


# Plausible values of the GET routes' path parameters: the planted app's own resources.
def path_values(planted: Planted) -> dict[str, list[str]]:
    registration, notification = [planted.registration_id], [planted.notification_id]
    return {
        "app": ["shop", "certs"],
        "applicationId": ["shop"],
        "pushApplicationName": ["shop"],
        "provider": ["apns", "fcm", "webpush", "wns", "sms"],
        "alias": ["ops", "ops2"],
        "name": ["crm", "news", "A"],
        "webhookName": ["crm"],
        "client_id": [planted.client_id],
        "user": ["alice"],
        "username": ["alice"],
        "token_id": [planted.user_token_id],
        "registration_id": registration,
        "registrationId": registration,
        "deviceId": registration,
        "notification_id": notification,
        "notificationId": notification,
        "messageId": notification,
        "delivery_id": [MADE_UP],
        "tagName": ["news"],
        "os": ["ios", "android"],
        "servicePath": [MADE_UP],
    }


def get_urls(app: FastAPI, planted: Planted) -> list[str]:
    """Every GET route of the application, filled with the planted resources' ids."""
    values = path_values(planted)
    urls: list[str] = []
    for context in iter_route_contexts(app.routes):
        if not context.methods or "GET" not in context.methods or not context.path:
            continue
        filled = [context.path]
        for param in re.findall(r"\{(\w+)(?::\w+)?\}", context.path):
            pattern = re.compile(r"\{" + param + r"(?::\w+)?\}")
            filled = [
                pattern.sub(value, url) for url in filled for value in values.get(param, [MADE_UP])
            ]
        urls.extend(filled)
    return urls


def reader(url: str, planted: Planted) -> dict[str, str]:
    """The credential a front door serves its own data to: the admin key (native API and
    /metrics), the admin key as a bearer token (MobileFirst), the user's token (Discord),
    the app's key (SAP)."""
    if url.startswith(("/imfpush/", "/mfp/")):
        return {"Authorization": f"Bearer {ADMIN_KEY}"}
    if "/users/@me/" in url:
        return {"Authorization": f"Bearer {planted.user_token}"}
    if "/mobileservices/" in url:
        return {"X-API-Key": planted.app_key}
    return ADMIN


async def read_everything(
    client: httpx.AsyncClient, app: FastAPI, planted: Planted
) -> dict[str, str]:
    """Where -> what it answered: every GET of the API, with the credential its front door
    takes, and of the console, signed in."""
    seen: dict[str, str] = {}
    urls = get_urls(app, planted)
    for url in urls:
        if not url.startswith("/console/"):
            response = await client.get(url, headers=reader(url, planted))
            assert response.status_code < 500, (url, response.status_code, response.text[:300])
            seen[f"GET {url}: {response.status_code}"] = response.text + str(response.headers)
    signed = await sign_in(client, ADMIN_KEY)
    assert signed.status_code == 303, signed.text
    for url in urls:
        if url.startswith("/console/"):
            response = await client.get(url)
            assert response.status_code < 500, (url, response.status_code, response.text[:300])
            seen[f"console GET {url}: {response.status_code}"] = response.text
    client.cookies.clear()
    return seen
