"""What bench/providers.py (and bench/fanout.py) send to, and h2load to measure it alone.

- The faithful fakes (fakes/apns.py, fakes/fcm.py, fakes/webpush.py), each in a process of
  its own (its own core), started by running bench/providers.py with --serve-fake KIND DIR:
  the child prints one JSON line (url, CA file, what the bench needs to call it) and serves
  until its stdin closes.
- bench/apns_responder.js, a minimal Node.js http2 responder (APNs only).
- nginx (Debian package nginx-light) answering each provider's success shape: a C responder,
  to measure an adapter past the Python fakes' own ceilings.
- h2load (Debian package nghttp2-client): a server's own ceiling, with no adapter involved.
Missing tools are reported in the results with the command that installs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import trustme

ROOT = Path(__file__).resolve().parent.parent
RESPONDER = ROOT / "bench" / "apns_responder.js"
PROVIDERS_SCRIPT = ROOT / "bench" / "providers.py"
KEY_ID, TEAM_ID, TOPIC = "BENCHKEY01", "BENCHTEAM1", "com.example.bench"
FCM_PROJECT = "bench-project"
WEBPUSH_SUBSCRIPTIONS = 64  # the fake's browsers; deliveries take them in turn
STEP_TIMEOUT_S = 60.0
INSTALL_NGINX = "nginx missing: apt-get install -y nginx-light"
INSTALL_H2LOAD = "h2load missing: apt-get install -y nghttp2-client"


# -- the fakes, each in its own process ------------------------------------------------------


@contextlib.contextmanager
def fake_process(kind: str, workdir: Path) -> Iterator[dict[str, Any]]:
    """A fake in a child process: its ready line ({"url", "ca_file", ...})."""
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(PROVIDERS_SCRIPT), "--serve-fake", kind, str(workdir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        ready: dict[str, Any] = json.loads(child.stdout.readline())
        yield ready
    finally:
        _end(child)


@contextlib.contextmanager
def fake_apns_process(workdir: Path, public_pem: bytes) -> Iterator[tuple[str, str]]:
    """The faithful fake APNs, trusting the bench key `public_pem`: (url, CA file)."""
    (workdir / "key.pub").write_bytes(public_pem)
    with fake_process("apns", workdir) as ready:
        yield ready["url"], ready["ca_file"]


async def serve_fake(kind: str, workdir: Path) -> None:
    """The child's side of fake_process: serve until stdin closes."""
    from pushgate.fakes.inbox import Inbox  # the bench child only: fakes stay out of pushgate
    from pushgate.fakes.tls import FakeCertificates

    certs = FakeCertificates(workdir / f"fake-{kind}-ca")
    inbox = Inbox(limit=10_000)  # bounded: the bench does not read it
    ready: dict[str, Any] = {"ca_file": str(certs.ca_file)}
    async with contextlib.AsyncExitStack() as stack:
        if kind == "apns":
            from pushgate.fakes.apns import FakeApns

            apns = await stack.enter_async_context(FakeApns(certs, inbox, topics=[TOPIC]))
            apns.add_key(KEY_ID, TEAM_ID, (workdir / "key.pub").read_bytes())
            ready["url"] = apns.url
        elif kind == "fcm":
            from pushgate.fakes.fcm import FakeFcm

            fcm = await stack.enter_async_context(FakeFcm(certs, inbox))
            ready |= {"url": fcm.url, "account": fcm.service_account(FCM_PROJECT)}
        else:
            from pushgate.fakes.webpush import FakeWebPush

            webpush = await stack.enter_async_context(FakeWebPush(certs, inbox))
            subscriptions = [webpush.subscribe() for _ in range(WEBPUSH_SUBSCRIPTIONS)]
            ready["url"] = webpush.origin
            ready["subscriptions"] = [[s.endpoint, s.p256dh, s.auth] for s in subscriptions]
        print(json.dumps(ready), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


# -- fast responders -------------------------------------------------------------------------


def _end(child: subprocess.Popen[bytes]) -> None:
    """A child serving until its stdin closes: closed, and killed if it is not gone 10 s later."""
    assert child.stdin is not None
    child.stdin.close()
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


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
        _end(child)


# Each provider's success answer, nothing checked: APNs 200 + the request's apns-id (and no
# content-type, like APNs'); FCM 200 + a message name; Web Push 201 + Location (RFC 8030).
# nginx adds its server, date and content-length headers. One worker: one core at most.
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
    location / {{ default_type ""; add_header apns-id $http_apns_id always; return 200; }}
    location /v1/projects/ {{
      default_type application/json;
      return 200 '{{"name":"projects/{project}/messages/0:1"}}';
    }}
    location /wp/ {{
      add_header location /m/1 always;
      add_header ttl $http_ttl always;
      return 201;
    }}
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
    conf.write_text(
        NGINX_CONF.format(dir=workdir, port=port, cert=cert_file, key=key_file, project=FCM_PROJECT)
    )
    child = subprocess.Popen([binary, "-c", str(conf), "-p", str(workdir)])  # noqa: S603
    try:
        _wait_for_port(port)
        yield f"https://127.0.0.1:{port}", ca_file
    finally:
        child.terminate()
        child.wait(timeout=10)


def ca_bundle(workdir: Path, *ca_files: str) -> str:
    """One CA file trusting several servers (a fake's token endpoint and nginx)."""
    bundle = workdir / "bundle-ca.pem"
    bundle.write_text("".join(Path(name).read_text() for name in ca_files))
    return str(bundle)


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


# -- a server's own ceiling ------------------------------------------------------------------


def h2load(url: str, headers: Sequence[str], body: bytes, workdir: Path, *, requests: int,
           connections: int, streams: int = 100) -> dict[str, Any]:  # fmt: skip
    """A server's own ceiling: h2load POSTing `body` to `url`, one client thread."""
    binary = shutil.which("h2load")
    if binary is None:
        return {"skipped": INSTALL_H2LOAD}
    body_file = workdir / "h2load-body"
    body_file.write_bytes(body)
    command = [binary, "-n", str(requests), "-c", str(connections), "-m", str(streams), "-t", "1"]
    command += ["-d", str(body_file)]
    for header in headers:
        command += ["-H", header]
    done = subprocess.run(  # noqa: S603 - h2load from PATH
        [*command, url], capture_output=True, text=True, timeout=STEP_TIMEOUT_S
    )
    rate = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", done.stdout)
    counts = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", done.stdout)
    return {
        "server": url.split("/", 3)[2],
        "tool": "h2load",
        "requests": requests,
        "connections": connections,
        "streams_per_connection": streams,
        "requests_per_s": float(rate.group(1)) if rate else None,
        "succeeded": int(counts.group(1)) if counts else None,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
