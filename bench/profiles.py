"""Where a timed adapter run's CPU goes, by component, for bench/providers.py --profile.

Two profilers of the same kind of run (APNs adapter vs nginx, one connection):
- perf (Linux, `apt-get install -y linux-perf`), attached to the bench process for the timed
  send only, sampling ~1,000 times a second: native time by shared object, so libcurl,
  nghttp2, OpenSSL, the kernel (loopback TCP, epoll, scheduling), libc (malloc) and the
  Python interpreter (the adapter, the transport's glue, the collector) are told apart.
  Little overhead: its run's figures stand beside the others'.
- cProfile: Python functions' own time, by module. It adds ~1 us to every Python call, so
  the Python components read high; use it to rank Python code, not to size it.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import os
import pstats
import re
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

# perf's shared objects -> components (first match wins); shares in % of the run's samples.
NATIVE: list[tuple[str, str]] = [
    ("libcurl", "libcurl: requests, connection reuse, multi bookkeeping"),
    ("libnghttp2", "nghttp2: HTTP/2 frames and HPACK"),
    ("libssl-", "OpenSSL (libcurl's): TLS records"),
    ("libcrypto-", "OpenSSL (libcurl's): TLS records"),
    ("[kernel", "kernel: loopback TCP, epoll, wake-ups"),
    ("libpython", "Python: adapter, transport glue, asyncio, GC"),
    ("libcrypto.so", "Python: hashlib (apns-id)"),
    ("_pycurl", "pycurl binding"),
    ("libc.so", "libc: malloc, memcpy"),
    ("[vdso]", "kernel: clock reads (vdso)"),
]

# cProfile: (label, test on "file:function"), first match wins.
PYTHON: list[tuple[str, Callable[[str], bool]]] = [
    ("libcurl: socket_action (HTTP/2, TLS, socket I/O)", lambda f: "socket_action" in f),
    ("libcurl: add/remove handle, setopt, getinfo, info_read",
     lambda f: any(n in f for n in ("add_handle", "remove_handle", "setopt", "getinfo",
                                    "info_read"))),
    ("adapter: apns*.py (requests, apns-id, results)", lambda f: "/providers/apns" in f),
    ("transport: http_curl*.py (window, deadlines, answers)",
     lambda f: "/providers/http_curl" in f),
    ("event loop: asyncio + epoll", lambda f: "asyncio" in f or "poll" in f or "selectors" in f),
]  # fmt: skip


@contextlib.asynccontextmanager
async def profiled(kind: str | None, workdir: Path, into: dict[str, Any]) -> AsyncIterator[None]:
    """Profile the block with "perf" or "cprofile" (None: not at all); components -> `into`."""
    if kind == "cprofile":
        profiler = cProfile.Profile()
        profiler.enable()
        try:
            yield
        finally:
            profiler.disable()
        stats_file = workdir / "run.prof"
        profiler.dump_stats(str(stats_file))
        into["cprofile_own_time"] = _python_components(stats_file)
    elif kind == "perf" and shutil.which("perf"):
        data = workdir / "perf.data"
        command = ["record", "-F", "999", "-p", str(os.getpid()), "-o", str(data)]
        recorder = await asyncio.create_subprocess_exec(
            "perf", *command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        await asyncio.sleep(1.0)  # perf attaches before the clock starts (outside the run)
        try:
            yield
        finally:
            recorder.send_signal(signal.SIGINT)
            await asyncio.wait_for(recorder.wait(), 30)
        into["perf_samples"] = _native_components(data)
    else:
        if kind == "perf":
            into["perf_samples"] = "perf missing: apt-get install -y linux-perf"
        yield


def _native_components(data: Path) -> dict[str, str]:
    done = subprocess.run(  # noqa: S603 - perf from PATH
        ["perf", "report", "-i", str(data), "--sort", "dso", "--stdio", "-q"],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=60,
    )
    shares: dict[str, float] = {}
    for share, dso in re.findall(r"^\s*([\d.]+)%\s+(\S+)", done.stdout, re.MULTILINE):
        label = next((label for prefix, label in NATIVE if dso.startswith(prefix)), "other")
        shares[label] = shares.get(label, 0.0) + float(share)
    return {label: f"{share:.1f} %" for label, share in sorted(shares.items(), key=lambda x: -x[1])}


def _python_components(stats_file: Path) -> dict[str, str]:
    stats: dict[Any, Any] = pstats.Stats(str(stats_file)).stats  # type: ignore[attr-defined]
    spent: dict[str, float] = {}
    total = 0.0
    for (file, _line, function), (_cc, _nc, own, _cum, _callers) in stats.items():
        name = f"{file}:{function}"
        label = next((label for label, test in PYTHON if test(name)), "other Python")
        spent[label] = spent.get(label, 0.0) + own
        total += own
    return {
        label: f"{seconds / total * 100:.1f} %"
        for label, seconds in sorted(spent.items(), key=lambda item: -item[1])
    }
