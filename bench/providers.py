"""Provider adapters' throughput against their fakes, and the fakes' own ceilings.

Usage: uv run --frozen python bench/providers.py [--sends 40000] [--fake-sends 10000]
       [--only apns] [--profile]

APNs (issue 4): sends/s of ApnsProvider over one and four HTTP/2 connections against
1. the faithful fake (fakes/apns.py, a Python h2 server, run in its own process);
2. bench/apns_responder.js, a minimal Node.js http2 responder (200 + apns-id, no checks),
   because the Python fake caps below the adapter;
3. nginx (Debian package nginx-light) answering `return 200` with the apns-id echoed: a C
   responder, since Node's http2 also caps below the adapter on this machine (skipped when
   nginx is not installed);
and every server's own ceiling under h2load (Debian package nghttp2-client), so it is clear
which side limits. The machine's load average is recorded beside each figure: other work
on the same 2 cores moves them a lot. Results go to bench/results/providers.json with the
core count, Python and library versions and timestamps. Bounded: each measurement has its
own deadline; the whole run takes about a minute on 2 cores.

Other providers plug in through PROVIDERS (name -> coroutine returning its JSON section).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import platform
import pstats
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pycurl
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushgate.domain.payload import Content, DeliveryOptions
from pushgate.domain.platforms import Platform
from pushgate.domain.statuses import Outcome
from pushgate.providers.apns import ApnsProvider
from pushgate.providers.apns_auth import ProviderTokens
from pushgate.providers.base import (
    Batch,
    Delivery,
    ProviderCredential,
    ProviderOptions,
    Push,
    Recipient,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "providers.json"
RESPONDER = ROOT / "bench" / "apns_responder.js"
KEY_ID, TEAM_ID, TOPIC = "BENCHKEY01", "BENCHTEAM1", "com.example.bench"
BODY = b'{"aps":{"alert":"bench"}}'
TARGET_SENDS_PER_S = 35_000
STEP_TIMEOUT_S = 60.0


# -- servers --------------------------------------------------------------------------------


@contextlib.contextmanager
def fake_apns_process(workdir: Path, public_pem: bytes) -> Iterator[tuple[str, str]]:
    """The faithful fake in its own process (its own core): (url, CA file)."""
    (workdir / "key.pub").write_bytes(public_pem)
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, __file__, "--serve-fake-apns", str(workdir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        ready = json.loads(child.stdout.readline())
        yield ready["url"], ready["ca_file"]
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=10)


async def _serve_fake_apns(workdir: Path) -> None:
    from pushgate.fakes.apns import FakeApns  # bench only: the fake runs in this child
    from pushgate.fakes.inbox import Inbox
    from pushgate.fakes.tls import FakeCertificates

    certs = FakeCertificates(workdir / "fake-ca")
    inbox = Inbox(limit=10_000)  # bounded: the bench does not read it
    async with FakeApns(certs, inbox, topics=[TOPIC]) as fake:
        fake.add_key(KEY_ID, TEAM_ID, (workdir / "key.pub").read_bytes())
        print(json.dumps({"url": fake.url, "ca_file": str(certs.ca_file)}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


@contextlib.contextmanager
def node_responder(workdir: Path) -> Iterator[tuple[str, str]]:
    """bench/apns_responder.js with a trustme certificate: (url, CA file)."""
    cert_file, key_file, ca_file = _server_certificate(workdir, "node")
    node = shutil.which("node") or "node"
    child = subprocess.Popen(  # noqa: S603 - node from PATH with our script
        [node, str(RESPONDER), cert_file, key_file],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        yield f"https://127.0.0.1:{port}", ca_file
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=10)


NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {dir}/nginx-body;
  server {{
    listen 127.0.0.1:{port} ssl http2;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    http2_max_concurrent_streams 1000;
    keepalive_requests 100000000;
    location / {{ add_header apns-id $http_apns_id always; return 200; }}
  }}
}}
"""


@contextlib.contextmanager
def nginx_responder(workdir: Path) -> Iterator[tuple[str, str] | None]:
    """nginx as a fast C HTTP/2 responder: (url, CA file), or None when nginx is missing."""
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if binary is None:
        yield None
        return
    cert_file, key_file, ca_file = _server_certificate(workdir, "nginx")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conf = workdir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=workdir, port=port, cert=cert_file, key=key_file))
    child = subprocess.Popen([binary, "-c", str(conf), "-p", str(workdir)])  # noqa: S603
    try:
        _wait_for_port(port)
        yield f"https://127.0.0.1:{port}", ca_file
    finally:
        child.terminate()
        child.wait(timeout=10)


def _server_certificate(workdir: Path, name: str) -> tuple[str, str, str]:
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    files = [workdir / f"{name}.crt", workdir / f"{name}.key", workdir / f"{name}-ca.pem"]
    server.cert_chain_pems[0].write_to_path(str(files[0]))
    server.private_key_pem.write_to_path(str(files[1]))
    ca.cert_pem.write_to_path(str(files[2]))
    return str(files[0]), str(files[1]), str(files[2])


def _wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)  # a child server starting: poll its port until the deadline
    raise RuntimeError(f"nothing listens on port {port} after {timeout_s} s")


# -- measurements ---------------------------------------------------------------------------


def h2load(url: str, authorization: str, workdir: Path, *, requests: int,
           connections: int, streams: int = 100) -> dict[str, Any]:  # fmt: skip
    """A server's own ceiling: h2load POSTing APNs-shaped requests, one client thread."""
    binary = shutil.which("h2load")
    if binary is None:
        return {"skipped": "h2load missing: apt-get install nghttp2-client"}
    body = workdir / "body.json"
    body.write_bytes(BODY)
    command = [binary, "-n", str(requests), "-c", str(connections), "-m", str(streams), "-t", "1"]
    command += ["-d", str(body), "-H", f"apns-topic: {TOPIC}", "-H", "apns-push-type: alert"]
    command += ["-H", authorization, f"{url}/3/device/{'ab' * 32}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=STEP_TIMEOUT_S)  # noqa: S603
    rate = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", done.stdout)
    counts = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", done.stdout)
    return {
        "server": url,
        "tool": "h2load",
        "requests": requests,
        "connections": connections,
        "streams_per_connection": streams,
        "requests_per_s": float(rate.group(1)) if rate else None,
        "succeeded": int(counts.group(1)) if counts else None,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def deliveries(count: int, push: Push, offset: int = 0) -> list[Delivery]:
    return [
        Delivery(f"bench-{i}", Recipient(f"r{i}", Platform.APNS, f"{i:064x}"), push)
        for i in range(offset, offset + count)
    ]


async def adapter_rate(url: str, ca_file: str, key_pem: str, tokens: ProviderTokens, *,
                       sends: int, connections: int,
                       profile: Path | None = None) -> dict[str, Any]:  # fmt: skip
    """ApnsProvider.send of one batch of `sends` deliveries: sends/s and CPU per send."""
    settings = {"auth": "token", "key_id": KEY_ID, "team_id": TEAM_ID, "topic": TOPIC}
    credential = ProviderCredential(1, "apns", settings, {"key": key_pem}, url, "bench")
    # 100 streams in flight per connection (http_curl.DEFAULT_STREAMS_PER_CONNECTION): with
    # `connections` x 100 requests open, libcurl really uses every connection.
    streams = 100
    provider = ApnsProvider(
        credential,
        ProviderOptions(ca_file=ca_file),
        max_connections=connections,
        streams_per_connection=streams,
        tokens=tokens,  # one token for every run: the fake refuses > 2 new ones in 20 min
    )
    push = Push(Content(alert="bench"), DeliveryOptions(datetime.now(UTC) + timedelta(hours=1)))
    loop = asyncio.get_running_loop()
    try:
        warm = deliveries(2000, push, offset=10_000_000)  # connections, token, TLS, caches
        await provider.send(Batch(1, warm, loop.time() + STEP_TIMEOUT_S))
        batch = Batch(1, deliveries(sends, push), loop.time() + STEP_TIMEOUT_S)
        profiler = cProfile.Profile() if profile else None
        wall, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        results = await provider.send(batch)
        if profiler:
            profiler.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await provider.aclose()
    if profiler and profile:
        profiler.dump_stats(str(profile))
    sent = sum(result.outcome is Outcome.SENT for result in results)
    return {
        "sends": sends,
        "connections": connections,
        "streams_per_connection": streams,
        "sent": sent,
        "seconds": round(wall, 3),
        "sends_per_s": round(sends / wall),
        "cpu_us_per_send": round(cpu / sends * 1e6, 1),
        "profiled": bool(profile),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


async def bench_apns(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = serialization.PrivateFormat.PKCS8
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, pkcs8, serialization.NoEncryption()
    ).decode()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    tokens = ProviderTokens(time.time)
    authorization = tokens.get(KEY_ID, TEAM_ID, key_pem).header()
    section: dict[str, Any] = {"target_sends_per_s": TARGET_SENDS_PER_S}

    async def measure(url: str, ca_file: str, sends: int) -> dict[str, Any]:
        return {
            "ceiling": [
                h2load(url, authorization, workdir, requests=sends, connections=c) for c in (1, 4)
            ],
            "adapter": [
                await adapter_rate(url, ca_file, key_pem, tokens, sends=sends, connections=c)
                for c in (1, 4)
            ],
        }

    with fake_apns_process(workdir, public_pem) as (url, ca_file):
        section["fake"] = await measure(url, ca_file, args.fake_sends)
    with node_responder(workdir) as (url, ca_file):
        section["node_responder"] = await measure(url, ca_file, args.sends)
    with nginx_responder(workdir) as served:
        if served is None:
            section["nginx_responder"] = {"skipped": "nginx missing: apt-get install nginx-light"}
        else:
            url, ca_file = served
            section["nginx_responder"] = await measure(url, ca_file, args.sends)
            if args.profile:
                stats = workdir / "apns.prof"
                await adapter_rate(url, ca_file, key_pem, tokens, sends=args.sends,
                                   connections=1, profile=stats)  # fmt: skip
                pstats.Stats(str(stats)).sort_stats("tottime").print_stats(25)
    rates = [
        run["sends_per_s"]
        for name in ("node_responder", "nginx_responder")
        for run in section[name].get("adapter", [])
    ]
    section["best_adapter_sends_per_s"] = max(rates, default=None)
    section["target_met"] = bool(rates) and max(rates) >= TARGET_SENDS_PER_S
    return section


# Hooks: FCM and Web Push add their own coroutine here (same shape: args, workdir -> JSON).
async def _script(name: str, *args: str) -> dict[str, Any]:
    """Another provider's bench script, in its own process: the JSON it prints at the end."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "bench" / name), *args,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(child.communicate(), STEP_TIMEOUT_S * 3)
    text = out.decode()
    return dict(json.loads(text[text.index("{") :]))  # the document after any progress lines


async def bench_fcm(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """FCM: against the fake (hypercorn) over pycurl, and the adapter's own CPU per send."""
    return {
        "vs_fake": await _script("fcm.py", "--seconds", "10", "--transport", "curl"),
        "adapter_only": await _script("fcm.py", "--seconds", "5", "--transport", "none"),
    }


async def bench_webpush(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Web Push: encryption and VAPID CPU per message, and sends/s against the fake."""
    return await _script("webpush.py", "--messages", "2000")


PROVIDERS: dict[str, Callable[[argparse.Namespace, Path], Awaitable[dict[str, Any]]]] = {
    "apns": bench_apns,
    "fcm": bench_fcm,
    "webpush": bench_webpush,
}


def _versions() -> dict[str, Any]:
    node = shutil.which("node")
    node_version = (
        subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()  # noqa: S603
        if node
        else None
    )
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "pycurl": pycurl.version,
        "node": node_version,
        "machine": platform.machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=40_000, help="per run vs the responder")
    parser.add_argument("--fake-sends", type=int, default=10_000, help="per run vs the fake")
    parser.add_argument("--only", choices=sorted(PROVIDERS), action="append")
    parser.add_argument("--profile", action="store_true", help="cProfile one responder run")
    parser.add_argument("--serve-fake-apns", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake_apns:
        asyncio.run(_serve_fake_apns(args.serve_fake_apns))
        return
    report: dict[str, Any] = {**_versions(), "started_at": datetime.now(UTC).isoformat()}
    report["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="pushgate-bench-") as tmp:
        for name in args.only or sorted(PROVIDERS):
            report[name] = asyncio.run(PROVIDERS[name](args, Path(tmp)))
            print(json.dumps({name: report[name]}, indent=2))
    report["finished_at"] = datetime.now(UTC).isoformat()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if RESULTS.exists() and args.only:  # a partial run keeps the other providers' figures
        report = {**json.loads(RESULTS.read_text()), **report}
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
