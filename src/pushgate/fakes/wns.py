"""Fake WNS: the accesstoken.srf token endpoint and the notify endpoint, over TLS.

Wire rules from Microsoft's "Push notification service request and response headers" page
(providers.md section 4). Channels are https://127.0.0.1:<port>/w/<channel>; the channel's
prefix picks the answer (fakes/behaviour.py) plus two WNS-only prefixes:

| channel prefix | answer |
|---|---|
| `dead` | 410 Gone (channel expired) |
| `bad` | 404 Not Found (unknown channel) |
| `429` | 429 with Retry-After: 1 once, then accepted |
| `500` | 500 once, then accepted |
| `5105` | accepted after 5 s |
| `dropped` | 200 with X-WNS-Status: dropped (device offline / app disabled toasts) |
| `throttled` | 200 with X-WNS-Status: channelthrottled |

ServerPlan.fail_status answers every notify request with that status (401, 406, 503...),
with Retry-After when fail_retry_after is set; ServerPlan.delay_s delays every answer.
"""

from __future__ import annotations

import base64
import re
import secrets
import time
from collections.abc import Callable
from urllib.parse import parse_qs

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from pushgate.fakes.behaviour import SLOW_DELAY_S, Behaviours, ServerPlan, TokenBehaviour
from pushgate.fakes.http_server import FakeHttpServer, FakeRequest, FakeResponse, ServedFake
from pushgate.fakes.inbox import Inbox, Received, utc_now
from pushgate.fakes.tls import FakeCertificates

PAYLOAD_LIMIT = 5000  # WNS: "413 ... the notification payload exceeds the 5000 byte size limit"
TAG_LIMIT = 16  # X-WNS-Tag: "optional strings of up to 16 characters" (tile notification queue)
TOKEN_LIFETIME_S = 86400  # login.live.com's example answer: expires_in 86400
SCOPE = "notify.windows.com"
XML_TYPES = {"wns/toast": "toast", "wns/tile": "tile", "wns/badge": "badge"}
RAW = "wns/raw"
_CHANNEL_PATH = re.compile(r"^/w/([A-Za-z0-9._~-]{1,200})$")
# Headers worth keeping in the ledger: the ones the adapter chose.
_RECORDED = ("content-type", "x-wns-type", "x-wns-ttl", "x-wns-tag", "x-wns-cache-policy")

# Answers of the token prefixes (status, X-WNS-Error-Description).
_BEHAVIOUR_ANSWERS: dict[TokenBehaviour, tuple[int, str]] = {
    TokenBehaviour.DEAD: (410, "The channel expired"),
    TokenBehaviour.BAD: (404, "The channel URI is not valid or is not recognized by WNS"),
    TokenBehaviour.RATE_LIMITED_ONCE: (429, "Too many requests"),
    TokenBehaviour.SERVER_ERROR_ONCE: (500, "An internal failure caused notification delivery"),
}
_STATUS_PREFIXES = (("dropped", "dropped"), ("throttled", "channelthrottled"))


def _error(status: int, description: str, *extra: tuple[str, str]) -> FakeResponse:
    return FakeResponse(status, [("x-wns-error-description", description), *extra])


class FakeWns(ServedFake):
    """`async with FakeWns(certs, inbox) as fake:` then point the adapter at fake.token_url."""

    def __init__(
        self,
        certs: FakeCertificates,
        inbox: Inbox,
        plan: ServerPlan | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token_lifetime_s: int = TOKEN_LIFETIME_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inbox = inbox
        self.plan = plan if plan is not None else ServerPlan()
        self._behaviours = Behaviours(self.plan)
        self._clients: dict[str, str] = {}  # client_id (Package SID) -> client_secret
        self._tokens: dict[str, float] = {}  # access token -> expiry on `clock`
        self._token_lifetime_s = token_lifetime_s
        self._clock = clock
        self.token_requests = 0  # every request to accesstoken.srf, granted or not
        self.token_fail_status: int | None = None  # scripted token-endpoint outage (e.g. 503)
        context = certs.server_context(alpn=("h2", "http/1.1"))
        self._server = FakeHttpServer(self._handle, ssl_context=context, host=host, port=port)

    @property
    def token_url(self) -> str:
        return f"{self.url}/accesstoken.srf"

    def register_client(self, client_id: str, client_secret: str) -> None:
        self._clients[client_id] = client_secret

    def channel(self, prefix: str = "") -> str:
        """A new channel URI; its prefix chooses the fake's answer (module docstring).

        "ch" follows the prefix so that random hex never starts a behaviour by chance
        (a bare hex id begins with "429", "500" or "bad" about once in 1,400 channels)."""
        return f"{self.url}/w/{prefix}ch{secrets.token_hex(12)}"

    def issued_tokens(self) -> list[str]:
        """The access tokens currently valid (tests check none of them leaks into logs)."""
        return list(self._tokens)

    def revoke_tokens(self) -> None:
        """Every access token issued so far stops working (the next notify answers 401)."""
        self._tokens.clear()

    async def _handle(self, request: FakeRequest) -> FakeResponse:
        if request.path == "/accesstoken.srf":
            return self._token(request)
        match = _CHANNEL_PATH.match(request.path)
        if match is None:
            return _error(404, "The channel URI is not valid or is not recognized by WNS")
        return await self._notify(request, match.group(1))

    def _token(self, request: FakeRequest) -> FakeResponse:
        self.token_requests += 1
        if self.token_fail_status is not None:
            return FakeResponse.json(self.token_fail_status, {"error": "temporarily_unavailable"})
        if request.method != "POST":
            return FakeResponse(405)
        content_type = (request.header("content-type") or "").split(";")[0].strip()
        if content_type != "application/x-www-form-urlencoded":
            return self._oauth_error("invalid_request", "form-encoded body required")
        try:
            form = parse_qs(request.body.decode(), strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            return self._oauth_error("invalid_request", "malformed form body")
        fields = {name: values[0] for name, values in form.items() if len(values) == 1}
        if fields.get("grant_type") != "client_credentials":
            return self._oauth_error(
                "unsupported_grant_type", "grant_type must be client_credentials"
            )
        if fields.get("scope") != SCOPE:
            return self._oauth_error("invalid_scope", f"scope must be {SCOPE}")
        known = self._clients.get(fields.get("client_id", ""))
        given = fields.get("client_secret", "")
        if known is None or not secrets.compare_digest(known.encode(), given.encode()):
            return self._oauth_error("invalid_client", "client authentication failed")
        token = base64.b64encode(secrets.token_bytes(36)).decode()
        self._tokens[token] = self._clock() + self._token_lifetime_s
        document = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": self._token_lifetime_s,
        }
        return FakeResponse.json(200, document, [("cache-control", "no-store")])

    @staticmethod
    def _oauth_error(code: str, description: str) -> FakeResponse:
        # WNS: "400 Bad Request: authentication failed", body per the OAuth 2.0 draft.
        return FakeResponse.json(400, {"error": code, "error_description": description})

    def _authorized(self, request: FakeRequest) -> bool:
        scheme, token = request.authorization()
        expiry = self._tokens.get(token)
        return scheme == "bearer" and expiry is not None and self._clock() < expiry

    async def _notify(self, request: FakeRequest, channel: str) -> FakeResponse:
        self.inbox.attempts[channel] += 1
        if self.plan.delay_s:
            await self._server.pause(self.plan.delay_s)
        if request.method != "POST":
            return _error(405, "Only POST is supported")
        if self.plan.fail_status is not None:
            retry = self.plan.fail_retry_after
            extra = (("retry-after", retry),) if retry else ()
            return _error(self.plan.fail_status, "Scripted failure", *extra)
        if not self._authorized(request):
            return _error(401, "The access token is invalid or expired")
        refusal = check_notification(request)
        if refusal is not None:
            return refusal
        return await self._answer_channel(request, channel)

    async def _answer_channel(self, request: FakeRequest, channel: str) -> FakeResponse:
        for prefix, status in _STATUS_PREFIXES:
            if channel.startswith(prefix):
                return FakeResponse(200, [("x-wns-status", status)])
        behaviour = self._behaviours.decide(channel)
        answer = _BEHAVIOUR_ANSWERS.get(behaviour)
        if answer is not None:
            retry = (("retry-after", "1"),) if behaviour is TokenBehaviour.RATE_LIMITED_ONCE else ()
            return _error(*answer, *retry)
        if behaviour is TokenBehaviour.SLOW:
            await self._server.pause(SLOW_DELAY_S)
        message_id = secrets.token_hex(8).upper()
        self.inbox.record(
            Received(
                "wns",
                channel,
                {name: value for name, value in request.headers if name in _RECORDED},
                _payload_text(request),
                utc_now(),
                message_id=message_id,
            )
        )
        return FakeResponse(
            200,
            [
                ("x-wns-status", "received"),
                ("x-wns-msg-id", message_id),
                ("x-wns-deviceconnectionstatus", "connected"),
            ],
        )


def _payload_text(request: FakeRequest) -> str:
    """XML as text; a raw body as UTF-8 text, or base64 when it is not UTF-8."""
    try:
        return request.body.decode()
    except UnicodeDecodeError:
        return base64.b64encode(request.body).decode()


def check_notification(request: FakeRequest) -> FakeResponse | None:
    """The 400/413 a real WNS gives for bad headers or body, or None when it is acceptable."""
    for name in ("x-wns-type", "content-type", "x-wns-ttl", "x-wns-tag", "x-wns-cache-policy"):
        if request.header_count(name) > 1:
            return _error(400, f"Duplicate header {name}")
    kind = request.header("x-wns-type")
    if kind not in XML_TYPES and kind != RAW:
        return _error(400, "X-WNS-Type must be wns/toast, wns/tile, wns/badge or wns/raw")
    content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
    expected = "application/octet-stream" if kind == RAW else "text/xml"
    if content_type != expected:
        return _error(400, f"Content-Type must be {expected} for {kind}")
    refusal = _check_optional_headers(request, kind)
    if refusal is not None:
        return refusal
    if not request.body:
        return _error(400, "The notification payload is empty")
    if len(request.body) > PAYLOAD_LIMIT:
        return _error(413, f"The notification payload exceeds the {PAYLOAD_LIMIT} byte limit")
    if kind in XML_TYPES:
        return _check_xml(request.body, XML_TYPES[kind])
    return None


def _check_optional_headers(request: FakeRequest, kind: str) -> FakeResponse | None:
    ttl = request.header("x-wns-ttl")
    if ttl is not None and not ttl.isdigit():
        return _error(400, "X-WNS-TTL must be a whole number of seconds")
    tag = request.header("x-wns-tag")
    if tag is not None:
        if kind not in ("wns/toast", "wns/tile"):
            return _error(400, "X-WNS-Tag applies to toast and tile notifications only")
        if not 0 < len(tag) <= TAG_LIMIT:
            return _error(400, f"X-WNS-Tag must be 1 to {TAG_LIMIT} characters")
    policy = request.header("x-wns-cache-policy")
    if policy is not None and policy not in ("cache", "no-cache"):
        return _error(400, "X-WNS-Cache-Policy must be cache or no-cache")
    return None


def _check_xml(body: bytes, root_name: str) -> FakeResponse | None:
    try:
        root = fromstring(body)
    except (ParseError, DefusedXmlException):
        return _error(400, "The XML payload is not well-formed")
    if root.tag != root_name:
        return _error(400, f"The XML payload's root element must be <{root_name}>")
    return None
