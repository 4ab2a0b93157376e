"""`pushgate registrations export APP`: every registration, paged through the API, as CSV or
JSON Lines that `pushgate registrations import` reads back."""

from __future__ import annotations

import csv
import json
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from pushgate.cli_http import Api, KeyOption, UrlOption, err, fail, reports_errors
from pushgate.cli_rows import COLUMNS, exported, format_of, to_cells

PAGE = 1000  # the API's largest page


def export_registrations(
    app: Annotated[str, typer.Argument(help="The app")],
    url: UrlOption = "http://127.0.0.1:8080",
    key: KeyOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="A .csv or .jsonl file [stdout]")
    ] = None,
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl [by --output's extension; csv]")
    ] = None,
    user: Annotated[str | None, typer.Option(help="Only this user's devices")] = None,
    topic: Annotated[str | None, typer.Option(help="Only subscribers of this topic")] = None,
    platform: Annotated[str | None, typer.Option(help="Only this platform")] = None,
    active: Annotated[
        bool | None, typer.Option("--active/--inactive", help="Only active (inactive) ones")
    ] = None,
) -> None:
    """Export registrations as CSV or JSON Lines (importable again), with progress."""
    kind = format_of(output.name, file_format) if output else (file_format or "csv")
    if kind not in ("csv", "jsonl"):
        fail(f"--format must be csv or jsonl (got {kind!r})", 2)
    filters = {"user": user, "topic": topic, "platform": platform, "limit": PAGE}
    if active is not None:
        filters["active"] = "true" if active else "false"
    started = time.monotonic()
    with ExitStack() as stack:
        api = stack.enter_context(Api(url, key))
        sink = _open(stack, output)
        progress = stack.enter_context(
            Progress(
                SpinnerColumn(),
                TextColumn("exported {task.completed:,} registrations"),
                TextColumn("{task.fields[rate]:,.0f} rows/s"),
                TimeElapsedColumn(),
                console=err,
            )
        )
        task = progress.add_task("export", total=None, rate=0.0)
        count = _write(api, app, filters, sink, kind, progress, task, started)
    seconds = time.monotonic() - started
    where = f" to {output}" if output else ""
    err.print(f"{count:,} registrations exported{where} in {seconds:,.1f} s")


def _open(stack: ExitStack, output: Path | None) -> IO[str]:
    if output is None:
        return sys.stdout
    try:
        return stack.enter_context(output.open("w", newline="", encoding="utf-8"))
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")


def _write(
    api: Api,
    app: str,
    filters: dict[str, Any],
    sink: IO[str],
    kind: str,
    progress: Progress,
    task: Any,
    started: float,
) -> int:
    writer = csv.writer(sink) if kind == "csv" else None
    if writer is not None:
        writer.writerow(COLUMNS)
    count = 0
    for registration in api.pages(f"/v1/apps/{app}/registrations", filters):
        if writer is not None:
            writer.writerow(to_cells(registration))
        else:
            sink.write(json.dumps(exported(registration), ensure_ascii=False) + "\n")
        count += 1
        if count % PAGE == 0:
            rate = count / max(time.monotonic() - started, 1e-6)
            progress.update(task, completed=count, rate=rate)
    progress.update(task, completed=count)
    return count


export_command = reports_errors(export_registrations)
