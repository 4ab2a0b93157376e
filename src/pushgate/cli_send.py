"""`pushgate send` and `pushgate status`: send a notification, follow its delivery funnel."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.live import Live
from rich.table import Table

from pushgate.cli_http import (
    Api,
    JsonOption,
    KeyOption,
    UrlOption,
    err,
    fail,
    out,
    print_json,
    reports_errors,
    short_time,
)

FUNNEL = ("QUEUED", "SENT", "RECEIVED", "CONSUMED", "CONFIRMED", "ERROR")
FINISHED = frozenset({"done", "cancelled"})
_POLL_S = 1.0
# The result codes of docs/delivery.md, for the error table.
CODES = {
    1: "invalid data",
    2: "target not found",
    3: "could not be queued",
    4: "configuration (credential)",
    5: "token missing",
    6: "token rejected",
    7: "registration expired",
    8: "too many for this device",
    9: "too large for the provider",
    10: "not accepted by the provider",
    11: "recoverable I/O problem",
    12: "communication failed",
    13: "communication failed",
    14: "provider quota exceeded",
}

ListOption = list[str] | None  # a repeatable option


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for value in values or ():
        name, sep, text = value.partition("=")
        if not sep or not name.strip():
            fail(f"{option} takes NAME=VALUE (got {value!r})", 2)
        found[name.strip()] = text
    return found


def _target(
    topic: list[str] | None,
    user: list[str] | None,
    registration: list[str] | None,
    push_group: str | None,
    capability: str | None,
    everyone: bool,
) -> dict[str, Any]:
    kinds: list[dict[str, Any]] = []
    if topic:
        kinds.append({"topics": topic, **({"users": user} if user else {})})
    elif user:
        kinds.append({"users": user})
    if registration:
        kinds.append({"registrations": registration})
    if push_group:
        kinds.append({"push_group": push_group})
    if capability:
        kinds.append({"capability": capability})
    if everyone:
        kinds.append({"app": True})
    if len(kinds) != 1:
        fail(
            "name one target: --topic (with --user to narrow it), --user, --registration, "
            "--push-group, --capability or --all",
            2,
        )
    return kinds[0]


def _localized(values: list[str] | None) -> dict[str, dict[str, str]]:
    """--locale de="Hallo" (the alert) or --locale de.title="Hallo"."""
    variants: dict[str, dict[str, str]] = {}
    for name, text in _pairs(values, "--locale").items():
        locale, _, part = name.partition(".")
        if part not in ("", "alert", "title", "body"):
            fail(f"--locale {name}: use LOCALE=alert or LOCALE.title / LOCALE.body", 2)
        variants.setdefault(locale, {})[part or "alert"] = text
    return variants


@reports_errors
def send(
    app: Annotated[str, typer.Argument(help="The app")],
    url: UrlOption = "http://127.0.0.1:8080",
    key: KeyOption = None,
    topic: Annotated[ListOption, typer.Option("--topic", help="Subscribers of the topic")] = None,
    user: Annotated[ListOption, typer.Option("--user", help="Every device of the user")] = None,
    registration: Annotated[
        ListOption, typer.Option("--registration", help="A registration id")
    ] = None,
    push_group: Annotated[str | None, typer.Option(help="The push group's devices")] = None,
    capability: Annotated[str | None, typer.Option(help="Devices with the capability")] = None,
    everyone: Annotated[bool, typer.Option("--all", help="Every device of the app")] = False,
    alert: Annotated[str | None, typer.Option(help="The text shown")] = None,
    title: Annotated[str | None, typer.Option(help="A title above it")] = None,
    body: Annotated[str | None, typer.Option(help="The text under the title")] = None,
    badge: Annotated[int | None, typer.Option(help="The app icon's badge (0 clears)")] = None,
    sound: Annotated[str | None, typer.Option(help="A sound name")] = None,
    data: Annotated[ListOption, typer.Option("--data", help="KEY=VALUE for the app")] = None,
    locale: Annotated[
        ListOption, typer.Option("--locale", help='de="Hallo" or de.title="..." (repeat)')
    ] = None,
    ttl: Annotated[int | None, typer.Option(min=0, help="Seconds to keep trying")] = None,
    priority: Annotated[str | None, typer.Option(help="normal or high")] = None,
    collapse_id: Annotated[str | None, typer.Option(help="Replaces an older one")] = None,
    send_at: Annotated[str | None, typer.Option(help="ISO 8601 time to send at")] = None,
    idempotency_key: Annotated[
        str | None, typer.Option(help="Repeat safely: the same key sends once")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Watch the delivery funnel until done")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Send a notification to a topic, users, registrations, a group or the whole app."""
    notification: dict[str, Any] = {
        "alert": alert,
        "title": title,
        "body": body,
        "badge": badge,
        "sound": sound,
    }
    notification = {k: v for k, v in notification.items() if v is not None}
    if data:
        notification["data"] = _pairs(data, "--data")
    if not notification:
        fail("say something: --alert, --title/--body, --badge, --sound or --data", 2)
    request: dict[str, Any] = {
        "target": _target(topic, user, registration, push_group, capability, everyone),
        "notification": notification,
    }
    options = {"ttl": ttl, "priority": priority, "collapse_id": collapse_id, "send_at": send_at}
    request.update({k: v for k, v in options.items() if v is not None})
    if locale:
        request["localized"] = _localized(locale)
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    with Api(url, key) as api:
        sent = api.call("POST", f"/v1/apps/{app}/notifications", body=request, headers=headers)
        if follow:
            sent = _follow(api, app, sent["id"], quiet=json_output)
        errors = _errors(api, app, sent["id"]) if sent["counts"]["ERROR"] else []
    if json_output:
        print_json({**sent, "errors": errors})
        return
    if not follow:
        err.print(f"notification [bold]{sent['id']}[/] {sent['state']}")
        out.print(_summary(sent, errors))
        if sent["state"] not in FINISHED:
            err.print(f"follow it: pushgate status {app} {sent['id']} --follow")


@reports_errors
def status(
    app: Annotated[str, typer.Argument(help="The app")],
    notification_id: Annotated[str, typer.Argument(help="The notification's id")],
    url: UrlOption = "http://127.0.0.1:8080",
    key: KeyOption = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Watch the delivery funnel until done")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """A notification's state, counts by status and errors by reason."""
    path = f"/v1/apps/{app}/notifications/{notification_id}"
    with Api(url, key) as api:
        found = (
            _follow(api, app, notification_id, quiet=json_output)
            if follow
            else (api.call("GET", path))
        )
        errors = _errors(api, app, notification_id) if found["counts"]["ERROR"] else []
    if json_output:
        print_json({**found, "errors": errors})
        return
    if not follow:
        out.print(_summary(found, errors))


def _errors(api: Api, app: str, notification_id: str) -> list[dict[str, Any]]:
    path = f"/v1/apps/{app}/notifications/{notification_id}/errors"
    items: list[dict[str, Any]] = api.call("GET", path)["items"]
    return items


def _follow(api: Api, app: str, notification_id: str, *, quiet: bool) -> dict[str, Any]:
    """Poll the status (and the errors, when there are some) until the notification is done;
    a live funnel on stderr unless quiet."""
    path = f"/v1/apps/{app}/notifications/{notification_id}"
    found: dict[str, Any] = api.call("GET", path)
    errors: list[dict[str, Any]] = []
    started = time.monotonic()
    live = Live(_summary(found, errors), console=err, refresh_per_second=4)
    if not quiet:
        live.start()
    try:
        while found["state"] not in FINISHED:
            time.sleep(_POLL_S)  # polling a remote server: nothing to wait on locally
            found = api.call("GET", path)
            if found["counts"]["ERROR"]:
                errors = _errors(api, app, notification_id)
            live.update(_summary(found, errors, time.monotonic() - started))
        live.update(_summary(found, errors))
    except KeyboardInterrupt:
        fail(f"stopped following; it goes on: pushgate status {app} {notification_id}", 130)
    finally:
        live.stop()
    return found


def _summary(found: dict[str, Any], errors: list[dict[str, Any]], seconds: float = 0) -> Group:
    counts: dict[str, int] = found["counts"]
    total = sum(counts.get(name, 0) for name in FUNNEL) or 1
    head = Table.grid(padding=(0, 2))
    head.add_row("notification", f"[bold]{found['id']}[/]", "state", f"[bold]{found['state']}[/]")
    head.add_row(
        "created",
        short_time(found.get("created_at")),
        "completed",
        short_time(found.get("completed_at")),
    )
    funnel = Table(show_edge=False, header_style="bold", title="delivery funnel")
    for column in ("status", "count", "share", ""):
        funnel.add_column(column, justify="right" if column in ("count", "share") else "left")
    for name in FUNNEL:
        count = counts.get(name, 0)
        share = count / total
        bar = "█" * round(share * 30)
        style = "red" if name == "ERROR" else "green" if name != "QUEUED" else "yellow"
        funnel.add_row(name, f"{count:,}", f"{share:.0%}", f"[{style}]{bar}[/]")
    parts: list[Any] = [head, funnel]
    if errors:
        table = Table(show_edge=False, header_style="bold", title="errors by reason")
        for column in ("code", "meaning", "reason", "count"):
            table.add_column(column, justify="right" if column == "count" else "left")
        for group in errors:
            code = int(group["code"])
            table.add_row(
                str(code), CODES.get(code, ""), group["reason"] or "-", f"{group['count']:,}"
            )
        parts.append(table)
    if seconds:
        parts.append(f"following for {seconds:,.0f} s (Ctrl-C stops following, not sending)")
    return Group(*parts)
