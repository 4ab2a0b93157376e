"""Fake SMS gateway over TLS: Twilio's Messages resource, plus a generic endpoint for templates.

`POST /2010-04-01/Accounts/<AccountSid>/Messages.json`, form `To`, `From`, `Body`, HTTP Basic
with the account SID and auth token (register_account): 201 with Twilio's JSON (`sid` SM...),
errors as Twilio's `{"code", "message", "more_info", "status"}`.
`/generic` takes the same message as form or JSON POST or GET query, fields `to`, `from`,
`text`, with a registered bearer token (register_bearer) or, when none is registered, no
auth; it answers 200 `{"id": ...}`. Both record into the Inbox as provider "sms".

Phone numbers are digits, so the behaviours (fakes/behaviour.py) are chosen by the digits
after the "+":

| number starts | answer |
|---|---|
| `+5105` | accepted after 5 s |
| `+429` | 429 once (Retry-After: 1, code 20429), then accepted |
| `+500` | 500 once, then accepted |
| `+410` | the "dead" number: 400 code 21610 (recipient unsubscribed, replied STOP) |
| `+400` | the "bad" number: 400 code 21211 (invalid To number) |
| anything else, e.g. `+15550001234` | accepted |
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from urllib.parse import parse_qs

from pushgate.fakes.behaviour import SLOW_DELAY_S, Behaviours, ServerPlan, TokenBehaviour
from pushgate.fakes.http_server import FakeHttpServer, FakeRequest, FakeResponse, ServedFake
from pushgate.fakes.inbox import Inbox, Received, utc_now
from pushgate.fakes.tls import FakeCertificates

BODY_LIMIT = 1600  # Twilio error 21617: the concatenated message body exceeds 1600 characters
_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
_TWILIO_PATH = re.compile(r"^/2010-04-01/Accounts/([A-Za-z0-9]{1,64})/Messages\.json$")
# Digits that stand for the word prefixes of fakes/behaviour.py (module docstring's table).
_DIGIT_WORDS = {"410": "dead", "400": "bad"}
_BEHAVIOUR_ERRORS: dict[TokenBehaviour, tuple[int, int, str]] = {
    TokenBehaviour.DEAD: (400, 21610, "Attempt to send to unsubscribed recipient"),
    TokenBehaviour.BAD: (400, 21211, "Invalid 'To' Phone Number"),
    TokenBehaviour.RATE_LIMITED_ONCE: (429, 20429, "Too Many Requests"),
    TokenBehaviour.SERVER_ERROR_ONCE: (500, 20500, "Internal Server Error"),
}


def twilio_error(
    status: int, code: int, message: str, headers: tuple[tuple[str, str], ...] = ()
) -> FakeResponse:
    document = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return FakeResponse.json(status, document, headers)


def behaviour_key(number: str) -> str:
    """The token fakes/behaviour.py reads for `number`: digit prefixes mapped to its words."""
    digits = number.removeprefix("+")
    return _DIGIT_WORDS.get(digits[:3], "") + digits


def _form(request: FakeRequest) -> dict[str, str] | None:
    """Single-valued form fields of a body, a query string or a JSON object; None if unreadable."""
    content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
    try:
        if request.method == "GET":
            raw = parse_qs(request.query)
        elif content_type == "application/json":
            document = json.loads(request.body)
            if not isinstance(document, dict):
                return None
            return {str(k): str(v) for k, v in document.items()}
        elif content_type == "application/x-www-form-urlencoded":
            raw = parse_qs(request.body.decode())
        else:
            return None
    except (UnicodeDecodeError, ValueError):
        return None
    return {name: values[-1] for name, values in raw.items()}


class FakeSmsGateway(ServedFake):
    """`async with FakeSmsGateway(certs, inbox) as fake:` then `fake.twilio_url(sid)`."""

    def __init__(
        self,
        certs: FakeCertificates,
        inbox: Inbox,
        plan: ServerPlan | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.inbox = inbox
        self.plan = plan if plan is not None else ServerPlan()
        self._behaviours = Behaviours(self.plan)
        self._accounts: dict[str, str] = {}  # account SID -> auth token
        self._bearers: set[str] = set()
        context = certs.server_context(alpn=("h2", "http/1.1"))
        self._server = FakeHttpServer(self._handle, ssl_context=context, host=host, port=port)

    @property
    def generic_url(self) -> str:
        return f"{self.url}/generic"

    def twilio_url(self, account_sid: str) -> str:
        return f"{self.url}/2010-04-01/Accounts/{account_sid}/Messages.json"

    def register_account(self, account_sid: str, auth_token: str) -> None:
        self._accounts[account_sid] = auth_token

    def register_bearer(self, token: str) -> None:
        self._bearers.add(token)

    async def _handle(self, request: FakeRequest) -> FakeResponse:
        match = _TWILIO_PATH.match(request.path)
        if request.path == "/generic":
            return await self._generic(request)
        if match is None:
            return twilio_error(404, 20404, "The requested resource was not found")
        if request.method != "POST":
            return twilio_error(405, 20004, "Method not allowed")
        if not self._basic_ok(request, match.group(1)):
            return twilio_error(401, 20003, "Authenticate", (("www-authenticate", "Basic"),))
        form = _form(request)
        if form is None:
            return twilio_error(400, 21600, "The body must be form-encoded")
        return await self._message(request, form.get("To"), form.get("From"), form.get("Body"))

    def _basic_ok(self, request: FakeRequest, account_sid: str) -> bool:
        scheme, encoded = request.authorization()
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        known = self._accounts.get(account_sid)
        return (
            scheme == "basic"
            and user == account_sid
            and known is not None
            and secrets.compare_digest(known.encode(), password.encode())
        )

    async def _generic(self, request: FakeRequest) -> FakeResponse:
        if request.method not in ("GET", "POST"):
            return twilio_error(405, 20004, "Method not allowed")
        if self._bearers:
            scheme, token = request.authorization()
            if scheme != "bearer" or token not in self._bearers:
                return twilio_error(401, 20003, "Authenticate")
        form = _form(request)
        if form is None:
            return twilio_error(400, 21600, "Send form fields, a JSON object or a query string")
        answer = await self._message(request, form.get("to"), form.get("from"), form.get("text"))
        if answer.status != 201:
            return answer
        return FakeResponse.json(200, {"id": json.loads(answer.body)["sid"]})

    async def _message(
        self, request: FakeRequest, to: str | None, sender: str | None, body: str | None
    ) -> FakeResponse:
        """Twilio's checks in order, then the number's behaviour, then the ledger."""
        if to is None or not _E164.fullmatch(to):
            return twilio_error(400, 21211, "Invalid 'To' Phone Number")
        self.inbox.attempts[to] += 1
        if self.plan.delay_s:
            await self._server.pause(self.plan.delay_s)
        if self.plan.fail_status is not None:
            retry = self.plan.fail_retry_after
            extra = (("retry-after", retry),) if retry else ()
            return twilio_error(self.plan.fail_status, 20500, "Scripted failure", extra)
        if not sender:
            return twilio_error(400, 21603, "A 'From' phone number is required")
        if not body:
            return twilio_error(400, 21602, "Message body is required")
        if len(body) > BODY_LIMIT:
            return twilio_error(400, 21617, "The concatenated message body exceeds 1600 characters")
        behaviour = self._behaviours.decide(behaviour_key(to))
        error = _BEHAVIOUR_ERRORS.get(behaviour)
        if error is not None:
            once = behaviour is TokenBehaviour.RATE_LIMITED_ONCE
            return twilio_error(*error, (("retry-after", "1"),) if once else ())
        if behaviour is TokenBehaviour.SLOW:
            await self._server.pause(SLOW_DELAY_S)
        return self._accept(request, to, sender, body)

    def _accept(self, request: FakeRequest, to: str, sender: str, body: str) -> FakeResponse:
        sid = "SM" + secrets.token_hex(16)
        headers = {k: v for k, v in request.headers if k == "content-type"}
        payload = {"from": sender, "body": body}
        self.inbox.record(Received("sms", to, headers, payload, utc_now(), message_id=sid))
        document = {
            "sid": sid,
            "status": "queued",
            "to": to,
            "from": sender,
            "body": body,
            "num_segments": str(max(1, -(-len(body) // 153))),
        }
        return FakeResponse.json(201, document)
