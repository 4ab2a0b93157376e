"""The operator commands' side of HTTP: options, the API client, one-line errors, output.

The client commands (apps, keys, credentials, registrations, send, status) talk to a running
server over its native API, like any other client: they import nothing of the server (an
import-linter contract in pyproject.toml keeps it so), so they work against a remote
deployment exactly as against a local one.

Exit codes: 0 done; 1 the server refused the request (4xx) or the input is wrong (a missing
file, rejected rows); 2 usage (typer's); 3 the server is unreachable or failed (5xx).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar

import httpx2
import typer
from rich.console import Console
from rich.table import Table

from pushgate import __version__

DEFAULT_URL = "http://127.0.0.1:8080"
TIMEOUT_S = 60.0  # a 1,000-row import batch on a busy SQLite answers well within this

UrlOption = Annotated[
    str,
    typer.Option(
        "--url", envvar="PUSHGATE_URL", help="The pushgate server", show_default=DEFAULT_URL
    ),
]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--key",
        envvar="PUSHGATE_KEY",
        help="The admin key or an app key (X-API-Key)",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts)")]

err = Console(stderr=True, soft_wrap=True, highlight=False)
out = Console(soft_wrap=True, highlight=False)

JsonObject = dict[str, Any]
P = ParamSpec("P")
R = TypeVar("R")


class CliError(Exception):
    """One line for the operator: what was wrong and what to do; and the exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a CliError into one line on stderr and its exit code (typer keeps the signature)."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except CliError as exc:
            err.print(f"[red]error:[/] {exc.message}")
            raise typer.Exit(exc.code) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None

    return run


def fail(message: str, code: int = 1) -> NoReturn:
    raise CliError(message, code)


def client_options(url: str, key: str | None) -> dict[str, Any]:
    if key is None or not key.strip():
        fail("no API key: pass --key or set PUSHGATE_KEY (the admin key or an app key)")
    if not url.startswith(("http://", "https://")):
        fail(f"--url must start with http:// or https:// (got {url!r})", 2)
    ca_file = os.environ.get("PUSHGATE_CA_FILE")  # a server with a private CA (serve --tls-*)
    return {
        "base_url": url.rstrip("/"),
        "headers": {"X-API-Key": key.strip(), "User-Agent": f"pushgate-cli/{__version__}"},
        "timeout": httpx2.Timeout(TIMEOUT_S, connect=10.0),
        "verify": ca_file or True,
        # Proxies from the environment would route loopback calls astray; say --url instead.
        "trust_env": False,
        "follow_redirects": False,
    }


def describe_failure(response: httpx2.Response, url: str) -> CliError:
    """The server's own error message, with what to do about the status."""
    status = response.status_code
    message, field = _error_of(response)
    where = f" (field {field})" if field else ""
    if status == 401:
        return CliError(
            f"the server refused the key: {message}; check --key / PUSHGATE_KEY (HTTP 401)"
        )
    if status == 403:
        return CliError(
            f"{message}{where}; use a key of this app with the needed role, or the admin key "
            "(HTTP 403)"
        )
    if status == 404:
        return CliError(f"{message}{where} (HTTP 404)")
    if status == 413:
        return CliError(f"{message}; send less at once (HTTP 413)")
    if status == 503:
        return CliError(f"{message}; the server's database is unavailable, retry shortly", 3)
    if status >= 500:
        return CliError(f"the server failed ({status}): {message}; see its log at {url}", 3)
    return CliError(f"{message}{where} (HTTP {status})")


def _error_of(response: httpx2.Response) -> tuple[str, str | None]:
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip().splitlines()
        return (text[0][:200] if text else response.reason_phrase or "no message"), None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or "refused"), error.get("field")
    if isinstance(error, str):  # OAuth's shape
        return str(body.get("error_description") or error), None
    return "refused", None


def unreachable(url: str, exc: Exception) -> CliError:
    reason = str(exc).strip() or type(exc).__name__
    if isinstance(exc, httpx2.TimeoutException):
        return CliError(f"pushgate at {url} did not answer in time ({reason}); retry later", 3)
    return CliError(
        f"cannot reach pushgate at {url} ({reason}); is it running? (set --url or PUSHGATE_URL)",
        3,
    )


class Api:
    """A synchronous client of the native API for one command run."""

    def __init__(self, url: str, key: str | None) -> None:
        kwargs = client_options(url, key)
        self.url = kwargs["base_url"]
        self._client = httpx2.Client(**kwargs)

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._client.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """The JSON answer of a 2xx; else a CliError naming what was wrong."""
        try:
            response = self._client.request(
                method,
                path,
                json=body,
                params={k: v for k, v in (params or {}).items() if v is not None},
                headers=dict(headers or {}),
            )
        except httpx2.HTTPError as exc:
            raise unreachable(self.url, exc) from None
        if response.status_code >= 400:
            raise describe_failure(response, self.url)
        return response.json() if response.content else None

    def pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterable[JsonObject]:
        """Every item of a paged list (`items` + `next_cursor`)."""
        query = dict(params or {})
        while True:
            page = self.call("GET", path, params=query)
            yield from page["items"]
            if not page.get("next_cursor"):
                return
            query["cursor"] = page["next_cursor"]


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def print_table(columns: list[str], rows: Iterable[Iterable[Any]], *, title: str = "") -> None:
    table = Table(title=title or None, show_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    out.print(table)


def print_fields(item: Mapping[str, Any], names: Iterable[str] | None = None) -> None:
    """One object as `name: value` lines."""
    for name in names or item:
        value = item.get(name)
        if isinstance(value, dict | list):
            value = json.dumps(value, ensure_ascii=False) if value else "-"
        out.print(f"[bold]{name}[/]: {'-' if value is None else value}")


def short_time(value: str | None) -> str:
    """2026-01-01T12:00:00.123456Z -> 2026-01-01 12:00:00."""
    return value.replace("T", " ")[:19] if value else "-"
