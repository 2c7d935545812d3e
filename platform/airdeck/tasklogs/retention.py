"""Retention of local task log files: files older than ``logging.retention`` are removed, then the
folders they leave empty. Runs as the small supervised component ``log-retention`` (one sweep at
start, then one every ``logging.retention_interval``), with or without remote logs.

A sweep is one walk of the folder with ``os.scandir`` (no file is opened; symbolic links are never
followed and never removed), so it costs a stat per file: see docs/logging.md for the figures.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Sweep:
    files: int = 0  # removed
    folders: int = 0  # removed because empty
    kept: int = 0
    bytes: int = 0  # freed
    errors: int = 0
    seconds: float = 0.0

    def line(self, folder: Path) -> str:
        return (f"swept {folder}: removed {self.files} files ({self.bytes} bytes) and {self.folders} empty "
                f"folders, kept {self.kept}, {self.errors} errors, {self.seconds:.3f}s")


def sweep(folder: Path, max_age: float, now: float | None = None) -> Sweep:
    """Remove regular files under ``folder`` last modified more than ``max_age`` seconds before ``now``."""
    started = time.monotonic()
    cutoff = (time.time() if now is None else now) - max_age
    result = Sweep()
    if folder.is_dir():
        _walk(str(folder), cutoff, result, top=True)
    result.seconds = time.monotonic() - started
    return result


def _walk(path: str, cutoff: float, result: Sweep, top: bool = False) -> bool:
    """Sweep one folder; True when it is empty afterwards."""
    empty = True
    try:
        entries = list(os.scandir(path))
    except OSError:
        result.errors += 1
        return False
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                # age taken before the walk (removing files touches the folder); a folder the sweep emptied
                # goes too, an empty one only when old (a task's folder is created just before its file)
                old = _older(entry, cutoff)
                removed = result.files
                if _walk(entry.path, cutoff, result) and (old or result.files > removed):
                    os.rmdir(entry.path)
                    result.folders += 1
                else:
                    empty = False
            elif entry.is_file(follow_symlinks=False) and _older(entry, cutoff):
                size = entry.stat(follow_symlinks=False).st_size
                os.unlink(entry.path)
                result.files += 1
                result.bytes += size
            else:
                result.kept += 1
                empty = False
        except OSError:  # removed meanwhile, or not ours to remove
            result.errors += 1
            empty = False
    return empty and not top


def _older(entry: os.DirEntry[str], cutoff: float) -> bool:
    return entry.stat(follow_symlinks=False).st_mtime < cutoff


def _seconds(text: str) -> float:
    """A duration in airdeck.yaml's forms (logging.retention, retention_interval), as seconds."""
    from pydantic import TypeAdapter, ValidationError

    from airdeck.config.base import Duration

    try:
        seconds = TypeAdapter(Duration).validate_python(text).total_seconds()
    except ValidationError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (e.g. 30d, 12h, 90m, or seconds)") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a duration must be positive")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airdeck.tasklogs.retention",
                                     description="remove local task log files older than --max-age")
    parser.add_argument("--folder", required=True, type=Path)
    parser.add_argument("--max-age", required=True, type=_seconds,
                        help="a duration as airdeck.yaml writes it (30d, 12h, 90m) or seconds")
    parser.add_argument("--every", type=_seconds, default=3600.0,
                        help="time between sweeps, a duration or seconds (default 1h)")
    parser.add_argument("--once", action="store_true", help="one sweep, then exit")
    args = parser.parse_args(argv)
    stopping = False

    def _stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"log retention: {args.folder}, files older than {args.max_age:.0f}s, every {args.every:.0f}s",
          flush=True)
    while True:
        print(sweep(args.folder, args.max_age).line(args.folder), flush=True)
        if args.once:
            return 0
        deadline = time.monotonic() + args.every
        while not stopping and time.monotonic() < deadline:
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        if stopping:
            return 0


if __name__ == "__main__":
    sys.exit(main())
