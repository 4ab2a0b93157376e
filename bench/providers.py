"""Provider adapters' throughput against their fakes, and the fakes' own ceilings.

Usage: uv run --frozen python bench/providers.py [--sends 40000] [--fake-sends 10000]
       [--only apns|fcm|webpush]... [--profile]

For each of APNs, FCM and Web Push (issue 4): sends/s of the adapter (its production
transport, pycurl's HTTP/2 multi interface) over ONE and FOUR connections, with its CPU per
send, against
1. its faithful fake (fakes/*.py, Python, in a process of its own);
2. nginx answering the provider's success shape (bench/servers.py; Debian package
   nginx-light), because every Python fake caps below its adapter: so both ceilings show;
3. for APNs also bench/apns_responder.js (Node's http2), the first fast responder tried;
and every server's own ceiling under h2load (Debian package nghttp2-client) with the same
request, so it is clear which side limits. Against nginx, APNs also gets "bare_pycurl":
pycurl alone sending the adapter's requests (bench/curl_floor.py), the floor under the
adapter. A missing nginx or h2load is reported in the results with the command that
installs it. The machine's load average is recorded beside each figure: other work on the
same 2 cores moves them a lot. Results go to bench/results/providers.json with the core
count, Python and library versions; a run with --only keeps the other providers' figures.
Each measurement has its own deadline; the whole run takes a few minutes on 2 cores.
--profile adds where the APNs adapter's time goes to the APNs section: two more
one-connection runs against nginx, under perf (native time by shared object: libcurl,
nghttp2, TLS, kernel, Python) and under cProfile (bench/profiles.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pycurl
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python bench/providers.py`: the bench package beside it

from bench import servers  # noqa: E402
from bench.curl_floor import floor_rate  # noqa: E402
from bench.providers_http import STREAMS, bench_fcm, bench_webpush, best, timed_send  # noqa: E402
from bench.servers import KEY_ID, TEAM_ID, TOPIC  # noqa: E402
from pushgate.domain.payload import Content, DeliveryOptions  # noqa: E402
from pushgate.domain.platforms import Platform  # noqa: E402
from pushgate.providers.apns import ApnsProvider  # noqa: E402
from pushgate.providers.apns_auth import ProviderTokens  # noqa: E402
from pushgate.providers.apns_payload import render  # noqa: E402
from pushgate.providers.base import (  # noqa: E402
    Delivery,
    ProviderCredential,
    ProviderOptions,
    Push,
    Recipient,
)

RESULTS = ROOT / "bench" / "results" / "providers.json"
BODY = b'{"aps":{"alert":"bench"}}'
TARGET_SENDS_PER_S = 35_000


# -- APNs ------------------------------------------------------------------------------------


def apns_deliveries(count: int, offset: int = 0) -> list[Delivery]:
    push = Push(Content(alert="bench"), DeliveryOptions(datetime.now(UTC) + timedelta(hours=1)))
    return [
        Delivery(f"bench-{i}", Recipient(f"r{i}", Platform.APNS, f"{i:064x}"), push)
        for i in range(offset, offset + count)
    ]


async def adapter_rate(url: str, ca_file: str, key_pem: str, tokens: ProviderTokens, *,
                       sends: int, connections: int, profile: str | None = None,
                       workdir: Path | None = None) -> dict[str, Any]:  # fmt: skip
    """ApnsProvider.send of one batch of `sends` deliveries: sends/s and CPU per send."""
    settings = {"auth": "token", "key_id": KEY_ID, "team_id": TEAM_ID, "topic": TOPIC}
    credential = ProviderCredential(1, "apns", settings, {"key": key_pem}, url, "bench")
    provider = ApnsProvider(
        credential,
        ProviderOptions(ca_file=ca_file),
        max_connections=connections,
        streams_per_connection=STREAMS,
        tokens=tokens,  # one token for every run: the fake refuses > 2 new ones in 20 min
    )
    warm = apns_deliveries(2000, offset=10_000_000)
    timed = apns_deliveries(sends)
    return await timed_send(
        provider, warm, timed, connections=connections, profile=profile, workdir=workdir
    )


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
    headers = [f"apns-topic: {TOPIC}", "apns-push-type: alert", authorization]
    section: dict[str, Any] = {"target_sends_per_s": TARGET_SENDS_PER_S}

    async def measure(url: str, ca_file: str, sends: int) -> dict[str, Any]:
        target = f"{url}/3/device/{'ab' * 32}"
        return {
            "ceiling": [
                servers.h2load(target, headers, BODY, workdir, requests=sends, connections=c)
                for c in (1, 4)
            ],
            "adapter": [
                await adapter_rate(url, ca_file, key_pem, tokens, sends=sends, connections=c)
                for c in (1, 4)
            ],
        }

    with servers.fake_apns_process(workdir, public_pem) as (url, ca_file):
        section["fake"] = await measure(url, ca_file, args.fake_sends)
    with servers.node_responder(workdir) as (url, ca_file):
        section["node_responder"] = await measure(url, ca_file, args.sends)
    with servers.nginx_responder(workdir) as served:
        if served is None:
            section["nginx_responder"] = {"skipped": servers.INSTALL_NGINX}
        else:
            url, ca_file = served
            section["nginx_responder"] = await measure(url, ca_file, args.sends)
            # libcurl alone with the adapter's requests: the floor under its figure
            push = apns_deliveries(1)[0].push
            rendering = render(push.content, push.options, Platform.APNS, TOPIC)
            lines = [*rendering.headers, authorization]  # the adapter's lines and token
            section["nginx_responder"]["bare_pycurl"] = [
                await floor_rate(url, ca_file, lines, rendering.body, sends=args.sends,
                                 connections=c)
                for c in (1, 4)
            ]  # fmt: skip
            if args.profile:  # where the time of a run like the first one goes
                section["profile"] = [
                    await adapter_rate(url, ca_file, key_pem, tokens, sends=args.sends,
                                       connections=1, profile=kind, workdir=workdir)
                    for kind in ("perf", "cprofile")
                ]  # fmt: skip
    section["best_adapter_sends_per_s"] = best(section, "node_responder", "nginx_responder")
    section["target_met"] = (section["best_adapter_sends_per_s"] or 0) >= TARGET_SENDS_PER_S
    return section


# -- the run ---------------------------------------------------------------------------------

PROVIDERS: dict[str, Callable[[argparse.Namespace, Path], Coroutine[Any, Any, dict[str, Any]]]] = {
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
    parser.add_argument("--sends", type=int, default=40_000, help="APNs per run vs a responder")
    parser.add_argument("--fake-sends", type=int, default=10_000, help="APNs per run vs the fake")
    parser.add_argument("--only", choices=sorted(PROVIDERS), action="append")
    parser.add_argument("--profile", action="store_true", help="profile one APNs run vs nginx")
    parser.add_argument("--serve-fake", nargs=2, metavar=("KIND", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake:
        asyncio.run(servers.serve_fake(args.serve_fake[0], Path(args.serve_fake[1])))
        return
    report: dict[str, Any] = {**_versions(), "started_at": datetime.now(UTC).isoformat()}
    report["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="pushgate-bench-") as tmp:
        for name in args.only or sorted(PROVIDERS):
            # Each section says when and on how quiet a machine it was measured: a run with
            # --only replaces its own sections and keeps the others, with their stamps.
            stamp: dict[str, Any] = {
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            }
            report[name] = stamp | asyncio.run(PROVIDERS[name](args, Path(tmp)))
            print(json.dumps({name: report[name]}, indent=2), flush=True)
    report["finished_at"] = datetime.now(UTC).isoformat()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if RESULTS.exists() and args.only:  # a partial run keeps the other providers' figures
        report = {**json.loads(RESULTS.read_text()), **report}
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
