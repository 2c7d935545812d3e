"""The previous release's commit: the upgrade test's install step in a shallow clone that lacks it.

A real ``git clone --depth 1`` of this repository stands for CI's clone; scripts/test's install step
(``previous_release.main``) must fail there under ``CI=true`` and skip, saying why, elsewhere.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.harness import REPO
from tests.ops import previous_release


@pytest.fixture
def shallow(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    if subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True).returncode != 0:
        pytest.skip(f"{REPO} is not a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", "--depth", "1", f"file://{REPO}", str(clone)], check=True)
    monkeypatch.setattr(previous_release, "REPO", clone)
    monkeypatch.setenv("AIRDECK_TEST_VENVS", str(tmp_path / "venvs"))
    return clone


def test_the_release_commit_is_recorded_in_full() -> None:
    assert len(previous_release.COMMIT) == 40 and int(previous_release.COMMIT, 16) >= 0


def test_a_shallow_clone_fails_in_ci(shallow, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CI", "true")
    assert previous_release.main() == 1
    err = capsys.readouterr().err
    assert previous_release.COMMIT in err and "git fetch --unshallow" in err and err.startswith("error:")
    assert not (shallow.parent / "venvs").exists()


def test_a_shallow_clone_skips_elsewhere(shallow, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("CI", raising=False)
    assert previous_release.main() == 0
    err = capsys.readouterr().err
    assert err.startswith("skipping the upgrade test's previous release") and previous_release.COMMIT in err
    with pytest.raises(previous_release.Unavailable):
        previous_release.ensure()
