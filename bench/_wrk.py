"""Load generation with ``wrk`` (Debian's package): cheap enough to share two cores with
the server it measures, unlike a Python load generator, which would need one of them.

``run_wrk`` runs it once and parses its ``--latency`` report: requests per second, the
latency percentiles, responses that were not 2xx/3xx and socket errors.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from _common import BENCH_DIR

POST_SCRIPT = BENCH_DIR / "wrk_post_invoice.lua"
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_LATENCY = re.compile(r"^\s+(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_REQUESTS = re.compile(r"^\s+(\d+) requests in ([\d.]+)(us|ms|s|m)", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


class WrkMissing(RuntimeError):
    """wrk is not installed."""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    report: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors

    def figures(self) -> dict[str, float]:
        return {
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "requests": self.requests,
            "errors": self.errors,
        }


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise WrkMissing(
            "wrk is not installed: the API benchmarks need it as their load generator "
            "(Debian: apt-get install -y wrk)"
        )
    return found


def run_wrk(
    url: str,
    *,
    seconds: float,
    connections: int,
    headers: Mapping[str, str] | None = None,
    script: Path | None = None,
    script_args: Sequence[str] = (),
    threads: int = 1,
) -> WrkResult:
    """Run ``wrk`` against ``url`` for ``seconds`` with ``connections`` open connections."""
    command = [
        wrk_path(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "--latency",
    ]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    if finished.returncode != 0:
        raise RuntimeError(
            f"wrk failed ({finished.returncode}): {finished.stderr or finished.stdout}"
        )
    return parse_report(finished.stdout)


def parse_report(report: str) -> WrkResult:
    """The figures of one ``wrk --latency`` report."""
    latencies = {int(p): float(v) * _UNITS[u] for p, v, u in _LATENCY.findall(report)}
    requests = _REQUESTS.search(report)
    if requests is None or 50 not in latencies or 99 not in latencies:
        raise RuntimeError(f"cannot read wrk's report:\n{report}")
    seconds = float(requests.group(2)) * _UNITS[requests.group(3)] / 1000
    non_2xx = _NON_2XX.search(report)
    socket = _SOCKET.search(report)
    return WrkResult(
        requests=int(requests.group(1)),
        seconds=seconds,
        p50_ms=latencies[50],
        p99_ms=latencies[99],
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in socket.groups()) if socket else 0,
        report=report,
    )
