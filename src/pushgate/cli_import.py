"""`pushgate registrations import APP FILE`: a CSV or JSON Lines file through the bulk
import endpoint, with a progress bar, a checkpoint to resume from and a file of rejected rows.

Batches of up to 1,000 rows (and under the server's body limit) go to
`POST /v1/apps/{app}/registrations/import`, two at a time by default, so the client reads
the next batch while the server writes the last. Batches finish in file order: after each,
the checkpoint (`FILE.checkpoint.json`) records the last line done, so an interrupted import
continues with `--resume` (rows imported twice are only updated again). Rejected rows go to
`FILE.rejected.csv` with their line numbers and the server's reasons.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import httpx2
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from pushgate.cli_checkpoint import Checkpoint, RejectsFile, Totals
from pushgate.cli_export import export_command
from pushgate.cli_http import (
    CliError,
    JsonOption,
    KeyOption,
    UrlOption,
    client_options,
    describe_failure,
    err,
    fail,
    out,
    print_json,
    reports_errors,
    unreachable,
)
from pushgate.cli_rows import Rejected, count_lines, csv_records, format_of, jsonl_records

MAX_ROWS = 1000  # the endpoint's limit per request
MAX_BATCH_BYTES = 900_000  # under the server's default body limit (1 MiB)
_RETRIES = 6  # a restarting server or a busy database: 1+2+4+8+16 s of patience
_TRANSIENT = frozenset({502, 503, 504})


@dataclass(slots=True)
class Batch:
    lines: list[int] = field(default_factory=list)  # the line of each row sent
    rows: list[bytes] = field(default_factory=list)
    size: int = 0
    last_line: int = 0  # every line up to here is in this batch or before it
    refused: list[tuple[int, str]] = field(default_factory=list)  # refused by the client


class _Rate(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:>8,.0f} rows/s")


def _batches(
    records: Iterator[tuple[int, dict[str, Any] | Rejected]],
    *,
    first_line: int,
    max_rows: int,
    max_bytes: int,
) -> Iterator[Batch]:
    batch = Batch()
    for line, record in records:
        if line < first_line:
            continue
        if isinstance(record, Rejected):
            batch.refused.append((line, str(record)))
        else:
            encoded = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
            if batch.rows and batch.size + len(encoded) > max_bytes:
                yield batch
                batch = Batch()
            batch.rows.append(encoded)
            batch.lines.append(line)
            batch.size += len(encoded) + 1
        batch.last_line = line
        if len(batch.rows) >= max_rows:
            yield batch
            batch = Batch()
    if batch.rows or batch.refused:
        yield batch


class Importer:
    def __init__(
        self,
        client: httpx2.AsyncClient,
        app: str,
        *,
        checkpoint: Checkpoint,
        rejects: RejectsFile,
        totals: Totals,
        progress: Progress,
        task: Any,
    ) -> None:
        self._client = client
        self._path = f"/v1/apps/{app}/registrations/import"
        self._checkpoint = checkpoint
        self._rejects = rejects
        self.totals = totals
        self._progress = progress
        self._task = task
        self.done_line = 0
        self._reached = False

    async def run(self, batches: Iterator[Batch], parallel: int) -> None:
        window: deque[tuple[Batch, asyncio.Task[list[dict[str, Any]]]]] = deque()
        try:
            for batch in batches:
                window.append((batch, asyncio.create_task(self._send(batch.rows))))
                if len(window) >= parallel:
                    self._finish(*await self._oldest(window))
            while window:
                self._finish(*await self._oldest(window))
        finally:
            for _, task in window:
                task.cancel()
            await asyncio.gather(*(task for _, task in window), return_exceptions=True)

    @staticmethod
    async def _oldest(
        window: deque[tuple[Batch, asyncio.Task[list[dict[str, Any]]]]],
    ) -> tuple[Batch, list[dict[str, Any]]]:
        batch, task = window[0]
        results = await task
        window.popleft()
        return batch, results

    async def _send(self, rows: list[bytes]) -> list[dict[str, Any]]:
        """The rows' results, retrying what a restart or a busy server refuses for now."""
        body = b'{"rows":[' + b",".join(rows) + b"]}"
        for attempt in range(_RETRIES):
            last = attempt == _RETRIES - 1
            try:
                response = await self._client.post(
                    self._path, content=body, headers={"Content-Type": "application/json"}
                )
            except httpx2.HTTPError as exc:
                # Retried once the server answered before (a restart mid-import); a server
                # that never answered is down or misnamed: say so at once.
                if last or not self._reached:
                    raise unreachable(str(self._client.base_url), exc) from None
                await asyncio.sleep(2**attempt)
                continue
            self._reached = True
            if response.status_code == 413 and len(rows) > 1:  # a smaller body limit
                half = len(rows) // 2
                return [
                    *await self._send(rows[:half]),
                    *_shifted(await self._send(rows[half:]), half),
                ]
            if response.status_code in _TRANSIENT and not last:
                await asyncio.sleep(_retry_after(response, 2**attempt))
                continue
            if response.status_code >= 400:
                raise describe_failure(response, str(self._client.base_url))
            results: list[dict[str, Any]] = response.json()["results"]
            return results
        raise AssertionError("unreachable: the loop returns or raises")

    def _finish(self, batch: Batch, results: list[dict[str, Any]]) -> None:
        rejected = [(line, {"message": reason}) for line, reason in batch.refused]
        for result in results:
            status = result["status"]
            if status == "created":
                self.totals.created += 1
            elif status == "updated":
                self.totals.updated += 1
            else:
                rejected.append((batch.lines[result["index"]], result.get("error") or {}))
        self.totals.rejected += len(rejected)
        for line, error in sorted(rejected, key=lambda item: item[0]):
            self._rejects.write(line, error)
        self.done_line = batch.last_line
        self._checkpoint.save(batch.last_line, self.totals)
        self._progress.update(self._task, completed=batch.last_line)


def _shifted(results: list[dict[str, Any]], by: int) -> list[dict[str, Any]]:
    return [{**r, "index": r["index"] + by} for r in results]


def _retry_after(response: httpx2.Response, default: float) -> float:
    try:
        return min(float(response.headers.get("retry-after", default)), 60.0)
    except ValueError:
        return default


def _progress(disabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("lines"),
        _Rate(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=disabled,
    )


@dataclass(frozen=True, slots=True)
class _Plan:
    app: str
    file: Path
    kind: str  # csv or jsonl
    first_line: int
    batch_size: int
    parallel: int
    quiet: bool


def import_registrations(
    app: Annotated[str, typer.Argument(help="The app")],
    file: Annotated[Path, typer.Argument(help="A .csv or .jsonl file", dir_okay=False)],
    url: UrlOption = "http://127.0.0.1:8080",
    key: KeyOption = None,
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl [by the file's extension]")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue after the checkpoint's last line")
    ] = False,
    from_line: Annotated[
        int | None, typer.Option(min=1, help="Start at this line of the file (skip those before)")
    ] = None,
    checkpoint_file: Annotated[
        Path | None, typer.Option("--checkpoint", help="[FILE.checkpoint.json]")
    ] = None,
    rejects_file: Annotated[
        Path | None, typer.Option("--rejects", help="Rejected rows go here [FILE.rejected.csv]")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=MAX_ROWS, help="Rows a request")] = MAX_ROWS,
    parallel: Annotated[int, typer.Option(min=1, max=8, help="Requests in flight")] = 2,
    json_output: JsonOption = False,
) -> None:
    """Import registrations from CSV (a header of registration field names; topics and
    capabilities ';'-separated) or JSON Lines; resumable, rejected rows to a file."""
    if not file.is_file():
        fail(f"no such file: {file}")
    kind = format_of(file.name, file_format)
    checkpoint_path = checkpoint_file or file.with_name(file.name + ".checkpoint.json")
    checkpoint = Checkpoint(checkpoint_path, file, app)
    first_line, totals = _start(checkpoint, resume=resume, from_line=from_line)
    rejects_path = rejects_file or file.with_name(file.name + ".rejected.csv")
    rejects = RejectsFile(rejects_path, append=resume)
    plan = _Plan(app, file, kind, first_line, batch_size, parallel, json_output)
    options = client_options(url, key)
    started = time.monotonic()
    try:
        totals = asyncio.run(_import(plan, options, checkpoint, rejects, totals))
    except KeyboardInterrupt:
        fail(f"interrupted; the same command with --resume continues ({checkpoint.path})", 130)
    finally:
        rejects.close()
    checkpoint.path.unlink(missing_ok=True)
    _report(plan, totals, time.monotonic() - started, rejects.path)


def _start(checkpoint: Checkpoint, *, resume: bool, from_line: int | None) -> tuple[int, Totals]:
    if resume:
        line, totals = checkpoint.load()
        return line + 1, totals
    if checkpoint.path.exists() and from_line is None:
        fail(
            f"an interrupted import left {checkpoint.path}: pass --resume to continue after "
            "it, or delete it to start over"
        )
    return from_line or 1, Totals()


async def _import(
    plan: _Plan,
    options: dict[str, Any],
    checkpoint: Checkpoint,
    rejects: RejectsFile,
    totals: Totals,
) -> Totals:
    total_lines = count_lines(str(plan.file))
    async with httpx2.AsyncClient(**options) as client:
        with (
            _progress(plan.quiet) as progress,
            plan.file.open(newline="", encoding="utf-8-sig") as stream,
        ):
            task = progress.add_task(
                f"importing {plan.file.name}", total=total_lines, completed=plan.first_line - 1
            )
            records = csv_records(stream) if plan.kind == "csv" else jsonl_records(stream)
            importer = Importer(
                client,
                plan.app,
                checkpoint=checkpoint,
                rejects=rejects,
                totals=totals,
                progress=progress,
                task=task,
            )
            batches = _batches(
                records,
                first_line=plan.first_line,
                max_rows=plan.batch_size,
                max_bytes=MAX_BATCH_BYTES,
            )
            try:
                await importer.run(batches, plan.parallel)
            except CliError as exc:
                done = importer.done_line or plan.first_line - 1
                raise CliError(
                    f"{exc.message}; lines up to {done} are imported: run the same command "
                    "with --resume to continue",
                    exc.code,
                ) from None
            progress.update(task, completed=total_lines)
    return importer.totals


def _report(plan: _Plan, totals: Totals, seconds: float, rejects: Path) -> None:
    rate = totals.rows / seconds if seconds > 0 else 0.0
    if plan.quiet:
        print_json(
            {
                "file": str(plan.file),
                "app": plan.app,
                "rows": totals.rows,
                "created": totals.created,
                "updated": totals.updated,
                "rejected": totals.rejected,
                "seconds": round(seconds, 3),
                "rows_per_s": round(rate, 1),
                "rejects_file": str(rejects) if totals.rejected else None,
            }
        )
    else:
        out.print(
            f"{totals.rows:,} rows in {seconds:,.1f} s ({rate:,.0f} rows/s): "
            f"{totals.created:,} created, {totals.updated:,} updated, "
            f"{totals.rejected:,} rejected"
        )
    if totals.rejected:
        err.print(
            f"[red]error:[/] {totals.rejected:,} rows rejected; their lines and reasons are in "
            f"{rejects}: fix them and import those lines again"
        )
        raise typer.Exit(1)


registrations = typer.Typer(
    help="Import and export an app's registrations (CSV or JSON Lines).", no_args_is_help=True
)
registrations.command("import")(reports_errors(import_registrations))
registrations.command("export")(export_command)
