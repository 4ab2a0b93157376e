"""Seed corpora of the fuzz targets: valid example bodies of each dialect, built in code.

The bodies are the seed documents' samples the dialect tests send (tests/integration/
dialects/*), so the fuzzer starts from requests each parser accepts and mutates from there.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from tests.integration.dialects.pushapi.samples import SEED_SAMPLE_BODY, filled, xml_body
from tests.integration.dialects.sap import samples as sap

XSI = "http://www.w3.org/2001/XMLSchema-instance"


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


# --- POST Push API (seed 001): JSON and XML, the sample body and filled-in variants. ---
_PUSHAPI_FIELDS: list[dict[str, object]] = [
    filled(UserId="alice", Title="Hi", Body="Hello", CompanyId=1, IntegrationKey="k" * 32),
    filled(UserEmail="a@example.com", Body="x", Sound=True, ExpirySecs=3600, CompanyId=7),
    {"userid": "bob", "body": "hi", "companyid": 2, "integrationkey": "key"},
]
PUSHAPI_JSON: list[bytes] = [SEED_SAMPLE_BODY, *(_json(f) for f in _PUSHAPI_FIELDS)]
PUSHAPI_XML: list[bytes] = [
    xml_body(_PUSHAPI_FIELDS[0]),
    xml_body({**_PUSHAPI_FIELDS[1], "UserExternalId": None}),
    xml_body({"UserId": "alice", "Body": "hi"}, root="Push", declarations=f'xmlns:i="{XSI}"'),
    (
        f'<r xmlns="urn:x" xmlns:i="{XSI}"><UserId>a</UserId><Body>b &amp; c</Body>'
        "<Sound>1</Sound><ExpirySecs> 42 </ExpirySecs><CompanyId>3</CompanyId>"
        "<IntegrationKey><![CDATA[k]]></IntegrationKey><Extra><x/></Extra></r>"
    ).encode(),
]

# --- SAP Mobile Services (seed 002): each push body, the registration payload, a receipt. ---
SAP_PUSH: list[tuple[int, bytes]] = [  # (flow: see targets.SAP_FLOWS, body)
    (0, sap.PUSH_TO_DEVICE.body or b""),
    (0, sap.PUSH_TO_DEVICE_HTTP_BODY),
    (
        0,
        _json(
            {
                "alert": "a",
                "badge": 3,
                "data": '{"k":"v","n":1}',
                "priority": "high",
                "apns": {"title": "t", "contentAvailable": True, "customValues": {"x": 1}},
                "gcm": {"priority": "high", "collapseKey": "c", "clickAction": "open"},
            }
        ),
    ),
    (1, sap.PUSH_TO_USERS.body or b""),
    (2, sap.PUSH_TO_TOPIC.body or b""),
    (3, sap.BULK_PUSH.body or b""),
    (4, sap.PUSH_TO_CAPABILITY.body or b""),
]
SAP_DEVICE: list[tuple[int, bytes]] = [
    (0, sap.REGISTRATION_PAYLOAD),
    (
        0,
        _json(
            {
                "pushToken": json.dumps(
                    {"endpoint": "https://push.example/1", "keys": {"p256dh": "p", "auth": "a"}}
                ),
                "timeZone": "Europe/Berlin",
                "userLocale": "de-DE",
                "capabilities": [{"name": "c", "value": False}],
            }
        ),
    ),
    (1, b'{"status": "RECEIVED", "notificationId": "n-1"}'),
    (1, b'{"status": "consumed"}'),
]
EMBEDDED_JSON: list[bytes] = [
    b'{"order" : "4711-2314"}',
    b'{"k":"v","n":1,"o":{"x":[1,2,3]},"b":true,"z":null}',
    b'{"endpoint":"https://push.example/1","keys":{"p256dh":"BNc","auth":"tBH"}}',
    b'{"custom":"data"}',
]

# --- MobileFirst (seed 003): messages, bulk, provider settings, the token form. ---
_MESSAGE = {
    "message": {"alert": "Test message"},
    "notificationType": 1,
    "settings": {"apns": {"badge": 1, "sound": "song.mp3"}, "gcm": {"timeToLive": 10}},
    "target": {"tagNames": ["Gold"], "platforms": ["A,G"]},
}
_FULL_MESSAGE = {
    "message": {"alert": "Test message", "url": "https://example.com/offer"},
    "notificationType": 3,
    "settings": {
        "apns": {"badge": 1, "category": 1, "iosActionKey": "Ok", "payload": {"custom": "data"},
                 "sound": "song.mp3", "type": "MIXED", "title": "Title", "subtitle": "Sub",
                 "attachmentUrl": "http://test.com/test.png", "locArgs": ["a"]},
        "gcm": {"bridge": False, "category": "email", "collapseKey": "testkey",
                "payload": '{"custom":"data"}', "priority": "high", "timeToLive": 10,
                "visibility": "public"},
        "wns": {"badge": {"value": "10"}, "expirationTime": 20, "raw": {"p": 1},
                "toast": {"launch": {"custom": "data"}, "visual": {"binding": {
                    "template": "ToastText04",
                    "text": [{"content": "Text1"}, {"content": "Text2"}]}}}},
    },
    "target": {"deviceIds": ["ios-1", "android-1"], "userIds": ["u"], "platforms": ["W"]},
}  # fmt: skip
MOBILEFIRST_MESSAGE: list[tuple[int, bytes]] = [  # (0 single, 1 bulk; body)
    (0, _json(_MESSAGE)),
    (0, _json(_FULL_MESSAGE)),
    (0, _json({"settings": {"wns": {"tile": {"visual": {"binding": [{"template": "T"}]}}}}})),
    (1, _json([_MESSAGE, _FULL_MESSAGE])),
    (1, _json({"ArrayOfMessageBody": [_MESSAGE]})),
]


_PIN = "pw"  # the .p12's password in the seeds (a made-up key)


def _p12_and_pem() -> tuple[str, str]:
    """A base64 .p12 and a PEM certificate like Apple's push certificates (UID: bundle id)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.USER_ID, "com.example.app")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    blob = pkcs12.serialize_key_and_certificates(
        b"push", key, certificate, None, serialization.BestAvailableEncryption(_PIN.encode())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    return base64.b64encode(blob).decode(), pem


def mobilefirst_settings() -> list[tuple[int, bytes]]:
    """(conf: 0 apns, 1 gcm, 2 wns, 3 sms; body) — built on demand (it makes a key)."""
    p12, pem = _p12_and_pem()
    account = {"type": "service_account", "project_id": "p", "client_email": "a@p.iam"}
    return [
        (0, _json({"certificate": p12, "password": _PIN, "isSandBox": True})),
        (0, _json({"certificate": pem, "key": "a PEM key"})),
        (0, _json({"keyId": "K1", "teamId": "T1", "key": "p8", "bundleId": "com.example"})),
        (1, _json({"serviceAccount": account})),
        (1, _json({"projectId": "p", "clientEmail": "a@p.iam", "privateKey": "k"})),
        (2, _json({"packageSID": "ms-app://s-1", "clientSecret": _PIN})),
        (
            3,
            _json(
                {
                    "host": "https://xyz.com",
                    "name": "TestGateway",
                    "parameters": [{"encode": "true", "name": "to", "value": "$(to)"}],
                    "port": "443",
                    "programName": "/sendsms",
                }
            ),
        ),
    ]


TOKEN_FORM: list[bytes] = [
    b"grant_type=client_credentials&scope=messages.write+push.application.app",
    b"grant_type=client_credentials&client_id=c%20one&client_secret=s&scope=",
]

# --- ServiceNow (seed 000) and Discord: the samples of their documents. ---
_APPLE_TOKEN = (
    "544836d77ac2e551bbf78204630509a7d494fc87f52e85da52e5b5d42910e2cf"  # pragma: allowlist secret
)
SERVICENOW: list[tuple[int, bytes]] = [  # (0 installation, 1 removeInstallation; body)
    (0, b'{"platform":"Apple","token":"' + _APPLE_TOKEN.encode() + b'"}'),
    (1, b'{"platform":"Apple"}'),
    (0, b'{"platform":"Android","token":"fcm-1","extra":[1,{"a":null}]}'),
]
DISCORD: list[tuple[int, bytes]] = [  # (0 register, 1 unregister, 2 sync; body)
    (0, b'{"provider": "gcm", "token": "a1b2c3d4"}'),
    (0, b'{"provider":"apns","token":"t1","voip_provider":"apns_voip","voip_token":"v1"}'),
    (1, b'{"provider": "apns_internal", "token": "a1b2c3d4"}'),
    (2, b'{"provider": "gcm", "token": "fcm-1", "push_sync_tokens": ["s1", "s2"]}'),
    (0, b""),
]
