"""Fake FCM HTTP v1 with its OAuth token endpoint, on hypercorn over TLS (h2 and HTTP/1.1).

providers.md section 6 "FCM": `POST /token` is Google's service-account grant (fcm_oauth.py);
`POST /v1/projects/{p}/messages:send` checks the bearer (401 without FcmError), the project
(403 without FcmError), the message (400 INVALID_ARGUMENT, fcm_rules.py), then answers by
token prefix (behaviour.py) or scripted per-token error, and records what it accepted.
hypercorn serves it: FCM needs no frame-level control, unlike the APNs fake.

Not served: the topic-management APIs of providers.md 2.6 (nothing calls them yet), and the
ServerPlan fields that need frame or socket control (streams, GOAWAY, resets).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pushgate.fakes.behaviour import SLOW_DELAY_S, Behaviours, ServerPlan, TokenBehaviour
from pushgate.fakes.fcm_oauth import TokenIssuer
from pushgate.fakes.fcm_rules import (
    STATUS_ERROR_CODES,
    TOKEN_INVALID,
    Violation,
    check_request,
    fcm_error,
    rpc_error,
)
from pushgate.fakes.http_server import FakeHttpServer, FakeRequest, FakeResponse, ServedFake
from pushgate.fakes.inbox import Inbox, Received, utc_now
from pushgate.fakes.tls import FakeCertificates

Json = dict[str, Any]
_SEND_PATH = re.compile(r"^/v1/projects/([^/]+)/messages:send$")
_UNAUTHENTICATED = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential."
)


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: Json
    headers: list[tuple[str, str]] = field(default_factory=list)


class FakeFcm(ServedFake):
    """`async with FakeFcm(certs, inbox) as fake:` serves on `fake.url` until the block ends."""

    def __init__(
        self,
        certs: FakeCertificates,
        inbox: Inbox,
        plan: ServerPlan | None = None,
        *,
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.inbox = inbox
        self.plan = plan or ServerPlan()
        self.behaviours = Behaviours(self.plan)
        self.tokens = TokenIssuer(lambda: f"{self.url}/token", clock)
        # Scripted per-token answers: token -> FcmError errorCode (e.g. THIRD_PARTY_AUTH_ERROR).
        self.token_errors: dict[str, str] = {}
        # Tokens registered to a project: sent through another project -> SENDER_ID_MISMATCH.
        self.token_projects: dict[str, str] = {}
        self.reject_access_tokens = False  # every bearer refused: a revoked service account
        self.send_requests = 0
        self.http_versions: Counter[str] = Counter()  # "2", "1.1": what clients negotiated
        self._server = FakeHttpServer(
            self._handle,
            ssl_context=certs.server_context(("h2", "http/1.1")),
            host=host,
            port=port,
            too_large=None,  # answered as FCM does: see _route
            # hypercorn closes a connection after 1000 requests by default; FCM keeps it open.
            keep_alive_max_requests=2**62,
            h2_max_concurrent_streams=100,  # what Google's front end advertises [rep]
        )

    @property
    def token_requests(self) -> int:
        """POSTs to the token endpoint so far, granted or refused."""
        return self.tokens.requests

    def service_account(self, project_id: str) -> Json:
        """A service-account JSON for `project_id` whose `token_uri` is this fake, accepted here."""
        return self.tokens.create_account(project_id)

    def expire_access_tokens(self) -> None:
        """Every access token issued so far stops working (answers 401 without FcmError)."""
        self.tokens.expire_all()

    async def _handle(self, request: FakeRequest) -> FakeResponse | None:
        self.http_versions[request.http_version] += 1
        body = None if request.oversized else request.body
        headers = dict(request.headers)
        answer = await self._route(request.method, request.path, headers, body, request.connection)
        if self._server.closing.is_set():
            return None  # shutting down (a slow answer cut short): nothing is sent then
        headers_out = [("content-type", "application/json; charset=UTF-8"), *answer.headers]
        return FakeResponse(answer.status, headers_out, json.dumps(answer.body).encode())

    async def _route(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None, connection: int
    ) -> _Answer:
        if body is None:
            return _Answer(413, rpc_error(413, "INVALID_ARGUMENT", "Request too large."))
        send_path = _SEND_PATH.fullmatch(path)
        if path != "/token" and send_path is None:
            return _Answer(404, rpc_error(404, "NOT_FOUND", "Requested entity was not found."))
        if method != "POST":
            return _Answer(405, rpc_error(405, "METHOD_NOT_ALLOWED", "Method not allowed."))
        if send_path is None:
            granted = self.tokens.grant(body)
            return _Answer(granted.status, granted.body)
        return await self._send(send_path.group(1), headers, body, connection)

    async def _send(
        self, project: str, headers: dict[str, str], body: bytes, connection: int
    ) -> _Answer:
        self.send_requests += 1
        try:
            request = json.loads(body)
        except ValueError:
            return _Answer(
                400, rpc_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
            )
        message = request.get("message") if isinstance(request, dict) else None
        token = message.get("token") if isinstance(message, dict) else None
        if isinstance(token, str):
            self.inbox.attempts[token] += 1
        refused = self._check_caller(project, headers.get("authorization"))
        if refused is not None:
            return refused
        if self.plan.delay_s:
            await self._server.pause(self.plan.delay_s)
        if self.plan.fail_status is not None:
            return self._scripted(self.plan.fail_status, self.plan.fail_retry_after)
        violation = check_request(request)
        if violation is not None:
            return _error("INVALID_ARGUMENT", violation.description, violation)
        assert isinstance(message, dict)  # noqa: S101 - check_request refused anything else
        if isinstance(token, str):
            refused = await self._answer_token(token, project)
            if refused is not None:
                return refused
        if request.get("validate_only"):
            # A dry run: FCM validates and answers with this fixed name, delivering nothing.
            return _Answer(200, {"name": f"projects/{project}/messages/fake_message"})
        return self._accept(project, message, headers, connection)

    def _check_caller(self, project: str, authorization: str | None) -> _Answer | None:
        bearer = self.tokens.bearer(authorization)
        if bearer is None or self.reject_access_tokens:
            # Google's front end answers; FCM adds no FcmError detail (providers.md 2.4).
            return _Answer(401, rpc_error(401, "UNAUTHENTICATED", _UNAUTHENTICATED))
        if bearer.project_id != project:
            denied = f"Permission 'cloudmessaging.messages.create' denied on project {project}."
            return _Answer(403, rpc_error(403, "PERMISSION_DENIED", denied))
        return None

    def _scripted(self, status: int, retry_after: str | None) -> _Answer:
        headers = [("retry-after", retry_after)] if retry_after is not None else []
        error_code = STATUS_ERROR_CODES.get(status)
        if error_code is None:
            return _Answer(status, rpc_error(status, "UNKNOWN", "Scripted failure."), headers)
        status, body = fcm_error(error_code)
        return _Answer(status, body, headers)

    async def _answer_token(self, token: str, project: str) -> _Answer | None:
        behaviour = self.behaviours.decide(token)
        scripted = self.token_errors.get(token)
        if scripted is not None:
            return _error(scripted)
        owner = self.token_projects.get(token)
        if owner is not None and owner != project:
            return _error("SENDER_ID_MISMATCH")
        if behaviour is TokenBehaviour.DEAD:
            return _error("UNREGISTERED")
        if behaviour is TokenBehaviour.BAD:
            return _error(
                "INVALID_ARGUMENT", TOKEN_INVALID, Violation("message.token", TOKEN_INVALID)
            )
        if behaviour is TokenBehaviour.RATE_LIMITED_ONCE:
            status, body = fcm_error("QUOTA_EXCEEDED")
            return _Answer(status, body, [("retry-after", "1")])
        if behaviour is TokenBehaviour.SERVER_ERROR_ONCE:
            return _error("INTERNAL")
        if behaviour is TokenBehaviour.SLOW:
            await self._server.pause(SLOW_DELAY_S)
        return None

    def _accept(
        self, project: str, message: Json, headers: dict[str, str], connection: int
    ) -> _Answer:
        name = f"projects/{project}/messages/0:{time.time_ns()}%{secrets.token_hex(8)}"
        target = message.get("token") or message.get("condition") or f"/topics/{message['topic']}"
        kept = {k: v for k, v in headers.items() if k != "authorization"}  # never keep secrets
        self.inbox.record(
            Received("fcm", target, kept, message, utc_now(), connection, message_id=name)
        )
        return _Answer(200, {"name": name})


def _error(error_code: str, message: str | None = None, *violations: Violation) -> _Answer:
    status, body = fcm_error(error_code, message=message, violations=violations)
    return _Answer(status, body)
