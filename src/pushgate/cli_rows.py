"""Registration files for import and export: CSV and JSON Lines <-> the API's registrations.

CSV: a header row of the native registration field names (`keys.p256dh` and `keys.auth` for
a Web Push subscription's keys); `topics` and `capabilities` are `;`-separated lists. The
file's columns are written for every row: an empty cell clears that field (an empty
`topics` cell means no topics), except `sandbox` and `active`, which an empty cell leaves
as they are. JSON Lines: one registration object per line, exactly as
`POST /v1/apps/{app}/registrations` takes it (fields not named are kept).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import IO, Any

from pushgate.cli_http import CliError

# The fields a registration write takes, in the order an export writes them.
COLUMNS = (
    "platform",
    "token",
    "keys.p256dh",
    "keys.auth",
    "sandbox",
    "device_id",
    "user",
    "user_uuid",
    "email",
    "external_id",
    "locale",
    "time_zone",
    "form_factor",
    "device_model",
    "push_group",
    "capabilities",
    "topics",
    "active",
)
_LISTS = frozenset({"topics", "capabilities"})
_FLAGS = frozenset({"sandbox", "active"})
_KEYS = ("keys.p256dh", "keys.auth")
SEPARATOR = ";"
FORMATS = ("csv", "jsonl")


def format_of(name: str, chosen: str | None) -> str:
    """csv or jsonl: as chosen, else by the file's extension."""
    if chosen is not None:
        if chosen not in FORMATS:
            raise CliError(f"--format must be csv or jsonl (got {chosen!r})", 2)
        return chosen
    lowered = name.lower()
    if lowered.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if lowered.endswith(".csv"):
        return "csv"
    raise CliError(f"cannot tell the format of {name}: name it .csv or .jsonl, or pass --format", 2)


class Rejected(ValueError):
    """A line the client itself cannot send (not JSON, not an object)."""


def csv_records(stream: IO[str]) -> Iterator[tuple[int, dict[str, Any] | Rejected]]:
    """(line number, registration) for each record after the header."""
    reader = csv.reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        return
    header = [name.strip() for name in header]
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise CliError(
            f"unknown column {unknown[0]!r} in the header; the columns are the registration "
            f"fields: {', '.join(COLUMNS)}"
        )
    if "platform" not in header or "token" not in header:
        raise CliError("the header must name the columns platform and token")
    line = reader.line_num
    for cells in reader:
        start, line = line + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        if len(cells) != len(header):
            yield start, Rejected(f"{len(cells)} cells where the header names {len(header)}")
            continue
        yield start, from_cells(dict(zip(header, cells, strict=True)))


def from_cells(cells: dict[str, str]) -> dict[str, Any]:
    """One CSV record as the API's registration."""
    row: dict[str, Any] = {}
    for name, raw in cells.items():
        value = raw.strip()
        if name in _KEYS:
            continue
        if name in _LISTS:
            row[name] = [part.strip() for part in value.split(SEPARATOR) if part.strip()]
        elif name in _FLAGS:
            if value:
                row[name] = value  # the server reads true/false, 1/0, yes/no
        else:
            row[name] = value or None
    p256dh, auth = (cells.get(k, "").strip() for k in _KEYS)
    if p256dh or auth:
        row["keys"] = {"p256dh": p256dh or None, "auth": auth or None}
    return row


def jsonl_records(stream: IO[str]) -> Iterator[tuple[int, dict[str, Any] | Rejected]]:
    for number, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except ValueError as exc:
            yield number, Rejected(f"not JSON: {exc.msg} at column {exc.colno}")  # type: ignore[attr-defined]
            continue
        if not isinstance(value, dict):
            yield number, Rejected("not a JSON object")
            continue
        yield number, value


def exported(registration: dict[str, Any]) -> dict[str, Any]:
    """An API registration as an importable one (no id, no times)."""
    row = {name: registration.get(name) for name in COLUMNS if "." not in name}
    row["keys"] = registration.get("keys")
    return row


def to_cells(registration: dict[str, Any]) -> list[str]:
    keys = registration.get("keys") or {}
    cells: list[str] = []
    for name in COLUMNS:
        value = keys.get(name.split(".", 1)[1]) if name in _KEYS else registration.get(name)
        if name in _LISTS:
            for item in value or ():
                if SEPARATOR in item:
                    raise CliError(
                        f"{name} value {item!r} contains '{SEPARATOR}', the CSV list "
                        "separator: export as JSON Lines (--format jsonl)"
                    )
            cells.append(SEPARATOR.join(value or ()))
        elif isinstance(value, bool):
            cells.append("true" if value else "false")
        else:
            cells.append("" if value is None else str(value))
    return cells


def count_lines(path: str) -> int:
    """Lines in the file (newlines, plus an unterminated last line): the progress total."""
    lines = 0
    last = b"\n"
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")
