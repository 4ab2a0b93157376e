"""Applications and their provider settings (APNS, GCM, WNS, SMS) on pushgate credentials,
and the health checker."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from tests.conftest import ADMIN_KEY
from tests.integration.api.helpers import ADMIN
from tests.integration.dialects.mobilefirst.conftest import APP, V1, MobileFirst

pytestmark = pytest.mark.anyio
SETTINGS = f"/apps/{APP}/settings"
BEARER_ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def apns_p12(password: bytes) -> str:
    """A base64 .p12 like Apple's push certificates: the bundle id in the subject's UID."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.USER_ID, "com.example.myapp"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Apple Push Services: com.example.myapp"),
        ]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    blob = pkcs12.serialize_key_and_certificates(
        b"push", key, cert, None, serialization.BestAvailableEncryption(password)
    )
    return base64.b64encode(blob).decode()


def service_account() -> dict[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": "my-project",
        "client_email": "push@my-project.iam.gserviceaccount.com",
        "private_key": pem,
        "token_uri": "https://oauth2.googleapis.com/token",
    }


async def test_applications_are_created_read_changed_listed_and_deleted(
    client: httpx.AsyncClient,
) -> None:
    headers = {**BEARER_ADMIN, "Content-Type": "application/json"}
    created = await client.post(
        f"{V1}/apps", json={"applicationId": "testApp", "enabled": "true"}, headers=headers
    )
    assert created.status_code == 201, created.text
    assert {k: created.json()[k] for k in ("applicationId", "enabled")} == {
        "applicationId": "testApp",
        "enabled": "true",
    }
    again = await client.post(f"{V1}/apps", json={"applicationId": "testApp"}, headers=headers)
    assert again.status_code == 409
    await client.post(f"{V1}/apps", json={"applicationId": "second"}, headers=headers)
    listed = await client.get(f"{V1}/apps?expand=true", headers=BEARER_ADMIN)
    assert listed.json()["applications"] == [
        {"applicationId": "testApp", "enabled": "true"},
        {"applicationId": "second", "enabled": "true"},
    ]
    assert listed.json()["pageInfo"]["totalCount"] == "2"
    filtered = await client.get(f"{V1}/apps?filter=applicationId=@SEC", headers=BEARER_ADMIN)
    assert filtered.json()["applications"] == [{"applicationId": "second"}]
    off = await client.put(f"{V1}/apps/testApp", json={"enabled": False}, headers=headers)
    assert off.json()["enabled"] == "false"
    assert (await client.get(f"{V1}/apps/testApp", headers=BEARER_ADMIN)).json()[
        "enabled"
    ] == "false"
    renamed = await client.put(f"{V1}/apps/testApp", json={"applicationId": "x"}, headers=headers)
    assert renamed.status_code == 400
    assert (await client.delete(f"{V1}/apps/testApp", headers=BEARER_ADMIN)).status_code == 204
    assert (await client.get(f"{V1}/apps/testApp", headers=BEARER_ADMIN)).status_code == 404
    assert (await client.get("/v1/apps/testApp", headers=ADMIN)).status_code == 404


async def test_a_client_sees_only_its_own_application(mfp: MobileFirst) -> None:
    other = await mfp.http.post("/v1/apps", json={"name": "other"}, headers=ADMIN)
    assert other.status_code == 201
    listed = await mfp.call("GET", "/apps")
    assert [a["applicationId"] for a in listed.json()["applications"]] == [APP]
    create = await mfp.call("POST", "/apps", {"applicationId": "third"})
    assert create.status_code == 401  # no push.application.third


async def test_apns_settings_from_a_p12_and_the_sandbox_switch(mfp: MobileFirst) -> None:
    device = {"deviceId": "d-1", "platform": "A", "token": "aa11"}
    assert (await mfp.call("POST", f"/apps/{APP}/devices", device)).status_code == 201
    assert (await mfp.call("GET", f"{SETTINGS}/apnsConf")).status_code == 404
    p12 = apns_p12(b"secret")
    body = {"certificate": p12, "password": "secret", "isSandBox": True}
    stored = await mfp.call("POST", f"{SETTINGS}/apnsConf", body)
    assert stored.status_code == 200, stored.text
    view = stored.json()
    assert view["isSandBox"] == "true"
    assert view["topic"] == "com.example.myapp"
    assert view["validUntil"]
    assert p12 not in stored.text
    admin = {"X-API-Key": ADMIN_KEY}
    listed = await mfp.http.get(f"/v1/apps/{APP}/registrations", headers=admin)
    assert [r["sandbox"] for r in listed.json()["items"]] == [True]
    credential = await mfp.http.get(f"/v1/apps/{APP}/credentials/apns", headers=admin)
    assert credential.json()["settings"]["auth"] == "certificate"
    wrong = await mfp.call("PUT", f"{SETTINGS}/apnsConf", {"certificate": p12, "password": "no"})
    assert wrong.status_code == 400
    assert wrong.json()["field"] == "certificate"
    assert (await mfp.call("DELETE", f"{SETTINGS}/apnsConf")).status_code == 204
    assert (await mfp.call("DELETE", f"{SETTINGS}/apnsConf")).status_code == 404


async def test_gcm_wns_and_sms_settings(mfp: MobileFirst) -> None:
    legacy = await mfp.call("POST", f"{SETTINGS}/gcmConf", {"apiKey": "AIza", "senderId": "1"})
    assert legacy.status_code == 400
    assert legacy.json()["field"] == "apiKey"
    gcm = await mfp.call("POST", f"{SETTINGS}/gcmConf", {"serviceAccount": service_account()})
    assert gcm.status_code == 200, gcm.text
    assert gcm.json() == {
        "projectId": "my-project",
        "clientEmail": "push@my-project.iam.gserviceaccount.com",
    }
    wns = await mfp.call(
        "POST", f"{SETTINGS}/wnsConf", {"packageSID": "ms-app://s-1", "clientSecret": "shh"}
    )
    assert wns.json() == {"packageSID": "ms-app://s-1"}
    sms_body = {
        "host": "xyz.com",
        "name": "TestGateway",
        "parameters": [{"encode": "true", "name": "TestKey", "value": "TestValue"}],
        "port": "80",
        "programName": "/sendsms",
    }
    sms = await mfp.call("PUT", f"{SETTINGS}/smsConf", sms_body)
    assert sms.status_code == 200, sms.text
    assert sms.json()["host"] == "xyz.com"
    assert sms.json()["port"] == "80"
    assert sms.json()["programName"] == "/sendsms"
    assert {"encode": "true", "name": "TestKey", "value": "TestValue"} in sms.json()["parameters"]
    credential = await mfp.http.get(
        f"/v1/apps/{APP}/credentials/sms", headers={"X-API-Key": ADMIN_KEY}
    )
    settings = credential.json()["settings"]
    assert settings["gateway_url"] == "http://xyz.com:80/sendsms"
    assert settings["body_template"] == {"TestKey": "TestValue", "to": "$to", "text": "$text"}
    everything = await mfp.call("GET", SETTINGS)
    assert set(everything.json()) == {"gcmConf", "wnsConf", "smsConf"}
    assert "shh" not in everything.text
    assert (await mfp.call("DELETE", f"{SETTINGS}/smsConf")).status_code == 204
    assert (await mfp.call("GET", f"{SETTINGS}/smsConf")).status_code == 404


async def test_the_health_checker_reports_database_queue_and_providers(mfp: MobileFirst) -> None:
    response = await mfp.call("GET", "/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "UP"
    assert body["database"] == "UP"
    assert body["queue"] == "UP"
    assert set(body["providers"]) == {"apns", "fcm", "webpush", "wns", "sms"}
    assert body["providers"]["apns"] == {"state": "UP", "retrying": 0, "suspectCredentials": 0}
    assert (await mfp.http.get(f"{V1}/health")).status_code == 401
