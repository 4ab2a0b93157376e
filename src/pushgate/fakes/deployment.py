"""Every fake provider at once: one CA, one inbox, the control API, and test credentials.

What `pushgate fakes` runs and `pushgate serve --fake-providers` starts beside the server:
fake APNs (production and sandbox), FCM with its OAuth token endpoint, Web Push, WNS with
its token endpoint, an SMS gateway, and the control API on 127.0.0.1:8099 (GET /received,
PUT /behaviour, POST /webpush/subscriptions). `credentials()` gives, per provider, the
fields to store as an app's credential (PUT /v1/apps/{app}/credentials/{provider}) that
these fakes accept; `endpoints()` the base URLs to point the adapters at.
"""

from __future__ import annotations

import json
import secrets
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushgate.fakes.apns import FakeApns
from pushgate.fakes.behaviour import ServerPlan
from pushgate.fakes.control import DEFAULT_PORT, ControlServer
from pushgate.fakes.fcm import FakeFcm
from pushgate.fakes.http_server import FakeRequest, FakeResponse
from pushgate.fakes.inbox import Inbox
from pushgate.fakes.sms import FakeSmsGateway
from pushgate.fakes.tls import FakeCertificates
from pushgate.fakes.webpush import FakeWebPush
from pushgate.fakes.wns import FakeWns

APNS_KEY_ID, APNS_TEAM_ID = "FAKEKEY001", "FAKETEAM01"
APNS_TOPIC = "dev.pushgate.fake"
FCM_PROJECT = "pushgate-fake"
WNS_CLIENT = "ms-app://s-1-15-2-pushgate-fake"
SMS_ACCOUNT = "ACfake0000000000000000000000000000"
SMS_SENDER = "+15550000000"


@dataclass(frozen=True, slots=True)
class FakeEndpoints:
    apns: str
    apns_sandbox: str
    fcm: str
    fcm_token: str
    webpush: str
    wns: str  # the token endpoint's base (channel URIs are the devices' own)
    sms: str
    control: str
    ca_file: str

    def provider_endpoints(self) -> dict[str, str]:
        """ProviderOptions.endpoints: the base URLs adapters use unless a credential says."""
        return {
            "apns": self.apns,
            "apns_sandbox": self.apns_sandbox,
            "fcm": self.fcm,
            "fcm_token": self.fcm_token,
            "wns": self.wns,
        }


class FakeDeployment:
    """`async with FakeDeployment(directory) as fakes:` serves until the block ends."""

    def __init__(
        self, directory: Path, *, control_port: int = DEFAULT_PORT, host: str = "127.0.0.1"
    ) -> None:
        self.directory = directory
        self.certs = FakeCertificates(directory)
        self.inbox = Inbox()
        self.plans = {name: ServerPlan() for name in ("apns", "fcm", "webpush", "wns", "sms")}
        self.apns = FakeApns(self.certs, self.inbox, topics=[APNS_TOPIC], plan=self.plans["apns"])
        self.fcm = FakeFcm(self.certs, self.inbox, self.plans["fcm"], host=host)
        self.webpush = FakeWebPush(self.certs, self.inbox, plan=self.plans["webpush"])
        self.wns = FakeWns(self.certs, self.inbox, self.plans["wns"])
        self.sms = FakeSmsGateway(self.certs, self.inbox, self.plans["sms"])
        self.control = ControlServer(
            self.inbox,
            self.plans,
            host=host,
            port=control_port,
            routes={"/webpush/subscriptions": self._subscribe},
        )
        self._stack = AsyncExitStack()
        self._credentials: dict[str, dict[str, Any]] = {}

    async def __aenter__(self) -> FakeDeployment:
        for fake in (self.apns, self.fcm, self.webpush, self.wns, self.sms, self.control):
            await self._stack.enter_async_context(fake)
        self._credentials = self._make_credentials()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    def endpoints(self) -> FakeEndpoints:
        return FakeEndpoints(
            apns=self.apns.url,
            apns_sandbox=self.apns.sandbox_url,
            fcm=self.fcm.url,
            fcm_token=f"{self.fcm.url}/token",
            webpush=self.webpush.origin,
            wns=self.wns.url,
            sms=self.sms.twilio_url(SMS_ACCOUNT),
            control=self.control.url,
            ca_file=str(self.certs.ca_file),
        )

    def credentials(self) -> dict[str, dict[str, Any]]:
        """Per provider, credential fields (as PUT .../credentials/{provider} takes them)."""
        return {name: dict(fields) for name, fields in self._credentials.items()}

    def describe(self) -> dict[str, Any]:
        """Everything a client needs, as JSON: endpoints, CA file, credentials."""
        return {"endpoints": asdict(self.endpoints()), "credentials": self.credentials()}

    def write(self, path: Path) -> None:
        """describe() into a private file (it holds the fakes' test secrets)."""
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(json.dumps(self.describe(), indent=2) + "\n")

    def _make_credentials(self) -> dict[str, dict[str, Any]]:
        wns_secret = "fake-" + secrets.token_urlsafe(16)
        self.wns.register_client(WNS_CLIENT, wns_secret)
        sms_token = "fake-" + secrets.token_urlsafe(16)
        self.sms.register_account(SMS_ACCOUNT, sms_token)
        return {
            "apns": apns_credential(self.apns),
            "fcm": {"service_account": self.fcm.service_account(FCM_PROJECT)},
            "webpush": {"subject": "mailto:fakes@pushgate.dev", "generate": True},
            "wns": {"client_id": WNS_CLIENT, "client_secret": wns_secret},
            "sms": {"gateway_url": self.sms.twilio_url(SMS_ACCOUNT), "auth_type": "basic",
                    "username": SMS_ACCOUNT, "password": sms_token, "sender": SMS_SENDER},
        }  # fmt: skip

    async def _subscribe(self, request: FakeRequest) -> FakeResponse:
        """POST /webpush/subscriptions: a simulated browser's new subscription."""
        if request.method != "POST":
            return FakeResponse(405, [("allow", "POST")])
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return FakeResponse.json(400, {"error": "the body must be JSON"})
        key = body.get("application_server_key") if isinstance(body, dict) else None
        subscription = self.webpush.subscribe(key if isinstance(key, str) else None)
        return FakeResponse.json(
            201,
            {
                "endpoint": subscription.endpoint,
                "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
            },
        )


def apns_credential(apns: FakeApns) -> dict[str, Any]:
    """A new token-auth key the fake APNs trusts, as an APNs credential's fields."""
    key = ec.generate_private_key(ec.SECP256R1())
    apns.add_key(APNS_KEY_ID, APNS_TEAM_ID, key.public_key())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {"key_id": APNS_KEY_ID, "team_id": APNS_TEAM_ID, "key": pem, "topic": APNS_TOPIC}
