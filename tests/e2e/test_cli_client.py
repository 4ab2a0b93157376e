"""The operator commands against a real `pushgate serve`: apps, keys, credentials, send,
status; and their errors, one line each with an exit code that says what kind."""

from __future__ import annotations

import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.conftest import MASTER_KEY
from tests.e2e.cli_runner import json_of, pushgate
from tests.e2e.server import free_port, live_server

ADMIN_KEY = "pga_cli-" + secrets.token_hex(16)
ENV = {"PUSHGATE_ADMIN_KEY": ADMIN_KEY, "PUSHGATE_MASTER_KEY": MASTER_KEY}


def _pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def test_apps_keys_and_credentials(tmp_path: Path) -> None:
    with live_server(tmp_path / "data", ENV) as server:
        url = server.base_url
        created = json_of(pushgate(url, ADMIN_KEY, "apps", "create", "news", "--json"))
        assert created["name"] == "news"
        listed = pushgate(url, ADMIN_KEY, "apps", "list")
        assert listed.returncode == 0, listed.stderr
        assert "news" in listed.stdout

        made = json_of(
            pushgate(
                url,
                ADMIN_KEY,
                "keys",
                "create",
                "news",
                "ops",
                "--role",
                "app_admin",
                "--role",
                "push_all",
                "--json",
            )
        )
        app_key = made["key"]
        assert sorted(made["roles"]) == ["app_admin", "push_all"]
        text = pushgate(url, ADMIN_KEY, "keys", "create", "news", "other", "-r", "push_single")
        assert text.returncode == 0, text.stderr
        assert "shown this once" in text.stderr
        assert text.stdout.strip().startswith("pgk_")  # the key alone on stdout, for scripts
        keys = pushgate(url, app_key, "keys", "list", "news")
        assert "ops" in keys.stdout
        assert "other" in keys.stdout
        assert app_key not in keys.stdout  # never shown again

        p8 = tmp_path / "AuthKey_ABC123DEFG.p8"
        p8.write_bytes(_pem(ec.generate_private_key(ec.SECP256R1())))
        apns = json_of(
            pushgate(
                url,
                app_key,
                "credentials",
                "set",
                "news",
                "apns",
                "--key-file",
                str(p8),
                "--key-id",
                "ABC123DEFG",
                "--team-id",
                "TEAM123456",
                "--topic",
                "com.example.news",
                "--json",
            )
        )
        assert apns["settings"]["key_id"] == "ABC123DEFG"
        secret_line = p8.read_text().splitlines()[1]
        assert secret_line not in str(apns)
        webpush = pushgate(
            url,
            app_key,
            "credentials",
            "set",
            "news",
            "webpush",
            "--subject",
            "mailto:ops@example.com",
            "--generate",
        )
        assert webpush.returncode == 0, webpush.stderr
        assert "public_key" in webpush.stdout
        shown = pushgate(url, app_key, "apps", "show", "news")
        assert "apns" in shown.stdout
        assert "webpush" in shown.stdout
        assert secret_line not in shown.stdout

        not_p256 = tmp_path / "rsa.p8"
        not_p256.write_bytes(_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
        refused = pushgate(
            url,
            app_key,
            "credentials",
            "set",
            "news",
            "apns",
            "--key-file",
            str(not_p256),
            "--key-id",
            "ABC123DEFG",
            "--team-id",
            "TEAM123456",
            "--topic",
            "com.example.news",
        )
        assert refused.returncode == 1
        assert "option --key-file" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1

        revoked = pushgate(url, ADMIN_KEY, "keys", "revoke", "news", "ops")
        assert revoked.returncode == 0, revoked.stderr
        gone = pushgate(url, app_key, "apps", "show", "news")
        assert gone.returncode == 1
        assert "check --key / PUSHGATE_KEY" in gone.stderr

        assert pushgate(url, ADMIN_KEY, "apps", "delete", "news").returncode == 1  # no --yes
        deleted = pushgate(url, ADMIN_KEY, "apps", "delete", "news", "--yes")
        assert deleted.returncode == 0, deleted.stderr
        assert json_of(pushgate(url, ADMIN_KEY, "apps", "list", "--json")) == []


def test_errors_are_one_line_with_what_to_do_and_an_exit_code(tmp_path: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    unreachable = pushgate(down, ADMIN_KEY, "apps", "list")
    assert unreachable.returncode == 3
    assert unreachable.stderr.count("\n") == 1
    assert "cannot reach pushgate" in unreachable.stderr
    assert "PUSHGATE_URL" in unreachable.stderr

    no_key = pushgate(down, None, "apps", "list")
    assert no_key.returncode == 1
    assert "PUSHGATE_KEY" in no_key.stderr

    with live_server(tmp_path / "data", ENV) as server:
        wrong = pushgate(server.base_url, "pga_wrong", "apps", "list")
        assert wrong.returncode == 1
        assert "refused the key" in wrong.stderr
        assert "pga_wrong" not in wrong.stderr  # a rejected key is not echoed
        missing = pushgate(server.base_url, ADMIN_KEY, "apps", "show", "nope")
        assert missing.returncode == 1
        assert "no app with this name" in missing.stderr
        assert missing.stderr.count("\n") == 1
        bad_target = pushgate(server.base_url, ADMIN_KEY, "send", "nope", "--alert", "x")
        assert bad_target.returncode == 2
        assert "name one target" in bad_target.stderr


def test_send_follows_the_funnel_until_done_with_errors_by_reason(tmp_path: Path) -> None:
    fakes_port = free_port()
    args = ("--fake-providers", "--fakes-port", str(fakes_port))
    with live_server(tmp_path / "data", ENV, *args) as server:
        url = server.base_url
        json_of(pushgate(url, ADMIN_KEY, "apps", "create", "demo", "--json"))
        devices = tmp_path / "devices.jsonl"
        devices.write_text(
            "".join(
                f'{{"platform": "ios", "token": "{token}", "topics": ["news"], "locale": "de"}}\n'
                for token in ("a1" * 32, "b2" * 32, "c3" * 32, "dead" + "0" * 60)
            )
        )
        imported = pushgate(url, ADMIN_KEY, "registrations", "import", "demo", str(devices))
        assert imported.returncode == 0, imported.stderr
        sent = json_of(
            pushgate(
                url,
                ADMIN_KEY,
                "send",
                "demo",
                "--topic",
                "news",
                "--alert",
                "Breaking",
                "--locale",
                "de=Eilmeldung",
                "--follow",
                "--json",
            )
        )
        assert sent["state"] == "done"
        assert (sent["counts"]["SENT"], sent["counts"]["ERROR"]) == (3, 1)
        assert [(e["code"], e["count"]) for e in sent["errors"]] == [(6, 1)]

        shown = pushgate(url, ADMIN_KEY, "status", "demo", sent["id"])
        assert shown.returncode == 0, shown.stderr
        for text in ("delivery funnel", "SENT", "errors by reason", "token rejected"):
            assert text in shown.stdout
        followed = pushgate(url, ADMIN_KEY, "status", "demo", sent["id"], "--follow")
        assert followed.returncode == 0, followed.stderr
        assert "done" in followed.stderr  # the live display's last frame
