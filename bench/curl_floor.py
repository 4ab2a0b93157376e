"""The floor under the APNs adapter: pycurl alone sending the adapter's requests.

A bare loop on the same asyncio event loop machinery as http_curl.py (socket and timer
callbacks, one multi handle, 100 streams per connection, one request target on a fixed
URL, no per-request timeout, no header callback) sends the requests ApnsProvider sends:
the same header lines with a fresh apns-id each, the same body. It keeps no results and
builds nothing per send beyond the header list, so the adapter's figure minus this one is
what the adapter itself costs, and this one is what libcurl, TLS and the kernel cost here.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import pycurl

STREAMS = 100


async def floor_rate(origin: str, ca_file: str, lines: list[str], body: bytes, *,
                     sends: int, connections: int) -> dict[str, Any]:  # fmt: skip
    """`sends` POSTs to {origin}/3/device/<token>, `connections` x 100 in flight."""
    loop = asyncio.get_running_loop()
    multi = pycurl.CurlMulti()
    multi.setopt(pycurl.M_PIPELINING, pycurl.PIPE_MULTIPLEX)
    multi.setopt(pycurl.M_MAX_HOST_CONNECTIONS, connections)
    multi.setopt(pycurl.M_MAX_CONCURRENT_STREAMS, STREAMS)
    watched: dict[int, int] = {}
    timer: list[asyncio.TimerHandle | None] = [None]
    done = loop.create_future()
    counts = {"started": 0, "ok": 0, "finished": 0, "total": 0}
    idle: list[pycurl.Curl] = []

    def act(fd: int, mask: int) -> None:
        multi.socket_action(fd, mask)
        while True:
            left, finished, failed = multi.info_read()
            for easy in finished:
                counts["ok"] += easy.getinfo(pycurl.RESPONSE_CODE) == 200
            for easy in [*finished, *(f[0] for f in failed)]:
                multi.remove_handle(easy)
                counts["finished"] += 1
                idle.append(easy)
            if not left:
                break
        while idle and counts["started"] < counts["total"]:
            start(idle.pop())
        if counts["finished"] >= counts["total"] and not done.done():
            done.set_result(None)

    def on_socket(what: int, fd: int, _multi: Any, _data: Any) -> None:
        old, new = watched.get(fd, 0), 0 if what == pycurl.POLL_REMOVE else what
        if old & pycurl.POLL_IN and not new & pycurl.POLL_IN:
            loop.remove_reader(fd)
        if old & pycurl.POLL_OUT and not new & pycurl.POLL_OUT:
            loop.remove_writer(fd)
        if new & pycurl.POLL_IN and not old & pycurl.POLL_IN:
            loop.add_reader(fd, act, fd, pycurl.CSELECT_IN)
        if new & pycurl.POLL_OUT and not old & pycurl.POLL_OUT:
            loop.add_writer(fd, act, fd, pycurl.CSELECT_OUT)
        watched[fd] = new

    def on_timer(timeout_ms: int) -> None:
        if timer[0] is not None:
            timer[0].cancel()
        timer[0] = None
        if timeout_ms >= 0:
            timer[0] = loop.call_later(timeout_ms / 1000, act, pycurl.SOCKET_TIMEOUT, 0)

    def start(easy: pycurl.Curl) -> None:
        counts["started"] += 1
        easy.setopt(pycurl.REQUEST_TARGET, f"/3/device/{counts['started']:064x}")
        easy.setopt(pycurl.HTTPHEADER, [*lines, f"apns-id: {counts['started']:032x}"])
        multi.add_handle(easy)

    multi.setopt(pycurl.M_SOCKETFUNCTION, on_socket)
    multi.setopt(pycurl.M_TIMERFUNCTION, on_timer)
    for _ in range(connections * STREAMS):
        easy = pycurl.Curl()
        for option, value in (
            (pycurl.URL, origin + "/"),
            (pycurl.CAINFO, ca_file),
            (pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_2TLS),
            (pycurl.PIPEWAIT, 1),
            (pycurl.USERAGENT, ""),
            (pycurl.WRITEFUNCTION, len),
            (pycurl.POSTFIELDS, body),
        ):
            easy.setopt(option, value)
        idle.append(easy)

    async def run(count: int) -> None:
        nonlocal done
        done = loop.create_future()
        counts.update(started=0, ok=0, finished=0, total=count)
        while idle and counts["started"] < count:
            start(idle.pop())
        await asyncio.wait_for(done, 60)

    try:
        await run(2000)  # connections and TLS
        wall, cpu = time.perf_counter(), time.process_time()
        await run(sends)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        for fd in watched:
            loop.remove_reader(fd)
            loop.remove_writer(fd)
        multi.close()
    return {
        "tool": "bare pycurl loop (bench/curl_floor.py)",
        "sends": sends,
        "connections": connections,
        "streams_per_connection": STREAMS,
        "sent": counts["ok"],
        "seconds": round(wall, 3),
        "sends_per_s": round(sends / wall),
        "cpu_us_per_send": round(cpu / sends * 1e6, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
