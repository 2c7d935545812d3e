"""Run each atheris fuzzer for a bounded time from its committed seed corpus; a crash fails the test.

Every crash found so far is kept in ``regressions/<target>/`` and replayed here too (quickly, with the
same harness), so a fixed crash stays fixed. ``AIRDECK_FUZZ_SECONDS`` sets the time per fuzzer
(default 35 s in CI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PLATFORM = HERE.parents[1] / "platform"
SECONDS = int(os.environ.get("AIRDECK_FUZZ_SECONDS", "35"))
TARGETS = ("config", "statsd", "archive")

pytest.importorskip("atheris", reason="atheris is in the dev dependency group; scripts/test installs it")


def _fuzz(target: str, tmp_path: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PLATFORM), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(HERE / f"fuzz_{target}.py"), "-rss_limit_mb=2048",
                           f"-artifact_prefix={tmp_path}/", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, errors="replace", check=False, timeout=timeout)


def _crash_report(done: subprocess.CompletedProcess[str], tmp_path: Path) -> str:
    saved = sorted(p.name for p in tmp_path.glob("crash-*")) + sorted(p.name for p in tmp_path.glob("timeout-*"))
    tail = "\n".join(line for line in done.stderr.splitlines() if not line.startswith("#"))[-6000:]
    return f"exit {done.returncode}; inputs saved: {saved}\n{tail}"


@pytest.mark.timeout(SECONDS + 120)
@pytest.mark.parametrize("target", TARGETS)
def test_fuzzer_finds_no_crash(target: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"  # libFuzzer adds what it finds to the first folder: not the committed one
    corpus.mkdir()
    done = _fuzz(target, tmp_path, f"-max_total_time={SECONDS}", "-timeout=10", str(corpus),
                 str(HERE / "corpus" / target), timeout=SECONDS + 90)
    assert done.returncode == 0, _crash_report(done, tmp_path)
    assert "Done " in done.stderr, done.stderr[-2000:]


@pytest.mark.parametrize("target", sorted(p.name for p in (HERE / "regressions").iterdir()))
def test_crashes_found_before_stay_fixed(target: str, tmp_path: Path) -> None:
    inputs = sorted((HERE / "regressions" / target).glob("*"))
    assert inputs
    copies = []
    for path in inputs:
        shutil.copy(path, tmp_path / path.name)
        copies.append(str(tmp_path / path.name))
    done = _fuzz(target, tmp_path, *copies, timeout=120)  # files instead of folders: run each input once
    assert done.returncode == 0, _crash_report(done, tmp_path)
