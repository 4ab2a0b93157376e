"""Long fuzzing runs of the dialect body parsers (reliability.md B3), beyond the CI's bound.

Usage: uv run python bench/fuzz.py [--runs 1000000] [--max-time 3600] [--only NAME ...]
       [--corpus-dir bench/.data/fuzz] [--seed N]

Runs every target of tests/fuzz/targets.py (or those named) through
`python -m tests.fuzz.run_target ... --out DIR`: one process imports and instruments the
dialects once and forks a child per target, each running libFuzzer for `--runs` inputs or
`--max-time` seconds, whichever comes first, with a 10 s per-input timeout (a hang) and a
1 GiB memory limit. The corpus each target grows is kept in --corpus-dir (not committed), so
a second run goes on from where the first stopped. A crash leaves its input as
DIR/NAME/crash-<sha1>; replay it with
`uv run python -m tests.fuzz.run_target NAME DIR/NAME/crash-<sha1>` and keep it as a
regression case in tests/fuzz/test_fuzz_parsers.py (CRASHES). Per target: runs, wall and CPU
seconds, execs per CPU second, peak memory and crashes; written to bench/results/fuzz.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "fuzz.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--max-time", type=int, default=3600, help="seconds per target")
    parser.add_argument("--only", nargs="*", default=["all"])
    parser.add_argument("--corpus-dir", type=Path, default=ROOT / "bench" / ".data" / "fuzz")
    parser.add_argument("--seed", type=int, default=0, help="libFuzzer's seed (0: random)")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="fuzz-"))
    # Corpora kept between runs: --corpus-dir/NAME/corpus.
    args.corpus_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "tests.fuzz.run_target",
        *args.only,
        f"-runs={args.runs}",
        f"-max_total_time={args.max_time}",
        "-timeout=10",
        "-rss_limit_mb=1024",
        "-print_final_stats=1",
        f"-seed={args.seed}",
        "--out",
        str(out),
        "--corpus-root",
        str(args.corpus_dir),
    ]
    print(" ".join(command[1:]), flush=True)
    finished = subprocess.run(  # noqa: S603 - fixed arguments
        command, cwd=ROOT, capture_output=True, text=True, check=False
    )
    print(finished.stderr[-2000:] if finished.returncode else "", end="")
    results = [json.loads(line) for line in finished.stdout.splitlines() if line.startswith("{")]
    head = f"{'target':24} {'runs':>9} {'wall s':>8} {'execs/cpu-s':>11} {'cpu s':>8}"
    print(f"{head} {'MB':>5} crashes")
    for r in results:
        rate = r["runs"] / r["cpu_s"] if r["cpu_s"] else 0.0  # per CPU second: load-independent
        r["execs_per_cpu_s"] = round(rate)
        print(
            f"{r['target']:24} {r['runs']:>9} {r['wall_s']:>8} {rate:>11.0f} {r['cpu_s']:>8}"
            f" {r['max_rss_mb']:>5} {', '.join(r['crashes']) or '-'}"
        )
    RESULTS.write_text(
        json.dumps(
            {
                "runs_per_target": args.runs,
                "max_time_per_target_s": args.max_time,
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "targets": results,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"written to {RESULTS.relative_to(ROOT)}")
    if any(r["crashes"] for r in results) or finished.returncode != 0:
        print(f"logs and crashes kept in {out}")
    else:
        shutil.rmtree(out, ignore_errors=True)
    return finished.returncode


if __name__ == "__main__":
    raise SystemExit(main())
