"""Run DueSpark's benchmarks, one after another, and summarise them.

    .venv/bin/python bench/run.py [--scale smoke|full] [--only NAME ...] [--markdown]

Each benchmark is its own script (``bench/<name>.py --scale ...``), run here as a
subprocess with its output shown as it goes; its last line, ``RESULT {json}``, is
collected. The summary gives each benchmark's figures, its ratio to the baseline it
measured in the same run, its target and whether it was met, then the machine (CPU,
cores, memory, Python, PostgreSQL, load). ``--markdown`` prints the summary as the
tables of ``docs/benchmarks.md``.

Exit status: 0 when every benchmark ran and reported no errors (a missed target is a
finding, not a failure), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

from _common import BENCH_DIR, machine, say

BENCHMARKS = ["api", "delivery", "planning", "analytics_summary", "backup", "memory", "soak"]
# Arguments for benchmarks that do not take --scale (a teammate's script, its own flags).
SCALE_ARGUMENTS = {"analytics_summary": {"smoke": ["--invoices", "2000"], "full": []}}


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=["smoke", "full"], default="full")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=BENCHMARKS,
        metavar="NAME",
        help=f"Run only these ({', '.join(BENCHMARKS)}).",
    )
    parser.add_argument("--markdown", action="store_true", help="Print the summary as Markdown.")
    args = parser.parse_args()
    names = args.only or BENCHMARKS
    before = machine()
    results: list[dict[str, Any]] = []
    for name in names:
        results.append(run_one(name, args.scale))
    after = machine()
    say("")
    say(markdown(results, before, after, args.scale) if args.markdown else table(results))
    if not args.markdown:
        say("")
        for key, value in before.items():
            shown = f"{value} (before), {after[key]} (after)" if key == "load" else value
            say(f"{key:11} {shown}")
    failed = [r["name"] for r in results if r.get("errors", 1) or r.get("missing")]
    return 1 if failed else 0


def run_one(name: str, scale: str) -> dict[str, Any]:
    """Run ``bench/<name>.py``; its RESULT record (or one that says why there is none)."""
    script = BENCH_DIR / f"{name}.py"
    if not script.exists():
        say(f"== {name}: {script.name} does not exist")
        return _missing(name, f"{script.name} does not exist")
    extra = SCALE_ARGUMENTS.get(name, {}).get(scale, ["--scale", scale])
    say(f"== {name} ({scale})")
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, str(script), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=BENCH_DIR.parent,
    )
    record: dict[str, Any] | None = None
    assert process.stdout is not None
    for line in process.stdout:
        say(f"   {line}", end="")
        if line.startswith("RESULT "):
            try:
                record = json.loads(line.removeprefix("RESULT "))
            except json.JSONDecodeError:
                record = None
    code = process.wait()
    seconds = time.monotonic() - started
    say(f"   ({seconds:.0f} s, exit {code})")
    if record is None:
        return _missing(name, f"no RESULT line (exit {code})")
    record["seconds"] = round(seconds, 1)
    # A script may exit 1 for a missed target (a finding, shown as such); its RESULT line
    # says whether it ran into errors.
    record["exit"] = code
    return record


def _missing(name: str, why: str) -> dict[str, Any]:
    return {
        "name": name,
        "figures": {},
        "baseline": {},
        "ratio": None,
        "target": "",
        "met": False,
        "errors": 1,
        "missing": why,
    }


def _ratio(record: dict[str, Any]) -> str:
    ratio = record.get("ratio")
    return "—" if ratio is None else f"{ratio:.3g}"


def _status(record: dict[str, Any]) -> str:
    if record.get("missing"):
        return f"not run: {record['missing']}"
    if record.get("errors"):
        return f"ERRORS ({record['errors']})"
    status = "met" if record.get("met") else "missed"
    return f"{status} (exit {record['exit']})" if record.get("exit") else status


def _pairs(values: dict[str, Any]) -> str:
    return ", ".join(f"{key} {value}" for key, value in values.items())


def table(results: list[dict[str, Any]]) -> str:
    lines = [f"{'benchmark':18} {'ratio':>8}  {'target':44} status"]
    for record in results:
        lines.append(
            f"{record['name']:18} {_ratio(record):>8}  {record['target'][:44]:44} {_status(record)}"
        )
        lines.append(f"{'':18} figures:  {_pairs(record['figures'])}")
        lines.append(f"{'':18} baseline: {_pairs(record['baseline'])}")
    return "\n".join(lines)


def markdown(
    results: list[dict[str, Any]], before: dict[str, str], after: dict[str, str], scale: str
) -> str:
    lines = [
        f"Scale: `{scale}`.",
        "",
        "| benchmark | ratio | target | status |",
        "| --- | --- | --- | --- |",
    ]
    for record in results:
        lines.append(
            f"| {record['name']} | {_ratio(record)} | {record['target']} | {_status(record)} |"
        )
    lines += ["", "| benchmark | DueSpark | baseline |", "| --- | --- | --- |"]
    for record in results:
        lines.append(
            f"| {record['name']} | {_pairs(record['figures'])} | {_pairs(record['baseline'])} |"
        )
    lines += ["", "| machine | |", "| --- | --- |"]
    for key, value in before.items():
        shown = f"{value} before, {after[key]} after (1, 5, 15 min)" if key == "load" else value
        lines.append(f"| {key} | {shown} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
