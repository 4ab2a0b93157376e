"""OAuth2 client-credentials token endpoint (RFC 6749 section 4.4).

The client is an app API key: client_id is its alias, client_secret the key. Scopes are role
names; the token carries the granted ones. Errors use RFC 6749's shape, which OAuth client
libraries parse, not the native envelope.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from pushgate.errors import Forbidden, InvalidInput, Unauthenticated
from pushgate.http.deps import RuntimeDep, decode_basic
from pushgate.http.rate_limits import count_failure

router = APIRouter(tags=["oauth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    scope: str


class OAuthError(BaseModel):
    error: str
    error_description: str


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="pushgate"'
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )


async def _form(request: Request) -> dict[str, str]:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if media == "application/json":
        try:
            data = json.loads(raw or b"{}")
        except (ValueError, RecursionError):  # deeper than the parser goes: was a 500 (B4)
            raise InvalidInput("the body is not valid JSON") from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise InvalidInput("the body must be an object of strings")
        return data
    if media not in ("application/x-www-form-urlencoded", ""):
        raise InvalidInput("send application/x-www-form-urlencoded")
    try:
        fields = parse_qs(raw.decode(), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise InvalidInput("the body is not UTF-8") from None
    return {name: values[0] for name, values in fields.items()}


@router.post(
    "/oauth/token",
    response_model=TokenOut,
    responses={
        400: {
            "model": OAuthError,
            "description": "invalid_request / unsupported_grant_type / invalid_scope",
        },
        401: {"model": OAuthError, "description": "invalid_client"},
        413: {"description": "Body too large"},
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type"],
                        "properties": {
                            "grant_type": {"type": "string", "enum": ["client_credentials"]},
                            "scope": {"type": "string"},
                            "client_id": {"type": "string"},
                            "client_secret": {"type": "string"},
                        },
                    }
                }
            }
        }
    },
)
async def issue_token(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Exchange client credentials (Basic header or form fields) for a short-lived bearer token."""
    try:
        form = await _form(request)
    except InvalidInput as exc:
        return _oauth_error(400, "invalid_request", exc.message)
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "only client_credentials is supported")
    client_id, client_secret = form.get("client_id"), form.get("client_secret")
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    try:
        if scheme.lower() == "basic":
            client_id, client_secret = decode_basic(value.strip())
        if not client_id or not client_secret:
            raise Unauthenticated("client authentication is required")
        issued = await runtime.auth.issue_token(client_id, client_secret, form.get("scope"))
    except Unauthenticated as exc:
        count_failure(request, exc)  # answered here, not by the error handler that counts
        return _oauth_error(401, "invalid_client", "unknown client or wrong secret")
    except (Forbidden, InvalidInput) as exc:
        return _oauth_error(400, "invalid_scope", exc.message)
    body = TokenOut(
        access_token=issued.access_token,
        token_type="Bearer",  # noqa: S106 - RFC 6749 token type
        expires_in=issued.expires_in,
        scope=issued.scope,
    )
    return JSONResponse(
        body.model_dump(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"}
    )
