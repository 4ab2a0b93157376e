"""`pushgate registrations import | export` against a real `pushgate serve`: rejected rows
with their lines, a round trip through CSV, and an interrupted import resumed."""

from __future__ import annotations

import csv
import json
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import MASTER_KEY
from tests.e2e.cli_runner import cli_env, json_of, pushgate
from tests.e2e.server import LiveServer, free_port, live_server

ADMIN_KEY = "pga_cli-import-" + secrets.token_hex(16)
ENV = {"PUSHGATE_ADMIN_KEY": ADMIN_KEY, "PUSHGATE_MASTER_KEY": MASTER_KEY}
ADMIN = {"X-API-Key": ADMIN_KEY}


def _count(server: LiveServer, app: str) -> int:
    total, cursor = 0, ""
    while True:
        status, page = server.request(
            "GET", f"/v1/apps/{app}/registrations?limit=1000{cursor}", headers=ADMIN
        )
        assert status == 200, page
        total += len(page["items"])
        if not page["next_cursor"]:
            return total
        cursor = "&cursor=" + page["next_cursor"]


def test_csv_import_reports_rejected_lines_and_exports_back(tmp_path: Path) -> None:
    source = tmp_path / "devices.csv"
    with source.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(
            [
                "platform",
                "token",
                "user",
                "topics",
                "capabilities",
                "keys.p256dh",
                "keys.auth",
                "active",
            ]
        )
        writer.writerow(["ios", "a" * 64, "alice", "news;sport", "chat", "", "", ""])
        writer.writerow(["pager", "x", "bob", "", "", "", "", ""])  # line 3: unknown platform
        writer.writerow(
            ["webpush", "https://push.example/s/1", "carol", "news", "", "BNc", "tB", "true"]
        )
        writer.writerow(["android", "fcm-1", "dave", "", "", "", "", "false"])
        writer.writerow(["ios", "with space", "", "", "", "", "", ""])  # line 6: bad token
        writer.writerow(["ios", "only", "three"])  # line 7: short row, refused by the client
    with live_server(tmp_path / "data", ENV) as server:
        url = server.base_url
        for app in ("news", "copy"):
            assert server.request("POST", "/v1/apps", {"name": app}, ADMIN)[0] == 201
        result = pushgate(url, ADMIN_KEY, "registrations", "import", "news", str(source), "--json")
        assert result.returncode == 1, result.stderr  # some rows were rejected
        summary = json.loads(result.stdout)
        assert (summary["created"], summary["rejected"]) == (3, 3)
        with (tmp_path / "devices.csv.rejected.csv").open() as stream:
            rejected = list(csv.DictReader(stream))
        assert [(r["line"], r["field"]) for r in rejected] == [
            ("3", "platform"),
            ("6", "token"),
            ("7", ""),
        ]
        assert "unknown platform" in rejected[0]["message"]
        assert not (tmp_path / "devices.csv.checkpoint.json").exists()  # finished

        exported = tmp_path / "export.csv"
        done = pushgate(url, ADMIN_KEY, "registrations", "export", "news", "-o", str(exported))
        assert done.returncode == 0, done.stderr
        again = pushgate(url, ADMIN_KEY, "registrations", "import", "copy", str(exported))
        assert again.returncode == 0, again.stderr
        copied = tmp_path / "copy.csv"
        pushgate(url, ADMIN_KEY, "registrations", "export", "copy", "-o", str(copied))
        assert sorted(copied.read_text().splitlines()) == sorted(exported.read_text().splitlines())
        with exported.open() as stream:
            rows = list(csv.DictReader(stream))
        by_user = {row["user"]: row for row in rows}
        assert by_user["alice"]["topics"] == "news;sport"
        assert by_user["carol"]["keys.p256dh"] == "BNc"
        assert by_user["dave"]["active"] == "false"
        jsonl = pushgate(
            url,
            ADMIN_KEY,
            "registrations",
            "export",
            "news",
            "--format",
            "jsonl",
            "--user",
            "alice",
        )
        (alice,) = [json.loads(line) for line in jsonl.stdout.splitlines()]
        assert alice["topics"] == ["news", "sport"]


def test_an_interrupted_import_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    rows = 3000
    source = tmp_path / "devices.jsonl"
    source.write_text(
        "".join(f'{{"platform": "android", "token": "tok-{i:05d}"}}\n' for i in range(rows))
    )
    checkpoint = tmp_path / "devices.jsonl.checkpoint.json"
    with live_server(tmp_path / "data", ENV) as server:
        assert server.request("POST", "/v1/apps", {"name": "news"}, ADMIN)[0] == 201
        command = [
            sys.executable,
            "-m",
            "pushgate.cli",
            "registrations",
            "import",
            "news",
            str(source),
            "--batch-size",
            "10",
            "--parallel",
            "1",
        ]
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and CLI
            command,
            env=cli_env(server.base_url, ADMIN_KEY),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not checkpoint.exists() or json.loads(checkpoint.read_text())["line"] < 200:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no checkpoint within 60 s"
            time.sleep(0.02)  # another process's progress: polled with a deadline
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 130, stderr
        assert "--resume" in stderr
        stopped_at = json.loads(checkpoint.read_text())["line"]
        assert 200 <= stopped_at < rows

        url = server.base_url
        refused = pushgate(url, ADMIN_KEY, "registrations", "import", "news", str(source))
        assert refused.returncode == 1
        assert "--resume" in refused.stderr
        resumed = json_of(
            pushgate(
                url, ADMIN_KEY, "registrations", "import", "news", str(source), "--resume", "--json"
            )
        )
        assert resumed["rows"] >= rows  # a batch in flight at the interrupt may count twice
        assert resumed["rejected"] == 0
        assert not checkpoint.exists()
        assert _count(server, "news") == rows


def test_an_import_to_a_server_that_is_down_fails_at_once(tmp_path: Path) -> None:
    source = tmp_path / "devices.jsonl"
    source.write_text('{"platform": "ios", "token": "t"}\n')
    started = time.monotonic()
    down = f"http://127.0.0.1:{free_port()}"
    result = pushgate(down, ADMIN_KEY, "registrations", "import", "news", str(source))
    assert result.returncode == 3
    assert "cannot reach pushgate" in result.stderr
    assert time.monotonic() - started < 30  # no retrying a server that never answered


def test_batches_shrink_to_a_smaller_body_limit(tmp_path: Path) -> None:
    rows = 1000
    source = tmp_path / "devices.jsonl"
    source.write_text(
        "".join(f'{{"platform": "android", "token": "tok-{i:05d}"}}\n' for i in range(rows))
    )
    env = {**ENV, "PUSHGATE_MAX_BODY_BYTES": "16384"}  # a 1,000-row batch is ~45 KB
    with live_server(tmp_path / "data", env) as server:
        assert server.request("POST", "/v1/apps", {"name": "news"}, ADMIN)[0] == 201
        done = json_of(
            pushgate(
                server.base_url, ADMIN_KEY, "registrations", "import", "news", str(source), "--json"
            )
        )
        assert (done["created"], done["rejected"]) == (rows, 0)
        assert _count(server, "news") == rows
