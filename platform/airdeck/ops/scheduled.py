"""The ``backup`` service: scheduled backups with retention, run by the platform under supervisord.

``python -m airdeck.ops.scheduled --home HOME [--config FILE]`` takes a backup every ``backup.schedule``
into ``backup.folder`` (named ``scheduled-airdeck-<time>.airdeck-backup``) and keeps the newest
``backup.keep`` scheduled archives. The next backup is due ``schedule`` after the newest scheduled
archive, so a restart of the service or the platform does not take an extra one. The passphrase (or
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


def last_taken(folder: Path) -> datetime | None:
    newest = None
    for path in folder.glob(f"{backup.SCHEDULED_PREFIX}airdeck-*{backup.SUFFIX}"):
        stamp = path.name.removeprefix(f"{backup.SCHEDULED_PREFIX}airdeck-").removesuffix(backup.SUFFIX)
        try:
            when = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            continue
        newest = when if newest is None or when > newest else newest
    return newest


def seconds_until_due(folder: Path, every: float, now: datetime | None = None) -> float:
    last = last_taken(folder)
    if last is None:
        return 0.0
    elapsed = ((now or datetime.now(UTC)) - last).total_seconds()
    return max(0.0, every - elapsed)


def log(message: str) -> None:
    print(f"{datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')} backup: {message}", flush=True)


def run_once(home: AirdeckHome, config: str | None) -> float:
    """Take one scheduled backup and prune; the seconds to wait before the next attempt."""
    cfg = load_config(config)
    every = cfg.backup.schedule.total_seconds() if cfg.backup.schedule else 86400.0
    where = backup.folder(cfg, home)
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
