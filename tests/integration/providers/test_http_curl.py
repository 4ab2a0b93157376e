"""CurlTransport alone against the fake APNs (a real h2 server over TLS) and closed ports."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from email.utils import formatdate

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from pushgate.fakes.apns import FakeApns
from pushgate.fakes.tls import FakeCertificates
from pushgate.providers.http import ConnectFailed, ConnectionLost, TimedOut, Unprocessed
from pushgate.providers.http_curl import Answer, CurlTransport
from tests.integration.providers.apns_setup import KEY_ID, TEAM_ID, TOPIC, hex_tokens, wait_until

pytestmark = pytest.mark.anyio


@pytest.fixture
def auth(apns_key: ec.EllipticCurvePrivateKey) -> tuple[str, str]:
    token = jwt.encode(
        {"iss": TEAM_ID, "iat": int(time.time())},
        apns_key,
        algorithm="ES256",
        headers={"kid": KEY_ID},
    )
    return ("authorization", f"bearer {token}")


@pytest.fixture
async def transport(certs: FakeCertificates) -> AsyncIterator[CurlTransport]:
    curl = CurlTransport(ca_file=str(certs.ca_file), max_connections=2)
    yield curl
    await curl.aclose()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


BODY = b'{"aps":{"alert":"hi"}}'


async def test_post_gets_the_answer_with_headers(
    transport: CurlTransport, fake_apns: FakeApns, auth: tuple[str, str]
) -> None:
    url = f"{fake_apns.url}/3/device/{hex_tokens(1)[0]}"
    headers = [("apns-topic", TOPIC), ("apns-id", "0b0e5f3a-4a8e-4bd2-9e7b-0f5b6d7c8e9f"), auth]
    response = await transport.request("POST", url, headers, BODY, timeout_s=5)
    assert response.status == 200
    assert response.header("apns-id") == "0b0e5f3a-4a8e-4bd2-9e7b-0f5b6d7c8e9f"
    assert response.body == b""


async def test_error_answer_carries_its_json_body(
    transport: CurlTransport, fake_apns: FakeApns
) -> None:
    url = f"{fake_apns.url}/3/device/{hex_tokens(1)[0]}"
    response = await transport.request("POST", url, [("apns-topic", TOPIC)], BODY, timeout_s=5)
    assert (response.status, response.body) == (403, b'{"reason":"MissingProviderToken"}')


async def test_connection_refused_is_connect_failed_and_unsent(transport: CurlTransport) -> None:
    url = f"https://127.0.0.1:{closed_port()}/3/device/00"
    with pytest.raises(ConnectFailed) as caught:
        await transport.request("POST", url, [], BODY, timeout_s=5)
    assert caught.value.unsent


async def test_untrusted_server_certificate_is_connect_failed(fake_apns: FakeApns) -> None:
    curl = CurlTransport()  # system roots only: the fake's CA is not among them
    try:
        with pytest.raises(ConnectFailed):
            await curl.request("POST", f"{fake_apns.url}/3/device/00", [], BODY, timeout_s=5)
    finally:
        await curl.aclose()


async def test_total_timeout_ends_a_slow_answer(
    transport: CurlTransport, fake_apns: FakeApns, auth: tuple[str, str]
) -> None:
    url = f"{fake_apns.url}/3/device/{hex_tokens(1, '5105')[0]}"
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimedOut) as caught:
        await transport.request("POST", url, [("apns-topic", TOPIC), auth], BODY, timeout_s=0.5)
    assert 0.4 <= loop.time() - started < 1.5
    assert not caught.value.unsent


async def test_answer_over_the_size_limit_is_refused(
    certs: FakeCertificates, fake_apns: FakeApns
) -> None:
    curl = CurlTransport(ca_file=str(certs.ca_file), max_answer_bytes=8)
    try:
        with pytest.raises(ConnectionLost, match="larger"):
            await curl.request("POST", f"{fake_apns.url}/3/device/00", [], BODY, timeout_s=5)
    finally:
        await curl.aclose()


async def test_requests_past_the_window_wait_and_all_complete(
    certs: FakeCertificates, fake_apns: FakeApns, auth: tuple[str, str]
) -> None:
    curl = CurlTransport(ca_file=str(certs.ca_file), max_in_flight=5)
    headers = [("apns-topic", TOPIC), auth]
    try:
        urls = [f"{fake_apns.url}/3/device/{token}" for token in hex_tokens(60)]
        answers = await asyncio.gather(
            *(curl.request("POST", url, headers, BODY, timeout_s=10) for url in urls)
        )
    finally:
        await curl.aclose()
    assert [a.status for a in answers] == [200] * 60
    assert fake_apns.max_open_streams <= 5


async def test_closing_ends_open_and_queued_requests(
    certs: FakeCertificates, fake_apns: FakeApns, auth: tuple[str, str]
) -> None:
    fake_apns.plan.delay_s = 30.0
    curl = CurlTransport(ca_file=str(certs.ca_file), max_in_flight=2)
    answers: list[Answer] = []
    headers = [f"apns-topic: {TOPIC}", f"{auth[0]}: {auth[1]}"]
    for token in hex_tokens(4):
        curl.submit(f"{fake_apns.url}/3/device/{token}", headers, BODY, 30, answers.append)
    await wait_until(lambda: fake_apns.inbox.attempts.total() >= 2)
    assert curl.in_flight == 4
    await curl.aclose()
    kinds = sorted(type(answer).__name__ for answer in answers)
    assert kinds == ["ConnectionLost", "ConnectionLost", "Unprocessed", "Unprocessed"]
    assert all(isinstance(a, Unprocessed) == a.unsent for a in answers if not hasattr(a, "status"))
    late: list[Answer] = []
    curl.submit(f"{fake_apns.url}/3/device/00", headers, BODY, 5, late.append)
    assert [type(a) for a in late] == [ConnectFailed]


async def test_a_cancelled_request_is_aborted_and_the_transport_goes_on(
    transport: CurlTransport, fake_apns: FakeApns, auth: tuple[str, str]
) -> None:
    headers = [("apns-topic", TOPIC), auth]
    slow = f"{fake_apns.url}/3/device/{hex_tokens(1, '5105')[0]}"
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await transport.request("POST", slow, headers, BODY, timeout_s=10)
    assert transport.in_flight == 0
    fast = f"{fake_apns.url}/3/device/{hex_tokens(1)[0]}"
    response = await transport.request("POST", fast, headers, BODY, timeout_s=5)
    assert response.status == 200


async def test_a_batch_is_answered_by_tag_past_the_window(
    certs: FakeCertificates, fake_apns: FakeApns, auth: tuple[str, str]
) -> None:
    curl = CurlTransport(ca_file=str(certs.ca_file), max_in_flight=7)
    headers: list[str | bytes] = [f"apns-topic: {TOPIC}".encode(), f"{auth[0]}: {auth[1]}"]
    tokens = [*hex_tokens(40), *hex_tokens(1, "bad")]
    requests = [
        (f"{fake_apns.url}/3/device/{token}", headers, BODY, 100 + i)
        for i, token in enumerate(tokens)
    ]
    answers: dict[int, Answer] = {}
    try:
        curl.submit_batch(requests, 10, answers.__setitem__)
        assert curl.in_flight == 41
        await wait_until(lambda: len(answers) == 41)
    finally:
        await curl.aclose()
    statuses = {tag: getattr(answer, "status", None) for tag, answer in answers.items()}
    assert statuses == {**{100 + i: 200 for i in range(40)}, 140: 400}
    assert fake_apns.max_open_streams <= 7
    assert curl.in_flight == 0


async def test_closing_ends_a_waiting_batch_unsent(
    certs: FakeCertificates, fake_apns: FakeApns, auth: tuple[str, str]
) -> None:
    fake_apns.plan.delay_s = 30.0
    curl = CurlTransport(ca_file=str(certs.ca_file), max_in_flight=2)
    headers: list[str | bytes] = [f"apns-topic: {TOPIC}", f"{auth[0]}: {auth[1]}"]
    requests = [(f"{fake_apns.url}/3/device/{t}", headers, BODY, i) for i, t in enumerate("abcde")]
    answers: dict[int, Answer] = {}
    curl.submit_batch(requests, 30, answers.__setitem__)
    await wait_until(lambda: fake_apns.inbox.attempts.total() >= 2)
    await curl.aclose()
    kinds = {tag: type(answer).__name__ for tag, answer in answers.items()}
    assert kinds == {0: "ConnectionLost", 1: "ConnectionLost"} | dict.fromkeys(
        (2, 3, 4), "Unprocessed"
    )
    curl.submit_batch(requests[:1], 5, answers.__setitem__)
    assert type(answers[0]) is ConnectFailed


async def test_without_answer_headers_only_retry_after_is_kept(
    certs: FakeCertificates, fake_apns: FakeApns, auth: tuple[str, str]
) -> None:
    curl = CurlTransport(ca_file=str(certs.ca_file), answer_headers=False)
    url = f"{fake_apns.url}/3/device/"
    headers = [("apns-topic", TOPIC), ("apns-id", "0b0e5f3a-4a8e-4bd2-9e7b-0f5b6d7c8e9f"), auth]
    try:
        ok = await curl.request("POST", url + hex_tokens(1)[0], headers, BODY, timeout_s=5)
        again = await curl.request("POST", url + hex_tokens(2)[1], headers, BODY, timeout_s=5)
        limited = await curl.request(
            "POST", url + hex_tokens(1, "429")[0], headers, BODY, timeout_s=5
        )
        when = time.time() + 120  # an HTTP-date: libcurl turns it into seconds from now
        fake_apns.plan.fail_status = 503
        fake_apns.plan.fail_retry_after = formatdate(when, usegmt=True)
        later = await curl.request("POST", url + hex_tokens(1)[0], headers, BODY, timeout_s=5)
        fake_apns.plan.fail_retry_after = None
        bare = await curl.request("POST", url + hex_tokens(1)[0], headers, BODY, timeout_s=5)
    finally:
        await curl.aclose()
    assert (ok.status, ok.headers, ok.body) == (200, [], b"")
    assert again is ok  # a bare answer is shared, not built per request
    assert (limited.status, limited.headers) == (429, [("retry-after", "1")])
    assert json.loads(limited.body) == {"reason": "TooManyRequests"}
    assert later.status == 503
    assert 100 <= int(later.header("retry-after") or 0) <= 120
    assert (bare.status, bare.headers) == (503, [])


async def test_a_batch_deadline_ends_open_and_waiting_requests_at_once(
    certs: FakeCertificates, fake_apns: FakeApns, auth: tuple[str, str]
) -> None:
    fake_apns.plan.delay_s = 30.0
    curl = CurlTransport(ca_file=str(certs.ca_file), max_in_flight=1)
    headers: list[str | bytes] = [f"apns-topic: {TOPIC}", f"{auth[0]}: {auth[1]}"]
    requests = [(f"{fake_apns.url}/3/device/{t}", headers, BODY, i) for i, t in enumerate("abc")]
    answers: dict[int, Answer] = {}
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        curl.submit_batch(requests, 0.5, answers.__setitem__)
        await wait_until(lambda: len(answers) == 3)
        elapsed = loop.time() - started
        assert curl.in_flight == 0
    finally:
        await curl.aclose()
    assert 0.4 <= elapsed < 1.5
    assert [type(answers[tag]) for tag in range(3)] == [TimedOut, Unprocessed, Unprocessed]


async def test_an_origin_bound_transport_sends_paths_there_only(
    certs: FakeCertificates, fake_apns: FakeApns, auth: tuple[str, str]
) -> None:
    curl = CurlTransport(ca_file=str(certs.ca_file), origin=fake_apns.url)
    headers = [("apns-topic", TOPIC), auth]
    path = f"/3/device/{hex_tokens(1)[0]}"
    try:
        response = await curl.request("POST", fake_apns.url + path, headers, BODY, timeout_s=5)
        with pytest.raises(ConnectFailed):
            await curl.request("POST", f"https://127.0.0.1:1{path}", headers, BODY, timeout_s=5)
        answers: dict[int, Answer] = {}
        curl.submit_batch([(path, [f"apns-topic: {TOPIC}"], BODY, 7)], 5, answers.__setitem__)
        await wait_until(lambda: 7 in answers)
    finally:
        await curl.aclose()
    assert response.status == 200
    assert getattr(answers[7], "status", None) == 403  # no token: the fake's own refusal
    assert fake_apns.inbox.tokens() == [hex_tokens(1)[0]]
