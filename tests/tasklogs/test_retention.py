"""Retention of local task log files, on real files with real ages (mtime set with os.utime)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from airdeck.tasklogs.retention import sweep

DAY = 86_400.0


def _file(root: Path, relative: str, age_days: float, now: float, size: int = 10) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    os.utime(path, (now - age_days * DAY, now - age_days * DAY))
    return path


def test_removes_only_files_past_the_age_and_the_folders_they_empty(tmp_path: Path) -> None:
    now = time.time()
    old = _file(tmp_path, "dag_id=a/run_id=r1/task_id=t/attempt=1.log", 31, now, size=100)
    old2 = _file(tmp_path, "dag_id=a/run_id=r1/task_id=u/attempt=1.log", 40, now)
    young = _file(tmp_path, "dag_id=a/run_id=r2/task_id=t/attempt=1.log", 29.9, now)
    edge = _file(tmp_path, "dag_id=b/run_id=r/task_id=t/attempt=2.log", 29.999, now)
    for folder in (tmp_path / "dag_id=a/run_id=r1/task_id=t", tmp_path / "dag_id=a/run_id=r1/task_id=u",
                   tmp_path / "dag_id=a/run_id=r1"):
        os.utime(folder, (now - 31 * DAY, now - 31 * DAY))
    result = sweep(tmp_path, 30 * DAY, now=now)
    assert not old.exists() and not old2.exists()
    assert young.exists() and edge.exists()
    assert not (tmp_path / "dag_id=a/run_id=r1").exists(), "the run folder emptied by the sweep is removed"
    assert (tmp_path / "dag_id=a/run_id=r2/task_id=t").is_dir()
    assert tmp_path.is_dir(), "the log folder itself stays"
    assert (result.files, result.bytes, result.kept, result.errors) == (2, 110, 2, 0)
    assert result.folders == 3


def test_a_recent_empty_folder_stays(tmp_path: Path) -> None:
    """A task's folder is created just before its file: an empty young folder is not removed."""
    (tmp_path / "dag_id=a/run_id=new/task_id=t").mkdir(parents=True)
    sweep(tmp_path, 3600)
    assert (tmp_path / "dag_id=a/run_id=new/task_id=t").is_dir()


def test_symbolic_links_are_neither_followed_nor_removed(tmp_path: Path) -> None:
    now = time.time()
    outside = tmp_path / "outside"
    target = _file(outside, "precious.log", 100, now)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "link-to-dir").symlink_to(outside, target_is_directory=True)
    (logs / "link-to-file").symlink_to(target)
    os.utime(logs / "link-to-file", (now - 100 * DAY, now - 100 * DAY), follow_symlinks=False)
    result = sweep(logs, DAY, now=now)
    assert target.exists() and (logs / "link-to-dir").is_symlink() and (logs / "link-to-file").is_symlink()
    assert result.files == 0


def test_a_missing_folder_is_no_error(tmp_path: Path) -> None:
    result = sweep(tmp_path / "nothing-yet", DAY)
    assert (result.files, result.errors) == (0, 0)


def test_the_component_sweeps_once_and_reports(tmp_path: Path) -> None:
    now = time.time()
    old = _file(tmp_path, "dag_id=a/run_id=r/task_id=t/attempt=1.log", 3, now)
    young = _file(tmp_path, "dag_id=a/run_id=s/task_id=t/attempt=1.log", 1, now)
    done = subprocess.run([sys.executable, "-m", "airdeck.tasklogs.retention", "--folder", str(tmp_path),
                           "--max-age", str(2 * DAY), "--once"], capture_output=True, text=True, timeout=60,
                          check=True)
    assert "removed 1 files" in done.stdout and "kept 1" in done.stdout
    assert not old.exists() and young.exists()


def test_a_sweep_of_ten_thousand_files_is_cheap(tmp_path: Path) -> None:
    """The cost that decides how often it may run: one stat per file, nothing opened."""
    now = time.time()
    for run in range(100):
        folder = tmp_path / f"dag_id=d/run_id=r{run}/task_id=t"
        folder.mkdir(parents=True)
        for attempt in range(100):
            (folder / f"attempt={attempt}.log").write_bytes(b"")
    result = sweep(tmp_path, DAY, now=now)
    assert result.kept == 10_000 and result.files == 0
    assert result.seconds < 5, f"a sweep of 10,000 files took {result.seconds:.2f}s"
    print(f"\nsweep of 10,000 kept files: {result.seconds * 1000:.0f} ms")
