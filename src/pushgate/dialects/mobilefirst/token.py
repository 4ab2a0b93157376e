"""MobileFirst's authorization server: `POST /mfp/api/az/v1/token` (OAuth 2.0 client
credentials, RFC 6749 section 4.4) for the confidential clients of /v1/apps/{app}/clients.

The client authenticates with HTTP Basic (client id and secret; form fields are accepted too)
and asks for scopes with `scope` (space-separated; absent: all of the client's). Errors are
RFC 6749's `{"error", "error_description"}`, which OAuth libraries parse.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from pushgate.dialects.mobilefirst.openapi import TAG
from pushgate.dialects.mobilefirst.requests import client_tokens
from pushgate.errors import Forbidden, InvalidInput, Unauthenticated
from pushgate.http.deps import RuntimeDep, decode_basic
from pushgate.http.dialect import Refusal, dialect_route
from pushgate.http.rate_limits import count_failure

PATH = "/mfp/api/az/v1/token"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class TokenOut(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    scope: str


class OAuthError(BaseModel):
    error: str
    error_description: str


def oauth_error(status: int, error: str, description: str) -> JSONResponse:
    headers = dict(_NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="mfp"'
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )


def _render(_request: Request, refusal: Refusal) -> Response:
    if refusal.status == 413:
        return oauth_error(413, "invalid_request", "the body is too large")
    if refusal.status >= 500:
        return oauth_error(500, "server_error", "internal error; it has been logged")
    return oauth_error(400, "invalid_request", refusal.message)


router = APIRouter(route_class=dialect_route(_render), tags=[TAG])


async def _form(request: Request) -> dict[str, str]:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ("application/x-www-form-urlencoded", ""):
        raise InvalidInput("send application/x-www-form-urlencoded")
    try:
        fields = parse_qs((await request.body()).decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        raise InvalidInput("the body is not UTF-8") from None
    return {name: values[0] for name, values in fields.items()}


@router.post(
    PATH,
    summary="Access token for a confidential client (client credentials)",
    response_model=TokenOut,
    responses={
        400: {
            "model": OAuthError,
            "description": "invalid_request, unsupported_grant_type, invalid_scope",
        },
        401: {"model": OAuthError, "description": "invalid_client"},
        413: {"model": OAuthError, "description": "Body too large"},
        500: {"model": OAuthError, "description": "server_error"},
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
        },
        "security": [{"Basic": []}],
    },
)
async def issue_token(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Exchange the client's id and secret for a bearer token with the requested scopes."""
    try:
        form = await _form(request)
    except InvalidInput as exc:
        return oauth_error(400, "invalid_request", exc.message)
    if form.get("grant_type") != "client_credentials":
        return oauth_error(400, "unsupported_grant_type", "only client_credentials is supported")
    client_id, secret = form.get("client_id"), form.get("client_secret")
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    try:
        if scheme.lower() == "basic":
            client_id, secret = decode_basic(value.strip())
        if not client_id or not secret:
            raise Unauthenticated("client authentication is required")
        issued = await client_tokens(runtime).issue(client_id, secret, form.get("scope"))
    except Unauthenticated as exc:
        count_failure(request, exc)  # answered here, not by the route class that counts
        return oauth_error(401, "invalid_client", "unknown client or wrong secret")
    except (Forbidden, InvalidInput) as exc:
        return oauth_error(400, "invalid_scope", exc.message)
    body = TokenOut(
        access_token=issued.access_token,
        token_type="Bearer",  # noqa: S106 - RFC 6749 token type
        expires_in=issued.expires_in,
        scope=issued.scope,
    )
    return JSONResponse(body.model_dump(), headers=_NO_STORE)


@router.api_route(
    PATH, methods=["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"], include_in_schema=False
)
async def other_method() -> JSONResponse:
    """Another method on the token endpoint: 405 in OAuth's shape."""
    response = oauth_error(405, "invalid_request", "the token endpoint takes POST only")
    response.headers["Allow"] = "POST"
    return response
