"""Settings: every PUSHGATE_* variable, validated once at start-up by the composition root."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
_PATH_SEGMENT = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
_PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "secret", "password", "admin", "test"})


class Settings(BaseSettings):
    """Runtime configuration; built in cli.py/app.py, never at import."""

    model_config = SettingsConfigDict(env_prefix="PUSHGATE_", extra="forbid")

    data_dir: Path = Path("./data")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default is a SQLite file in data_dir. "
        "postgresql:// and sqlite:// URLs get their async driver.",
    )
    admin_key: SecretStr | None = None
    master_key: SecretStr | None = Field(
        default=None, description="Fernet key that encrypts provider secrets at rest."
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Serve GET /metrics without credentials on 127.0.0.1 at this port",
    )
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)
    oauth_token_ttl_s: int = Field(default=900, ge=60, le=86400)
    auth_cache_ttl_s: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description="How long a verified key stays cached; bounds how late a revocation bites.",
    )
    # Rate limits of the API (docs/operations.md, "Rate limits"): a token bucket per API key,
    # OAuth client and app user; bench/registrations.py drives ~3,000 requests/s through one
    # key, so the default admits that with room to spare.
    api_rate_per_s: float = Field(
        default=5000.0,
        ge=0,
        description="Requests per second one key, OAuth client or app user may sustain "
        "(429 beyond it); 0: no limit",
    )
    api_burst: int = Field(
        default=10_000, ge=1, description="Requests one caller may make at once above the rate"
    )
    auth_failure_limit: int = Field(
        default=20,
        ge=0,
        description="Rejected credentials from one client address after which its requests "
        "get 429 until auth_failure_window_s has passed; 0: no limit",
    )
    auth_failure_window_s: float = Field(
        default=60.0, gt=0, le=86400, description="The window of auth_failure_limit"
    )
    # Loopback by default, like fail2ban's ignoreip: behind a reverse proxy on the same host
    # every client has the proxy's address, and one guesser would lock all of them out.
    auth_failure_exempt: list[str] = Field(
        default_factory=lambda: ["127.0.0.1/32", "::1/128"],
        description="Addresses or CIDR networks (JSON list) whose failed sign-ins are not "
        "counted (a reverse proxy's)",
    )
    # argon2id cost of app users' passwords (OWASP's minimum profile by default). Hashes keep
    # their own parameters, so changing these affects new passwords only.
    password_hash_memory_kib: int = Field(default=19456, ge=8, le=4 * 1024 * 1024)
    password_hash_passes: int = Field(default=2, ge=1, le=100)
    db_pool_size: int = Field(default=20, ge=1, le=500)
    log_level: str = "INFO"
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto", description="JSON lines; auto: console lines on a terminal, else JSON"
    )
    # Delivery
    worker: bool = Field(
        default=True, description="Run the delivery worker inside the API process (serve)"
    )
    queue: Literal["database", "redis"] = "database"
    redis_url: str | None = Field(
        default=None, description="Redis for PUSHGATE_QUEUE=redis (run it with appendonly yes)"
    )
    redis_prefix: str = Field(
        default="pushgate", pattern=r"^[A-Za-z0-9:_-]{1,64}$", description="Redis key prefix"
    )
    stall_s: float = Field(
        default=120.0,
        ge=5,
        le=86400,
        description="With the Redis queue: a notification without progress for this long "
        "is planned again (nothing recorded is sent twice)",
    )
    lease_s: float = Field(
        default=30.0, ge=1, le=3600, description="Job lease; a dead worker's work resumes after it"
    )
    send_timeout_s: float = Field(
        default=10.0, ge=0.5, le=300, description="Total deadline of one provider attempt"
    )
    inline_deadline_s: float = Field(
        default=5.0, ge=0, le=60, description="How long a send request waits for inline results"
    )
    shutdown_grace_s: float = Field(
        default=10.0,
        ge=0,
        le=3600,
        description="SIGTERM: requests and deliveries in flight may finish for this long; "
        "unfinished deliveries are then given back (lease released) and the process exits",
    )
    provider_ca_file: Path | None = Field(
        default=None, description="Extra CA certificates trusted for provider connections"
    )
    provider_endpoints: dict[str, str] = Field(
        default_factory=dict,
        description="Base URLs for providers whose credential names none, as JSON: apns, "
        "apns_sandbox, fcm, fcm_token (replaces a service account's token_uri), wns",
    )
    fake_credentials: Path | None = Field(
        default=None,
        description="A JSON file {provider: credential fields} used for apps without a "
        "credential of their own (set by serve --fake-providers)",
    )
    endpoint_allow_private: bool = Field(
        default=False,
        description="Let Web Push endpoints (and other tenant URLs) reach private addresses",
    )
    endpoint_allow_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts admitted for tenant URLs despite the private-address guard (JSON list)",
    )
    # TLS termination by `pushgate serve` itself, and X.509 client certificates (service keys
    # with a certificate, SAP seed): requested when a client CA is configured.
    tls_cert_file: Path | None = Field(
        default=None, description="Serve HTTPS with this certificate chain (PEM)"
    )
    tls_key_file: Path | None = Field(default=None, description="The private key of tls_cert_file")
    tls_client_ca_file: Path | None = Field(
        default=None,
        description="Request client certificates and verify them against these CAs (PEM)",
    )
    client_cert_header: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9-]{1,64}$",
        description="Behind a TLS-terminating proxy: the header carrying the client "
        "certificate it verified (URL-encoded PEM, PEM, base64 DER or Envoy XFCC)",
    )
    client_cert_proxies: list[str] = Field(
        default_factory=lambda: ["127.0.0.1/32", "::1/128"],
        description="Peers (addresses or CIDR networks, JSON list) whose client_cert_header "
        "is believed; from anyone else the header is ignored",
    )
    # The SAP Mobile Services dialect (seed 002).
    sap_service_paths: list[str] = Field(
        default_factory=list,
        description="Path prefixes the SAP API is also served under, e.g. the instance path "
        'of a service key URL: ["/5f9b5b8d-ffeb-4330-b607-638a0184a990"] (JSON list)',
    )
    sap_daily_quota: int | None = Field(
        default=None,
        ge=1,
        description="Notifications per app per 24 hours the SAP API accepts (SAP's trial "
        "quota: 429 beyond it); unset: no quota",
    )

    @model_validator(mode="after")
    def _redis_needs_url(self) -> Settings:
        if self.queue == "redis" and not self.redis_url:
            raise ValueError("PUSHGATE_QUEUE=redis needs PUSHGATE_REDIS_URL")
        return self

    @model_validator(mode="after")
    def _tls_files_together(self) -> Settings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("PUSHGATE_TLS_CERT_FILE and PUSHGATE_TLS_KEY_FILE go together")
        if self.tls_client_ca_file is not None and self.tls_cert_file is None:
            raise ValueError("PUSHGATE_TLS_CLIENT_CA_FILE needs PUSHGATE_TLS_CERT_FILE")
        return self

    @field_validator("client_cert_proxies", "auth_failure_exempt")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an address or CIDR network") from None
        return value

    @field_validator("sap_service_paths")
    @classmethod
    def _service_paths(cls, value: list[str]) -> list[str]:
        """ "/abc" or "/a/b": absolute, no trailing slash, no empty or dot segments."""
        for path in value:
            segments = path.split("/")[1:]
            if (
                not path.startswith("/")
                or not segments
                or any(s in ("", ".", "..") or not _PATH_SEGMENT.fullmatch(s) for s in segments)
            ):
                raise ValueError(
                    f"{path!r} must be a path such as /5f9b5b8d-ffeb-4330-b607-638a0184a990 "
                    "(absolute, no trailing slash, letters, digits and ._~- only)"
                )
        return value

    @field_validator("admin_key", "master_key")
    @classmethod
    def _refuse_placeholders(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip().lower() in _PLACEHOLDER_SECRETS:
            raise ValueError("is a placeholder; set a real random secret")
        return value

    def resolved_database_url(self) -> str:
        """The database URL with the async driver filled in."""
        url = self.database_url or f"sqlite:///{self.data_dir / 'pushgate.db'}"
        return async_database_url(url)


def async_database_url(url: str) -> str:
    """Add the async driver to a plain postgresql:// or sqlite:// URL."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url
