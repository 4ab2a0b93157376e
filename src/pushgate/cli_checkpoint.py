"""What an import leaves on disk: the checkpoint it resumes from and the rejected rows.

The checkpoint is written after every batch (to a temporary file, then renamed: a crash
leaves the old one or the new one), and names the file's size and modification time, so a
resume against a changed file is refused instead of skipping the wrong lines.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pushgate.cli_http import fail


@dataclass(slots=True)
class Totals:
    created: int = 0
    updated: int = 0
    rejected: int = 0

    @property
    def rows(self) -> int:
        return self.created + self.updated + self.rejected


class Checkpoint:
    """The last line done, tied to the file's size and modification time."""

    def __init__(self, path: Path, source: Path, app: str) -> None:
        self.path = path
        stat = source.stat()
        self._identity = {
            "file": str(source.resolve()),
            "app": app,
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
        }

    def load(self) -> tuple[int, Totals]:
        try:
            saved = json.loads(self.path.read_text())
        except (OSError, ValueError):
            fail(f"no usable checkpoint at {self.path}: start without --resume")
        if {k: saved.get(k) for k in self._identity} != self._identity:
            fail(
                f"the checkpoint {self.path} belongs to another file, app or version of the "
                "file: delete it to start over"
            )
        totals = Totals(saved["created"], saved["updated"], saved["rejected"])
        return int(saved["line"]), totals

    def save(self, line: int, totals: Totals) -> None:
        state = {
            **self._identity,
            "line": line,
            "created": totals.created,
            "updated": totals.updated,
            "rejected": totals.rejected,
        }
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(state))
        os.replace(temporary, self.path)


class RejectsFile:
    """line,status,code,field,message — opened at the first rejected row."""

    def __init__(self, path: Path, *, append: bool) -> None:
        self.path = path
        self._append = append
        self._stream: IO[str] | None = None
        self._writer: Any = None

    def write(self, line: int, error: dict[str, Any]) -> None:
        if self._writer is None:
            fresh = not (self._append and self.path.exists())
            self._stream = self.path.open("w" if fresh else "a", newline="", encoding="utf-8")
            self._writer = csv.writer(self._stream)
            if fresh:
                self._writer.writerow(["line", "status", "code", "field", "message"])
        fields = (error.get("status", ""), error.get("code", ""), error.get("field") or "")
        self._writer.writerow([line, *fields, error.get("message", "")])

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
