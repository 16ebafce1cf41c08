#!/usr/bin/env python3
"""Set up a local environment and run DueSpark or its tests, with nothing but Python 3.11+.

    python3 dev.py serve [duespark serve options]   run DueSpark at http://127.0.0.1:8000
    python3 dev.py test  [pytest options]           lint, then run the whole test suite
    python3 dev.py duespark ARGS...                 any other duespark command

The first run creates ``.venv`` beside this file and installs the pinned dependencies from
``pyproject.toml``; later runs reinstall only when ``pyproject.toml`` changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def ensure_environment(extra: str) -> None:
    """Create the virtual environment and install the project, once per pyproject change."""
    if sys.version_info < (3, 11):  # noqa: UP036 (dev.py may be run by an older Python)
        sys.exit(f"DueSpark needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not PYTHON.exists():
        print(f"Creating a virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    fingerprint = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = VENV / f".installed-{extra or 'base'}"
    if stamp.exists() and stamp.read_text() == fingerprint:
        return
    target = f"{ROOT}[{extra}]" if extra else str(ROOT)
    print("Installing DueSpark and its pinned dependencies ...", flush=True)
    run([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    run([str(PYTHON), "-m", "pip", "install", "--quiet", "--editable", target])
    stamp.write_text(fingerprint)


def run(command: list[str]) -> None:
    result = subprocess.run(command, cwd=ROOT, check=False)
    if result.returncode != 0:
        sys.exit(result.returncode)


def main(argv: list[str]) -> None:
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(__doc__)
        return
    command, rest = argv[0], argv[1:]
    if command == "serve":
        ensure_environment("")
        os.execv(BIN / "duespark", [str(BIN / "duespark"), "serve", *rest])
    elif command == "test":
        ensure_environment("test")
        run([str(BIN / "ruff"), "check", "src", "tests", "bench", "scripts", "dev.py"])
        run([str(BIN / "ruff"), "format", "--check", "src", "tests", "bench", "scripts", "dev.py"])
        os.execv(PYTHON, [str(PYTHON), "-m", "pytest", *rest])
    elif command == "duespark":
        ensure_environment("")
        os.execv(BIN / "duespark", [str(BIN / "duespark"), *rest])
    else:
        sys.exit(f"unknown command {command!r}; try: python3 dev.py --help")


if __name__ == "__main__":
    main(sys.argv[1:])
