"""Running ``airdeck`` for CLI tests: in this process (``run``) or as a child (``run_child``) on the code under test."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import airdeck
import pytest
from airdeck.cli.main import main

#: The folder holding the ``airdeck`` package being tested (a child gets it on PYTHONPATH).
PLATFORM = Path(airdeck.__file__).resolve().parents[1]


@dataclass
class Ran:
    code: int
    out: str
    err: str


def run(capsys: pytest.CaptureFixture[str], *args: str) -> Ran:
    code = main(list(args))
    captured = capsys.readouterr()
    return Ran(code, captured.out, captured.err)


def run_child(cwd: Path, *args: str, env: dict[str, str] | None = None,
              timeout: float = 120) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PLATFORM), "AIRDECK_HOME": str(cwd / "home")}
    return subprocess.run([sys.executable, "-m", "airdeck.cli.main", *args], cwd=cwd, env={**base, **(env or {})},
                          capture_output=True, text=True, check=False, timeout=timeout)
