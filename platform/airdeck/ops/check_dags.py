"""Check a DAG folder for the code changes Airflow 3 needs, with ruff's Airflow rules.

ruff (a runtime dependency, pinned: its rule set moves between releases) runs as a subprocess over
the folder with JSON output; every diagnostic becomes a :class:`Finding` with its file (relative to
the folder), line, column, rule code, message and whether ruff can fix it. Files that cannot be
checked at all (unreadable, not UTF-8, a syntax error) are findings too, under their own codes: a
DAG file Airflow cannot parse is as broken as one that uses a removed API.

The rules (``ruff rule AIR301`` etc. explains each):

* AIR301 ``airflow3-removal``: names and arguments removed in Airflow 3 (``schedule_interval``,
  ``days_ago``, ``airflow.contrib``, SubDAGs, ...);
* AIR302 ``airflow3-moved-to-provider``: moved to a provider package (``DummyOperator``, ...);
* AIR303 ``airflow3-incompatible-function-signature``: calls whose signature changed;
* AIR311 ``airflow3-suggested-update``: still works in Airflow 3 but is deprecated (``airflow.DAG``
  instead of ``airflow.sdk``, ``sla``, datasets, ...);
* AIR312 ``airflow3-suggested-to-move-to-provider``: deprecated core operators now in the standard
  provider (``airflow.operators.bash``, ``airflow.operators.python``, ...);
* AIR304 ``airflow3-dag-dynamic-value`` and AIR321 ``airflow31-moved`` (3.1 moves): ruff preview
  rules, enabled with ``--preview`` because airdeck targets Airflow 3.3.
"""

from __future__ import annotations

import glob
import json
import os
import stat
import subprocess
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from airdeck.errors import AirdeckError
from airdeck.state.childenv import child_env

#: The Airflow 3 rules run, stable and preview (see the module docstring).
RULES: tuple[str, ...] = ("AIR301", "AIR302", "AIR303", "AIR304", "AIR311", "AIR312", "AIR321")
#: ruff's code for a file it could not read; syntax errors come with no code (name ``invalid-syntax``).
IO_ERROR = "E902"
SYNTAX_ERROR = "invalid-syntax"
TIMEOUT_SECONDS = 600


class DagCheckError(AirdeckError):
    """The folder cannot be checked at all (missing, not a folder, ruff failed)."""


@dataclass(frozen=True)
class Finding:
    """One thing to change in one DAG file. ``line``/``column`` are 1-based."""

    file: str
    line: int
    column: int
    code: str
    rule: str
    message: str
    fix_available: bool
    fix: str | None = None

    @property
    def unreadable(self) -> bool:
        """The file could not be checked (read error or syntax error), rather than a rule finding."""
        return self.code in (IO_ERROR, SYNTAX_ERROR)


@dataclass(frozen=True)
class DagCheckReport:
    """The findings in ``folder`` (sorted by file, line, column) and the ruff that produced them."""

    folder: Path
    findings: tuple[Finding, ...] = ()
    files_checked: int = 0
    ruff_version: str = ""
    rules: tuple[str, ...] = RULES
    warnings: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def files_with_findings(self) -> tuple[str, ...]:
        return tuple(sorted({f.file for f in self.findings}))

    def counts(self) -> dict[str, int]:
        """Findings per rule code."""
        return dict(sorted(Counter(f.code for f in self.findings).items()))

    @property
    def fixable(self) -> int:
        return sum(1 for f in self.findings if f.fix_available)

    def fix_command(self) -> str:
        """The ruff command that applies the available fixes (safe ones; add --unsafe-fixes for the rest)."""
        return f"ruff check --isolated --preview --select {','.join(self.rules)} --fix {self.folder}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "ok": self.ok,
            "ruff_version": self.ruff_version,
            "rules": list(self.rules),
            "files_checked": self.files_checked,
            "counts": self.counts(),
            "fixable": self.fixable,
            "findings": [asdict(f) for f in self.findings],
            "warnings": list(self.warnings),
        }


def ruff_binary() -> str:
    """The ruff executable that ships with the installed ``ruff`` package (not whatever is on PATH)."""
    try:
        from ruff.__main__ import find_ruff_bin
    except ImportError as exc:  # pragma: no cover - ruff is a runtime dependency
        raise DagCheckError("ruff is not installed: airdeck check-dags needs the `ruff` package "
                            "(a dependency of airdeck; reinstall airdeck)") from exc
    return os.fsdecode(find_ruff_bin())


def _run_ruff(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(  # noqa: S603 - the ruff binary of the installed package, fixed arguments
            [ruff_binary(), *args], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
            check=False, env=child_env(),
        )
    except subprocess.TimeoutExpired as exc:
        raise DagCheckError(f"ruff did not finish checking within {TIMEOUT_SECONDS} s; "
                            "check a smaller folder") from exc
    except OSError as exc:
        raise DagCheckError(f"cannot run ruff ({exc.strerror or exc}); reinstall airdeck") from exc


def ruff_version() -> str:
    done = _run_ruff(["--version"])
    return done.stdout.strip().removeprefix("ruff ").strip()


def _validate_folder(folder: Path) -> Path:
    if not folder.exists():
        raise DagCheckError(f"DAG folder {folder} does not exist: give the folder that holds your DAG files "
                            "(airdeck check-dags FOLDER)")
    if not folder.is_dir():
        raise DagCheckError(f"{folder} is a file, not a folder: give the DAG folder that holds it "
                            f"(airdeck check-dags {folder.parent})")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise DagCheckError(f"DAG folder {folder} cannot be read (permission denied): "
                            "run as a user who can read it")
    return folder.resolve()


def _finding(folder: Path, diag: dict[str, Any]) -> Finding:
    name = str(diag.get("name") or "")
    code = diag.get("code") or (SYNTAX_ERROR if name == SYNTAX_ERROR else name or "unknown")
    path = Path(str(diag.get("filename", "")))
    try:
        rel = path.relative_to(folder).as_posix()
    except ValueError:
        rel = str(path)
    location = diag.get("location") or {}
    fix = diag.get("fix")
    message = str(diag.get("message", ""))
    if code == IO_ERROR:
        message = f"cannot be read: {message}"
    elif code == SYNTAX_ERROR:
        message = f"syntax error: {message}"
    return Finding(
        file=rel,
        line=int(location.get("row") or 1),
        column=int(location.get("column") or 1),
        code=str(code),
        rule=name,
        message=message,
        fix_available=bool(fix),
        fix=(str(fix.get("message")) if fix and fix.get("message") else None),
    )


def _special_files(folder: Path) -> list[str]:
    """Python files under ``folder`` that are not regular files (a FIFO, a socket, a device): ruff would
    block reading one, so they are left out of its run and reported instead."""
    found = []
    for root, _dirs, files in os.walk(folder):
        for name in files:
            if not name.endswith((".py", ".pyi")):
                continue
            path = Path(root) / name
            try:
                mode = path.stat().st_mode
            except OSError:
                continue  # dangling link: ruff reports it (E902)
            if not stat.S_ISREG(mode):
                found.append(path.relative_to(folder).as_posix())
    return sorted(found)


def _count_files(folder: Path, excludes: list[str]) -> int:
    done = _run_ruff(["check", "--isolated", "--show-files", *excludes, "."], cwd=folder)
    return sum(1 for line in done.stdout.splitlines() if line.strip())


def check_dags(folder: Path) -> DagCheckReport:
    """Run ruff's Airflow 3 rules over ``folder``; raise :class:`DagCheckError` when it cannot be checked.

    ruff runs ``--isolated`` (the folder's own ruff configuration neither adds nor silences rules)
    and without a cache (nothing is written into the folder)."""
    folder = _validate_folder(Path(folder))
    special = _special_files(folder)
    excludes = [arg for rel in special for arg in ("--extend-exclude", glob.escape(rel))]
    args = ["check", "--isolated", "--no-cache", "--preview", "--exit-zero", "--output-format", "json",
            "--select", ",".join((*RULES, IO_ERROR)), *excludes, "."]
    done = _run_ruff(args, cwd=folder)
    if done.returncode != 0:
        raise DagCheckError(f"ruff failed on {folder} (exit {done.returncode}): "
                            f"{done.stderr.strip() or done.stdout.strip()}")
    try:
        diagnostics = json.loads(done.stdout or "[]")
    except json.JSONDecodeError as exc:
        raise DagCheckError(f"ruff printed no JSON for {folder}: {done.stdout[:200]!r}") from exc
    found = [_finding(folder, d) for d in diagnostics]
    found += [Finding(rel, 1, 1, IO_ERROR, "io-error", "cannot be read: not a regular file", False) for rel in special]
    findings = sorted(found, key=lambda f: (f.file, f.line, f.column, f.code))
    warnings = tuple(line.removeprefix("warning: ") for line in done.stderr.splitlines()
                     if line.startswith("warning:"))
    checked = _count_files(folder, excludes) + len(special)
    return DagCheckReport(folder=folder, findings=tuple(findings), files_checked=checked,
                          ruff_version=ruff_version(), warnings=warnings)
