"""The ``backup`` service: scheduled backups with retention, run by the platform under supervisord.

``python -m airdeck.ops.scheduled --home HOME [--config FILE]`` takes a backup every ``backup.schedule``
into ``backup.folder`` (named ``scheduled-airdeck-<time>.airdeck-backup``) and keeps the newest
``backup.keep`` scheduled archives. The next backup is due ``schedule`` after the newest scheduled
archive, so a restart of the service or the platform does not take an extra one; an archive dated in
the future (a clock that jumped) is ignored and reported at each run, never trusted to mean "done". The passphrase (or
key file) is read from ``backup.passphrase_file`` (``backup.key_file``) at each run. A failed backup
is logged (without secrets) and retried after ``RETRY``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from airdeck.config import load_config
from airdeck.errors import AirdeckError
from airdeck.ops import backup
from airdeck.state.home import AirdeckHome

RETRY = 300.0


def _dated(folder: Path) -> list[tuple[Path, datetime]]:
    out = []
    for path in folder.glob(f"{backup.SCHEDULED_PREFIX}airdeck-*{backup.SUFFIX}"):
        stamp = path.name.removeprefix(f"{backup.SCHEDULED_PREFIX}airdeck-").removesuffix(backup.SUFFIX)
        try:
            out.append((path, datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)))
        except ValueError:
            continue
    return out


def future_dated(folder: Path, now: datetime | None = None) -> list[Path]:
    """Scheduled archives whose name is later than now (a clock that jumped): ignored, and reported."""
    limit = (now or datetime.now(UTC)) + backup.CLOCK_SKEW
    return sorted(path for path, when in _dated(folder) if when > limit)


def last_taken(folder: Path, now: datetime | None = None) -> datetime | None:
    """The newest scheduled archive's time; archives dated in the future do not count (one of them would
    otherwise silence the schedule until that date)."""
    limit = (now or datetime.now(UTC)) + backup.CLOCK_SKEW
    times = [when for _path, when in _dated(folder) if when <= limit]
    return max(times, default=None)


def seconds_until_due(folder: Path, every: float, now: datetime | None = None) -> float:
    now = now or datetime.now(UTC)
    last = last_taken(folder, now)
    if last is None:
        return 0.0
    elapsed = (now - last).total_seconds()
    return max(0.0, every - elapsed)


def log(message: str) -> None:
    print(f"{datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')} backup: {message}", flush=True)


def run_once(home: AirdeckHome, config: str | None) -> float:
    """Take one scheduled backup and prune; the seconds to wait before the next attempt."""
    cfg = load_config(config)
    every = cfg.backup.schedule.total_seconds() if cfg.backup.schedule else 86400.0
    where = backup.folder(cfg, home)
    future = future_dated(where)
    if future:
        log(f"ignored {len(future)} scheduled archive(s) dated in the future ({', '.join(p.name for p in future)}): "
            "the clock jumped, or they were copied in from elsewhere. The schedule counts from the newest archive "
            "not in the future; check the clock, then rename or move those files (`airdeck backup --list` marks them)")
    wait = seconds_until_due(where, every)
    if wait > 0:
        return wait
    try:
        secret = backup.lock(cfg)
        done = backup.create(cfg, home, secret, scheduled=True)
    except AirdeckError as exc:
        log(f"failed: {exc}; next attempt in {RETRY:.0f}s")
        return RETRY
    log(f"wrote {done.path} ({done.size} bytes, {done.seconds:.1f}s, schema {done.manifest['schema_revision']})")
    for removed in backup.prune(where, cfg.backup.keep):
        log(f"removed {removed.name} (backup.keep: {cfg.backup.keep})")
    return every


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airdeck.ops.scheduled")
    parser.add_argument("--home", required=True)
    parser.add_argument("--config")
    args = parser.parse_args(argv)
    home = AirdeckHome.from_env(args.home)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log(f"scheduled backups of {home.root}")
    while True:
        wait = run_once(home, args.config)
        time.sleep(min(wait, 3600.0) if wait > 0 else 1.0)


if __name__ == "__main__":
    sys.exit(main())
