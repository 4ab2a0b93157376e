"""Run fuzz targets under atheris (libFuzzer).

    python -m tests.fuzz.run_target NAME -runs=20000              # one target, this process
    python -m tests.fuzz.run_target all -runs=20000 --out DIR     # each in a forked child
    python -m tests.fuzz.run_target NAME DIR/NAME/crash-<sha1>     # replay one input
    python -m tests.fuzz.run_target --list

NAME is a key of tests.fuzz.targets.TARGETS (or `all`, or several names); the other
arguments are libFuzzer's (`-runs=N`, `-max_total_time=S`, `-timeout=S` per input,
`-rss_limit_mb=M`, `-seed=N`, `-artifact_prefix=DIR/`...). Each target's seed corpus (built in
code) and its dictionary are written to `--corpus DIR` (kept between runs, so a long run grows
it; default: a new directory under the system's temporary directory, left behind) and handed
to libFuzzer. A crash leaves `crash-<sha1>` (the input) under -artifact_prefix and a non-zero
exit status.

With `--out DIR`, the modules are imported (and instrumented) once and every target runs in a
child forked from that process, its output in DIR/NAME/fuzz.log, its corpus in
DIR/NAME/corpus (or ROOT/NAME/corpus with `--corpus-root ROOT`), crashes in DIR/NAME/, and
DIR/NAME/result.json says: exit status, runs done, wall and CPU seconds, peak memory.
Start-up (importing and instrumenting, ~5 s of CPU) costs more than 20000 runs of most
targets, hence one start for all (tests/fuzz/test_fuzz_parsers.py).

Only the parsers and what they call in pushgate (INSTRUMENTED) are instrumented for coverage:
instrumenting every import (pydantic, FastAPI, SQLAlchemy...) makes start-up slow and the
signal noisy. Long runs:
bench/fuzz.py.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

import atheris  # type: ignore[import-untyped]  # no stubs or py.typed

# The modules whose branches guide the fuzzer: the body readers, the parse-and-validate steps
# and the renderers of refusals, and the domain rules they call. Instrumenting all of
# pushgate.dialects and pushgate.domain cost ~3.5 s of CPU at start-up. domain.text is left
# out: find_unstorable walks every body value, and instrumented it tripled the CPU time of the
# JSON targets (SAP device: 8.1 s -> 2.7 s for 20000 runs without it).
INSTRUMENTED = frozenset(
    {
        *(f"pushgate.dialects.pushapi.{m}" for m in ("bodies", "schemas", "errors", "responses")),
        *(f"pushgate.dialects.sap.{m}" for m in ("bodies", "payloads", "devices_io", "errors")),
        *(
            f"pushgate.dialects.mobilefirst.{m}"
            for m in ("requests", "messages_io", "settings_io", "token", "errors")
        ),
        "pushgate.dialects.mobilefirst.messages",  # _spec: the target's platform letters
        "pushgate.dialects.servicenow.routes",  # _read
        "pushgate.dialects.servicenow.errors",
        "pushgate.dialects.discord.errors",
        *(f"pushgate.domain.{m}" for m in ("payload", "platforms", "locales")),
        "pushgate.domain.timezones",
        "pushgate.http.dialect",  # refusal_of: every refusal goes through it
    }
)


def _not_instrumented() -> list[str]:
    """Every other pushgate module, by its file (importing packages to list them would import
    them uninstrumented): atheris's `include` names top-level packages only, its `exclude`
    exact modules."""
    spec = importlib.util.find_spec("pushgate")
    assert spec is not None
    assert spec.origin is not None
    root = Path(spec.origin).parent
    names = []
    for path in root.rglob("*.py"):
        parts = ["pushgate", *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        if name not in INSTRUMENTED:
            names.append(name)
    return names


# Imported under the hook, so that the dialect modules are instrumented (a module imported
# before this line would not be).
with atheris.instrument_imports(include=["pushgate"], exclude=_not_instrumented()):
    from tests.fuzz.targets import TARGETS


def prepare(name: str, corpus: Path) -> list[str]:
    """Write the target's seeds (files named by content) and dictionary; libFuzzer's
    arguments for them."""
    corpus.mkdir(parents=True, exist_ok=True)
    target = TARGETS[name]
    for seed in target.seeds():
        (corpus / hashlib.sha1(seed).hexdigest()).write_bytes(seed)  # noqa: S324 - a file name
    words = corpus.parent / f"{corpus.name}.dict"
    words.write_text("".join(f'"{_escaped(word)}"\n' for word in target.words))
    return [f"-dict={words}", str(corpus)]


def _escaped(word: bytes) -> str:
    return "".join(chr(b) if 32 <= b < 127 and b not in b'"\\' else f"\\x{b:02x}" for b in word)


def _fuzz(name: str, flags: list[str], corpus: Path) -> None:
    """Never returns: libFuzzer ends the process (exit status 0, or non-zero on a crash).
    Files among the arguments (a crash-<sha1>) are replayed, without the corpus."""
    replay = any(not flag.startswith("-") for flag in flags)
    inputs = [] if replay else prepare(name, corpus)
    atheris.Setup([sys.argv[0], *flags, *inputs], TARGETS[name].run)
    atheris.Fuzz()


def _forked(name: str, flags: list[str], out: Path, corpus: Path) -> dict[str, object]:
    """Run one target in a child of this (already instrumented) process; its result."""
    home = out / name
    home.mkdir(parents=True, exist_ok=True)
    log = home / "fuzz.log"
    if not any(flag.startswith("-artifact_prefix=") for flag in flags):
        flags = [*flags, f"-artifact_prefix={home}/"]
    sys.stdout.flush()
    sys.stderr.flush()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: its output to the log, then libFuzzer's exit()
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        # No try/finally here: on a crash atheris raises SystemExit, and the interpreter's exit
        # must run libFuzzer's exit handler, which writes the crash-<sha1> file.
        _fuzz(name, flags, corpus)
        os._exit(3)  # not reached: Fuzz() does not return
    _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - started
    text = log.read_text(errors="replace")
    done = re.search(r"Done (\d+) runs in (\d+) second", text)
    result: dict[str, object] = {
        "target": name,
        "exit_status": os.waitstatus_to_exitcode(status),
        "runs": int(done.group(1)) if done else 0,
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "max_rss_mb": usage.ru_maxrss // 1024,
        "crashes": sorted(
            p.name for p in home.iterdir() if p.name.startswith(("crash-", "timeout-", "oom-"))
        ),
    }
    (home / "result.json").write_text(json.dumps(result, indent=1))
    return result


def main(argv: list[str]) -> int:
    args = argv[1:]
    names = [a for a in args if not a.startswith("-") and (a in TARGETS or a == "all")]
    if not names or "--list" in args:
        print("targets:", " ".join(TARGETS), file=sys.stderr)  # noqa: T201
        return 0 if "--list" in args else 2
    flags = [a for a in args if a not in names]
    options: dict[str, str] = {}
    for option in ("--corpus", "--out", "--corpus-root"):
        if option in flags:
            at = flags.index(option)
            options[option] = flags[at + 1]
            del flags[at : at + 2]
    chosen = list(TARGETS) if "all" in names else names
    if "--out" not in options and len(chosen) == 1:
        where = options.get("--corpus") or tempfile.mkdtemp(prefix=f"fuzz-{chosen[0]}-")
        _fuzz(chosen[0], flags, Path(where))
    out = Path(options.get("--out") or tempfile.mkdtemp(prefix="fuzz-"))
    start = resource.getrusage(resource.RUSAGE_SELF)
    print(f"imported and instrumented in {start.ru_utime + start.ru_stime:.1f} s CPU")  # noqa: T201
    failed = 0
    for name in chosen:
        corpus = Path(options.get("--corpus-root") or out) / name / "corpus"
        result = _forked(name, flags, out, corpus)
        print(json.dumps(result), flush=True)  # noqa: T201
        failed += result["exit_status"] != 0 or bool(result["crashes"])
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
