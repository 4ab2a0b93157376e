"""`pushgate apps | keys | credentials`: manage apps, their API keys and provider credentials
over the native API (the admin key, or an app's app_admin key)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from pushgate.cli_http import (
    Api,
    CliError,
    JsonOption,
    KeyOption,
    UrlOption,
    err,
    fail,
    out,
    print_fields,
    print_json,
    print_table,
    reports_errors,
    short_time,
)

apps = typer.Typer(help="Create, list, show and delete apps (the admin key).", no_args_is_help=True)
keys = typer.Typer(
    help="An app's API keys: create (shown once), list, revoke.", no_args_is_help=True
)
credentials = typer.Typer(
    help="An app's provider credentials (APNs, FCM, Web Push, WNS, SMS): set, list, delete.",
    no_args_is_help=True,
)

ROLES = (
    "push_single",
    "push_multiple",
    "push_all",
    "pushregistrations_read",
    "registrations_write",
    "app_admin",
)
_APP_FIELDS = ("name", "company_id", "description", "rate_limits", "created_at", "updated_at")


def _confirmed(what: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        fail(f"deleting {what} needs confirmation: pass --yes")
    if not typer.confirm(f"Delete {what}? This cannot be undone", default=False):
        fail("not deleted")


@apps.command("create")
@reports_errors
def apps_create(
    name: Annotated[str, typer.Argument(help="The app's name: its id in every path")],
    url: UrlOption = "http://127.0.0.1:8080",
    key: KeyOption = None,
    description: Annotated[str, typer.Option(help="What the app is")] = "",
    json_output: JsonOption = False,
) -> None:
    """Create an app."""
    with Api(url, key) as api:
        created = api.call("POST", "/v1/apps", body={"name": name, "description": description})
    if json_output:
        print_json(created)
        return
    out.print(f"app [bold]{created['name']}[/] created (company_id {created['company_id']})")


@apps.command("list")
@reports_errors
def apps_list(
    url: UrlOption = "http://127.0.0.1:8080", key: KeyOption = None, json_output: JsonOption = False
) -> None:
    """List the apps this key sees (all of them with the admin key)."""
    with Api(url, key) as api:
        found = list(api.pages("/v1/apps", {"limit": 1000}))
    if json_output:
        print_json(found)
        return
    print_table(
        ["name", "company_id", "description", "created"],
        (
            [a["name"], a["company_id"], a["description"], short_time(a["created_at"])]
            for a in found
        ),
    )


@apps.command("show")
@reports_errors
def apps_show(
    name: Annotated[str, typer.Argument(help="The app")],
    url: UrlOption = "http://127.0.0.1:8080",
    key: KeyOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show an app and its provider credentials (never their secrets)."""
    with Api(url, key) as api:
        found = api.call("GET", f"/v1/apps/{name}")
        creds = api.call("GET", f"/v1/apps/{name}/credentials")["items"]
    if json_output:
        print_json({**found, "credentials": creds})
        return
    print_fields(found, _APP_FIELDS)
    _print_credentials(creds)


@apps.command("delete")
@reports_errors
def apps_delete(
    name: Annotated[str, typer.Argument(help="The app")],
    url: UrlOption = "http://127.0.0.1:8080",
    key: KeyOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask")] = False,
) -> None:
    """Delete an app and everything it owns (registrations, keys, notifications)."""
    _confirmed(f"app {name!r} and everything it owns", yes)
    with Api(url, key) as api:
        api.call("DELETE", f"/v1/apps/{name}")
    out.print(f"app [bold]{name}[/] deleted")


@keys.command("create")
@reports_errors
def keys_create(
    app: Annotated[str, typer.Argument(help="The app")],
    alias: Annotated[str, typer.Argument(help="A name for the key (its OAuth client id)")],
    role: Annotated[
        list[str],
        typer.Option("--role", "-r", help=f"Repeat for each role: {', '.join(ROLES)}"),
    ],
    url: UrlOption = "http://127.0.0.1:8080",
    key: KeyOption = None,
    json_output: JsonOption = False,
) -> None:
    """Create an API key; it is printed this once (only its hash is stored)."""
    with Api(url, key) as api:
        created = api.call("POST", f"/v1/apps/{app}/keys", body={"alias": alias, "roles": role})
    if json_output:
        print_json(created)
        return
    err.print(
        f"key [bold]{created['alias']}[/] of {app} with {', '.join(created['roles'])}; "
        "it is shown this once, store it now:"
    )
    out.print(created["key"])


@keys.command("list")
@reports_errors
def keys_list(
    app: Annotated[str, typer.Argument(help="The app")],
    url: UrlOption = "http://127.0.0.1:8080",
    key: KeyOption = None,
    json_output: JsonOption = False,
) -> None:
    """List an app's keys (aliases and roles; keys themselves are never shown again)."""
    with Api(url, key) as api:
        found = list(api.pages(f"/v1/apps/{app}/keys", {"limit": 1000}))
    if json_output:
        print_json(found)
        return
    print_table(
        ["alias", "roles", "created"],
        ([k["alias"], ", ".join(k["roles"]), short_time(k["created_at"])] for k in found),
    )


@keys.command("revoke")
@reports_errors
def keys_revoke(
    app: Annotated[str, typer.Argument(help="The app")],
    alias: Annotated[str, typer.Argument(help="The key's alias")],
    url: UrlOption = "http://127.0.0.1:8080",
    key: KeyOption = None,
) -> None:
    """Revoke a key: it and its OAuth tokens stop working."""
    with Api(url, key) as api:
        api.call("DELETE", f"/v1/apps/{app}/keys/{alias}")
    out.print(f"key [bold]{alias}[/] of {app} revoked")


PROVIDERS = ("apns", "fcm", "webpush", "wns", "sms")
# The API's field -> the option that sets it, so a refusal names what the operator typed.
_OPTION_OF = {
    "key": "--key-file",
    "certificate": "--certificate-file",
    "private_key": "--private-key-file",
    "service_account": "--service-account",
    "key_id": "--key-id",
    "team_id": "--team-id",
    "gateway_url": "--gateway-url",
    "auth_type": "--auth-type",
    "client_id": "--client-id",
    "client_secret": "--client-secret",
    "public_key": "--public-key",
    "private_key_password": "--private-key-password",
}


def _read(path: Path | None, what: str) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text()
    except OSError as exc:
        fail(f"cannot read {what} {path}: {exc.strerror or exc}")


def _service_account(path: Path | None) -> dict[str, Any] | None:
    text = _read(path, "the service-account file")
    if text is None:
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        fail(f"{path} is not JSON: download the service account's key file from Firebase")
    if not isinstance(parsed, dict):
        fail(f"{path} is not a service-account JSON object")
    return parsed


@credentials.command("set")
@reports_errors
def credentials_set(
    app: Annotated[str, typer.Argument(help="The app")],
    provider: Annotated[str, typer.Argument(help="apns, fcm, webpush, wns or sms")],
    url: UrlOption = "http://127.0.0.1:8080",
    key: KeyOption = None,
    key_file: Annotated[Path | None, typer.Option(help="APNs: the AuthKey_XXXX.p8 file")] = None,
    key_id: Annotated[str | None, typer.Option(help="APNs: the key's id")] = None,
    team_id: Annotated[str | None, typer.Option(help="APNs: the team id")] = None,
    topic: Annotated[str | None, typer.Option(help="APNs: the app's bundle id")] = None,
    certificate_file: Annotated[
        Path | None, typer.Option(help="APNs: a certificate (PEM) instead of a .p8")
    ] = None,
    private_key_file: Annotated[
        Path | None,
        typer.Option(help="APNs: the certificate's key (PEM); Web Push: the VAPID key (PEM)"),
    ] = None,
    private_key_password: Annotated[
        str | None, typer.Option(help="APNs: the password of --private-key-file")
    ] = None,
    service_account: Annotated[
        Path | None, typer.Option(help="FCM: the service account's JSON key file")
    ] = None,
    subject: Annotated[str | None, typer.Option(help="Web Push: mailto: or https: contact")] = None,
    generate: Annotated[
        bool, typer.Option("--generate", help="Web Push: generate a VAPID key pair")
    ] = False,
    public_key: Annotated[str | None, typer.Option(help="Web Push: the VAPID public key")] = None,
    client_id: Annotated[str | None, typer.Option(help="WNS: the package SID")] = None,
    client_secret: Annotated[str | None, typer.Option(help="WNS: the client secret")] = None,
    gateway_url: Annotated[str | None, typer.Option(help="SMS: the gateway URL")] = None,
    auth_type: Annotated[str | None, typer.Option(help="SMS: none, basic or bearer")] = None,
    username: Annotated[str | None, typer.Option(help="SMS: basic auth user")] = None,
    password: Annotated[str | None, typer.Option(help="SMS: basic auth password")] = None,
    token: Annotated[str | None, typer.Option(help="SMS: bearer token")] = None,
    sender: Annotated[str | None, typer.Option(help="SMS: the sender id or number")] = None,
    endpoint: Annotated[str | None, typer.Option(help="Another base URL for the provider")] = None,
    json_output: JsonOption = False,
) -> None:
    """Set or replace an app's credential for one provider (validated by the server, encrypted
    at rest, never shown back)."""
    if provider not in PROVIDERS:
        fail(f"unknown provider {provider!r}; use one of {', '.join(PROVIDERS)}", 2)
    fields: dict[str, Any] = {
        "key": _read(key_file, "the .p8 key"),
        "key_id": key_id,
        "team_id": team_id,
        "topic": topic,
        "certificate": _read(certificate_file, "the certificate"),
        "private_key": _read(private_key_file, "the private key"),
        "private_key_password": private_key_password,
        "service_account": _service_account(service_account),
        "subject": subject,
        "generate": True if generate else None,
        "public_key": public_key,
        "client_id": client_id,
        "client_secret": client_secret,
        "gateway_url": gateway_url,
        "auth_type": auth_type,
        "username": username,
        "password": password,
        "token": token,
        "sender": sender,
        "endpoint": endpoint,
    }
    body = {name: value for name, value in fields.items() if value is not None}
    if not body:
        fail(f"name the {provider} credential's fields: see pushgate credentials set --help", 2)
    with Api(url, key) as api:
        try:
            stored = api.call("PUT", f"/v1/apps/{app}/credentials/{provider}", body=body)
        except CliError as exc:
            raise _with_option_names(exc) from None
    if json_output:
        print_json(stored)
        return
    out.print(f"{provider} credential of [bold]{app}[/] set")
    print_fields(stored["settings"])


def _with_option_names(exc: CliError) -> CliError:
    """'... (field key)' -> '... (field key, option --key-file)'."""
    for field, option in _OPTION_OF.items():
        marker = f"(field {field})"
        if marker in exc.message:
            return CliError(exc.message.replace(marker, f"({marker[1:-1]}, option {option})"))
    return exc


@credentials.command("list")
@reports_errors
def credentials_list(
    app: Annotated[str, typer.Argument(help="The app")],
    url: UrlOption = "http://127.0.0.1:8080",
    key: KeyOption = None,
    json_output: JsonOption = False,
) -> None:
    """List an app's credentials: settings and suspect marks, never secrets."""
    with Api(url, key) as api:
        found = api.call("GET", f"/v1/apps/{app}/credentials")["items"]
    if json_output:
        print_json(found)
        return
    _print_credentials(found)


@credentials.command("delete")
@reports_errors
def credentials_delete(
    app: Annotated[str, typer.Argument(help="The app")],
    provider: Annotated[str, typer.Argument(help="apns, fcm, webpush, wns or sms")],
    url: UrlOption = "http://127.0.0.1:8080",
    key: KeyOption = None,
) -> None:
    """Delete an app's credential for one provider."""
    with Api(url, key) as api:
        api.call("DELETE", f"/v1/apps/{app}/credentials/{provider}")
    out.print(f"{provider} credential of [bold]{app}[/] deleted")


def _print_credentials(items: list[dict[str, Any]]) -> None:
    if not items:
        out.print("no provider credentials")
        return
    print_table(
        ["provider", "settings", "updated", "suspect"],
        (
            [
                c["provider"],
                ", ".join(f"{k}={v}" for k, v in c["settings"].items()),
                short_time(c["updated_at"]),
                c["suspect_reason"] or "",
            ]
            for c in items
        ),
        title="credentials",
    )
