"""reliability.md B3: atheris, bounded, on the dialects' XML/JSON body parsers: no crash or hang.

Every target of tests/fuzz/targets.py (each dialect's body reader and the parse-and-validate
step after it) runs RUNS inputs under libFuzzer, with a per-input timeout and a total time
limit as hang guards and a memory limit. Pass: libFuzzer exits 0 after all RUNS inputs and
leaves no crash-/timeout-/oom- file. One process imports and instruments the modules once and
forks a child per target (start-up is most of a target's cost); under pytest-xdist the first
worker to get here runs them all, the others wait for its results (a file lock).

Budget (~40 s of CPU in CI): RUNS = 20000 for each of the 11 targets took 31.6 s of CPU in
all on this 2-core machine at a load average of 2.5 (36.7 s at 4.8): 4.0 s of start-up,
0.8-4.2 s per target (Push API XML and SAP push the costliest, ~4800 execs per CPU second;
the token form ~24000).
Longer runs: bench/fuzz.py (300000 runs a target found nothing more).

CRASHES keeps the inputs that crashed a parser before its fix, replayed on the target itself.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.fuzz.seeds import mobilefirst_settings
from tests.fuzz.targets import TARGETS

ROOT = Path(__file__).resolve().parents[2]
RUNS = 20_000
PER_INPUT_TIMEOUT_S = 10  # one input taking this long is a hang (libFuzzer: timeout-<sha1>)
PER_TARGET_MAX_S = 240  # a target not done by then stops short of RUNS, and fails
ALL_TARGETS_MAX_S = 900  # the whole run, killed past this


def _run_all(out: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "tests.fuzz.run_target",
        "all",
        f"-runs={RUNS}",
        f"-timeout={PER_INPUT_TIMEOUT_S}",
        f"-max_total_time={PER_TARGET_MAX_S}",
        "-rss_limit_mb=1024",
        "-seed=1",  # the same inputs every run: a failure can be replayed
        "--out",
        str(out),
    ]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    finished = subprocess.run(  # noqa: S603 - fixed arguments
        command,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=ALL_TARGETS_MAX_S,
        check=False,
    )
    print(finished.stdout)  # noqa: T201 - the run's figures
    assert finished.stdout.startswith("imported"), finished.stderr[-3000:]


@pytest.fixture(scope="session")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory of every target's results, fuzzed once per test session."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by the workers of one session
    out = base / "fuzz-b3"
    with (base / "fuzz-b3.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "done").exists():
            out.mkdir(exist_ok=True)
            _run_all(out)
            (out / "done").write_text("")
    return out


@pytest.mark.slow
@pytest.mark.timeout(ALL_TARGETS_MAX_S + 60)
@pytest.mark.parametrize("name", list(TARGETS))
def test_bounded_fuzzing_finds_no_crash_or_hang(fuzzed: Path, name: str) -> None:
    result = json.loads((fuzzed / name / "result.json").read_text())
    rate = result["runs"] / result["cpu_s"] if result["cpu_s"] else 0.0
    print(  # noqa: T201 - the test's figures
        f"{name}: runs {result['runs']}, {result['wall_s']} s wall, {result['cpu_s']} s CPU, "
        f"{rate:.0f} execs per CPU s, {result['max_rss_mb']} MB, crashes {result['crashes']}"
    )
    log = (fuzzed / name / "fuzz.log").read_text(errors="replace")
    assert result["crashes"] == [], log[-4000:]
    assert result["exit_status"] == 0, log[-4000:]
    assert result["runs"] == RUNS, f"stopped short (hang guard {PER_TARGET_MAX_S} s)"


def _pem_of_version(version: int) -> str:
    """The seeds' PEM certificate with another X.509 version number (v3 is 2)."""
    body = mobilefirst_settings()[1][1]  # apnsConf: {"certificate": PEM, "key": ...}
    der = x509.load_pem_x509_certificate(json.loads(body)["certificate"].encode())
    raw = der.public_bytes(serialization.Encoding.DER)
    at = raw.index(bytes.fromhex("a003020102"))  # [0] EXPLICIT INTEGER 2
    raw = raw[:at] + bytes.fromhex("a0030201") + bytes([version]) + raw[at + 5 :]
    text = base64.encodebytes(raw).decode()
    return f"-----BEGIN CERTIFICATE-----\n{text}-----END CERTIFICATE-----\n"


# (target, input) that raised something other than the dialect's refusal before the fix.
# The first byte picks the route where a target has several (see targets.py).
CRASHES: list[tuple[str, bytes]] = [
    # messages_io._visual_xml: `visual` a list -> AttributeError (500).
    (
        "mobilefirst_message",
        b'\0{"message":{"alert":"a"},"settings":{"wns":{"toast":{"visual":[1]}}}}',
    ),
    # messages_io._texts: `text` a number -> TypeError (500).
    (
        "mobilefirst_message",
        b'\0{"message":{"alert":"a"},"settings":{"wns":{"tile":{"visual":'
        b'{"binding":{"template":"T","text":5}}}}}}',
    ),
    # requests.read_json: find_unstorable past the recursion limit -> RecursionError (500).
    ("mobilefirst_message", b"\0" + b"[" * 400 + b"]" * 400),
    # requests.read_json: the parser itself past the limit (it caught ValueError only).
    ("mobilefirst_message", b"\1" + b"[" * 100_000),
    # messages_io._payload_text: a serialized payload nested too deep.
    ("mobilefirst_embedded", b"\0" + b"[" * 5000),
    # sap/bodies.read_json: find_unstorable past the recursion limit.
    ("sap_push", b"\0" + b"[" * 400 + b"]" * 400),
    ("sap_device", b"\0" + b'{"a":' * 400 + b"1" + b"}" * 400),
    # sap/payloads._object: `data` / `customValues` nested too deep in its 2000 characters.
    ("sap_push", b'\0{"alert":"a","data":"' + b"[" * 1999 + b'"}'),
    ("sap_embedded", b"\0" + b"[" * 1999),
    # settings_io._from_pem: x509.InvalidVersion is no ValueError (found by this fuzzing).
    (
        "mobilefirst_settings",
        b"\0" + json.dumps({"certificate": _pem_of_version(28), "key": "k"}).encode(),
    ),
    # sap/devices_io.token_of: a Web Push subscription nested too deep.
    ("sap_device", b'\0{"pushToken":"{\\"a\\":' + b"[" * 4000 + b'"}'),
]


@pytest.mark.parametrize(
    ("name", "data"), CRASHES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CRASHES)]
)
def test_input_that_crashed_a_parser_is_now_refused(name: str, data: bytes) -> None:
    TARGETS[name].run(data)  # raises on anything but the dialect's 4xx refusal
