"""The fake FCM's OAuth 2.0 token endpoint: Google's service-account jwt-bearer grant.

providers.md 2.2: the client posts `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`
and an RS256 assertion signed with the service account's key; Google answers with a bearer
access token valid for 3599 s, or `400 {"error": "invalid_grant"}`. google-auth posts to the
service-account file's `token_uri` but always sets `aud` to Google's URL, so both audiences
are accepted (providers.md section 6).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Either scope lets a service account send through FCM HTTP v1 (providers.md 2.2).
SEND_SCOPES = frozenset(
    {
        "https://www.googleapis.com/auth/firebase.messaging",
        "https://www.googleapis.com/auth/cloud-platform",
    }
)
MAX_ASSERTION_LIFETIME_S = 3600  # Google refuses assertions with exp - iat above one hour
CLOCK_LEEWAY_S = 60  # [fake-policy] tolerated skew between the client's clock and ours
ACCESS_TOKEN_LIFETIME_S = 3599  # what Google's token endpoint answers as expires_in
# Google's wording for an assertion outside its time window.
_TIME_WINDOW = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
    "timeframe. Check your iat and exp values in the JWT claim."
)

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    project_id: str
    client_email: str
    private_key_id: str
    public_key: rsa.RSAPublicKey


@dataclass(frozen=True, slots=True)
class AccessToken:
    client_email: str
    project_id: str
    expires_at: float  # the fake's clock


@dataclass(frozen=True, slots=True)
class TokenAnswer:
    status: int
    body: Json


class TokenIssuer:
    """Registered service accounts, the grants they get, and the access tokens in force."""

    def __init__(self, token_url: Callable[[], str], clock: Callable[[], float]) -> None:
        self._token_url = token_url  # the fake's own /token URL, known once it listens
        self._clock = clock
        self._accounts: dict[str, ServiceAccount] = {}  # client_email -> account
        self._tokens: dict[str, AccessToken] = {}
        self.requests = 0  # every POST to the token endpoint, granted or refused
        self.granted = 0

    def create_account(self, project_id: str) -> Json:
        """A new service-account JSON (its RSA key registered here), as Google would issue it."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        key_id = secrets.token_hex(20)
        email = f"pushgate-fake-{secrets.token_hex(4)}@{project_id}.iam.gserviceaccount.com"
        self._accounts[email] = ServiceAccount(project_id, email, key_id, key.public_key())
        return {
            "type": "service_account",
            "project_id": project_id,
            "private_key_id": key_id,
            "private_key": pem,
            "client_email": email,
            "client_id": str(secrets.randbelow(10**20)),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self._token_url(),
            "universe_domain": "googleapis.com",
        }

    def grant(self, form_body: bytes) -> TokenAnswer:
        """Answer one token request: the access token, or Google's OAuth error body."""
        self.requests += 1
        form = {k: v[-1] for k, v in parse_qs(form_body.decode(errors="replace")).items()}
        if form.get("grant_type") != JWT_BEARER_GRANT:
            return _oauth_error("unsupported_grant_type", "Invalid grant_type.")
        assertion = form.get("assertion")
        if not assertion:
            return _oauth_error("invalid_request", "Missing required parameter: assertion")
        checked = self._check_assertion(assertion)
        if isinstance(checked, TokenAnswer):
            return checked
        access_token = "ya29.fake-" + secrets.token_urlsafe(32)
        expires_at = self._clock() + ACCESS_TOKEN_LIFETIME_S
        self._tokens[access_token] = AccessToken(
            checked.client_email, checked.project_id, expires_at
        )
        self.granted += 1
        body = {
            "access_token": access_token,
            "expires_in": ACCESS_TOKEN_LIFETIME_S,
            "token_type": "Bearer",
        }
        return TokenAnswer(200, body)

    def _check_assertion(self, assertion: str) -> ServiceAccount | TokenAnswer:
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return _oauth_error("invalid_grant", "Invalid JWT.")
        account = self._accounts.get(str(unverified.get("iss")))
        if account is None:
            return _oauth_error("invalid_grant", "Invalid grant: account not found")
        if header.get("alg") != "RS256" or header.get("kid") not in (None, account.private_key_id):
            return _oauth_error("invalid_grant", "Invalid JWT Signature.")
        try:
            claims = jwt.decode(
                assertion,
                account.public_key,
                algorithms=["RS256"],
                audience=[GOOGLE_TOKEN_URL, self._token_url()],
                issuer=account.client_email,
                # Times are checked below against the fake's (injectable) clock.
                options={
                    "require": ["iss", "aud", "iat", "exp"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidSignatureError:
            return _oauth_error("invalid_grant", "Invalid JWT Signature.")
        except jwt.PyJWTError as exc:
            return _oauth_error("invalid_grant", f"Invalid JWT: {type(exc).__name__}")
        return self._check_times_and_scope(account, claims)

    def _check_times_and_scope(
        self, account: ServiceAccount, claims: Json
    ) -> ServiceAccount | TokenAnswer:
        issued, expires = claims["iat"], claims["exp"]
        if not isinstance(issued, int | float) or not isinstance(expires, int | float):
            return _oauth_error("invalid_grant", _TIME_WINDOW)
        now = self._clock()
        too_long = expires - issued > MAX_ASSERTION_LIFETIME_S
        if too_long or expires <= issued or issued > now + CLOCK_LEEWAY_S or expires < now:
            return _oauth_error("invalid_grant", _TIME_WINDOW)
        scopes = set(str(claims.get("scope", "")).split())
        if not scopes & SEND_SCOPES:
            return _oauth_error("invalid_scope", "Scope does not allow sending messages.")
        return account

    def bearer(self, authorization: str | None) -> AccessToken | None:
        """The access token an `Authorization: Bearer ...` header carries, if still valid."""
        if authorization is None or not authorization.startswith("Bearer "):
            return None
        token = self._tokens.get(authorization.removeprefix("Bearer ").strip())
        if token is None or token.expires_at <= self._clock():
            return None
        return token

    def expire_all(self) -> None:
        """Invalidate every access token issued so far (revocation, server-side expiry)."""
        self._tokens.clear()


def _oauth_error(error: str, description: str) -> TokenAnswer:
    return TokenAnswer(400, {"error": error, "error_description": description})
