"""Each fake provider's own ceiling under h2load, against pushgate's target (reliability.md L1).

Usage: uv run --frozen python bench/fakes_h2load.py [--seconds 10] [--connections 1,4]

L1 asks that h2load on each fake reach >= 5x pushgate's target, so that the fake is never
what limits a measurement of pushgate. h2load (Debian package nghttp2-client) sends one
valid request over and over for `--seconds` (after 1 s of warm-up), 100 streams per
connection, one client thread, to:
- the fake APNs (fakes/apns.py: raw h2 over TLS; a real ES256 provider token, a topic it
  knows), in a process of its own (bench/servers.py);
- the fake FCM (fakes/fcm.py: hypercorn, HTTP/2 over TLS; an access token from its own OAuth
  endpoint);
- the fake Web Push service (fakes/webpush.py: hypercorn, HTTP/2 over TLS; an aes128gcm body
  it decrypts for every request, and a VAPID authorization);
- bench/apns_responder.js (Node's http2), the faster APNs stand-in the benches also use;
- nginx (one worker, bench/servers.py), which checks nothing: the ceiling of an HTTP/2
  responder on this machine, to tell what any fake could reach here.
Targets: APNs 35,000 deliveries/s (bench/providers.py, docs/decisions.md). FCM and Web Push
have no stated target, so theirs is the best rate pushgate's adapter reached in
bench/results/providers.json (what pushgate can ask of the fake). Prints, per server, the
best requests/s, the factor over the target and "fake >= 5x target: yes/no"; writes
bench/results/fakes_h2load.json with the core count and load average.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python bench/fakes_h2load.py`: the bench package beside it

from bench import servers  # noqa: E402
from bench.providers import BODY, TARGET_SENDS_PER_S  # noqa: E402
from bench.providers_http import _push, _webpush_request  # noqa: E402
from bench.servers import FCM_PROJECT, KEY_ID, TEAM_ID, TOPIC  # noqa: E402
from pushgate.providers.apns_auth import ProviderTokens  # noqa: E402
from pushgate.providers.fcm_auth import AccessTokens  # noqa: E402
from pushgate.providers.fcm_message import render  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "fakes_h2load.json"
PROVIDERS_RESULTS = ROOT / "bench" / "results" / "providers.json"
FACTOR = 5
STREAMS = 100


def h2load(url: str, headers: list[str], body: bytes, workdir: Path, *, seconds: int,
           connections: int) -> dict[str, Any]:  # fmt: skip
    """h2load POSTing `body` to `url` for `seconds` (timing-based run): its figures."""
    binary = shutil.which("h2load")
    if binary is None:
        return {"skipped": servers.INSTALL_H2LOAD}
    body_file = workdir / "h2load-body"
    body_file.write_bytes(body)
    command = [binary, "-D", str(seconds), "--warm-up-time", "1", "-c", str(connections)]
    command += ["-m", str(STREAMS), "-t", "1", "-d", str(body_file)]
    for header in headers:
        command += ["-H", header]
    done = subprocess.run(  # noqa: S603 - h2load from PATH
        [*command, url], capture_output=True, text=True, timeout=seconds + 60
    )
    out = done.stdout
    rate = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", out)
    counts = re.search(r"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded", out)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    return {
        "connections": connections,
        "streams_per_connection": STREAMS,
        "seconds": seconds,
        "requests_per_s": float(rate.group(1)) if rate else None,
        "requests": int(counts.group(1)) if counts else None,
        "succeeded": int(counts.group(2)) if counts else None,
        "status_2xx": int(codes.group(1)) if codes else None,
        "status_4xx_5xx": int(codes.group(3)) + int(codes.group(4)) if codes else None,
        "load_average_1m": round(os.getloadavg()[0], 2),
        **({} if rate else {"output": (out + done.stderr)[-1500:]}),
    }


def targets() -> dict[str, tuple[float, str]]:
    """Per provider: pushgate's target deliveries/s and where it comes from."""
    found: dict[str, tuple[float, str]] = {
        "apns": (TARGET_SENDS_PER_S, "bench/providers.py TARGET_SENDS_PER_S (docs/decisions.md)")
    }
    recorded = json.loads(PROVIDERS_RESULTS.read_text()) if PROVIDERS_RESULTS.exists() else {}
    for name in ("fcm", "webpush"):
        best = recorded.get(name, {}).get("best_adapter_sends_per_s")
        source = "best adapter rate in bench/results/providers.json (no stated target)"
        found[name] = (float(best), source) if best else (1000.0, "none recorded: 1,000 assumed")
    return found


@contextlib.contextmanager
def apns_servers(workdir: Path, node: bool, fake: bool = True) -> Iterator[tuple[str, list[str]]]:
    """The fake APNs (or the Node responder, or nginx when not `fake`) and the headers of a
    request it accepts."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    authorization = ProviderTokens(time.time).get(KEY_ID, TEAM_ID, pem).header()
    headers = [f"apns-topic: {TOPIC}", "apns-push-type: alert", authorization]
    if node:
        with servers.node_responder(workdir) as (url, _ca_file):
            yield f"{url}/3/device/{'ab' * 32}", headers
        return
    if not fake:
        with servers.nginx_responder(workdir) as found:
            if found is None:
                raise SystemExit(servers.INSTALL_NGINX)
            yield f"{found[0]}/3/device/{'ab' * 32}", headers
        return
    (workdir / "key.pub").write_bytes(public)  # the fake child trusts this key (servers.py)
    with servers.fake_process("apns", workdir) as ready:
        yield f"{ready['url']}/3/device/{'ab' * 32}", headers


async def fcm_access(account: dict[str, Any], ca_file: str) -> str:
    tokens = AccessTokens(account, ca_file=ca_file)
    try:
        return await tokens.current()
    finally:
        await tokens.aclose()


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    runs: dict[str, Any] = {}

    def each(url: str, headers: list[str], body: bytes) -> list[dict[str, Any]]:
        return [
            h2load(url, headers, body, workdir, seconds=args.seconds, connections=c)
            for c in (int(n) for n in args.connections.split(","))
        ]

    with apns_servers(workdir, node=False) as (url, headers):
        runs["apns"] = each(url, headers, BODY)
    with servers.fake_process("fcm", workdir) as fake:
        access = asyncio.run(fcm_access(fake["account"], fake["ca_file"]))
        headers = [f"authorization: Bearer {access}", "content-type: application/json"]
        body = render(_push(), 3600).request_body("tok-h2load")
        runs["fcm"] = each(f"{fake['url']}/v1/projects/{FCM_PROJECT}/messages:send", headers, body)
    with servers.fake_process("webpush", workdir) as fake:
        subscription = fake["subscriptions"][0]
        headers, body = _webpush_request(fake["url"], subscription)
        runs["webpush"] = each(f"{fake['url']}/{subscription[0].split('/', 3)[3]}", headers, body)
    if shutil.which("node"):
        with apns_servers(workdir, node=True) as (url, headers):
            runs["apns_node_responder"] = each(url, headers, BODY)
    # nginx (C, one worker) answering APNs' success shape and checking nothing: the ceiling of
    # any HTTP/2 responder on this machine, with h2load on the same cores.
    with apns_servers(workdir, node=False, fake=False) as (url, headers):
        runs["apns_nginx"] = each(url, headers, BODY)
    return runs


def verdicts(runs: dict[str, Any]) -> dict[str, Any]:
    goals = targets()
    out: dict[str, Any] = {}
    for name, results in runs.items():
        target, source = goals[name.removesuffix("_node_responder").removesuffix("_nginx")]
        best = max((r.get("requests_per_s") or 0.0 for r in results), default=0.0)
        failed = sum((r.get("requests") or 0) - (r.get("succeeded") or 0) for r in results)
        out[name] = {
            "runs": results,
            "best_requests_per_s": best,
            "target_per_s": target,
            "target_source": source,
            "factor": round(best / target, 2),
            "meets_5x": best >= FACTOR * target,
            "failed_requests": failed,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="per h2load run [10]")
    parser.add_argument("--connections", default="1,4", help="connection counts [1,4]")
    args = parser.parse_args()
    if shutil.which("h2load") is None:
        raise SystemExit(servers.INSTALL_H2LOAD)
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    load_before = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="pushgate-h2load-") as tmp:
        servers_ = verdicts(measure(args, Path(tmp)))
    for name, v in servers_.items():
        print(f"{name:20} {v['best_requests_per_s']:>9.0f} req/s  target {v['target_per_s']:.0f}"
              f"/s  x{v['factor']:<5}  fake >= 5x target: {'yes' if v['meets_5x'] else 'NO'}"
              f"  (failed requests {v['failed_requests']})")  # fmt: skip
    report = {
        "benchmark": "h2load on each fake provider vs 5x pushgate's target (reliability.md L1)",
        "command": "uv run --frozen python bench/fakes_h2load.py " + " ".join(sys.argv[1:]),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                    "system": platform.platform(), "load_average_at_start": load_before},
        "measured_at": started,
        "h2load": subprocess.run(["h2load", "--version"], capture_output=True,  # noqa: S607
                                 text=True).stdout.strip(),
        "servers": servers_,
    }  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
