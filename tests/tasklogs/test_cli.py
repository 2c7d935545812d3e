"""`airdeck logs`: one vocabulary for a service's log and a task's log; wrong combinations exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from airdeck.tasklogs.reader import format_entry

from tests.cli.helpers import run


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRDECK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AIRDECK_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(("args", "expected"), [
    (("logs",), "name a SERVICE"),
    (("logs", "scheduler", "--task", "d", "t"), "either SERVICE or --task"),
    (("logs", "--task", "d", "t", "-f"), "cannot be followed"),
    (("logs", "scheduler", "--try", "2"), "go with --task"),
    (("logs", "scheduler", "--run", "r"), "go with --task"),
])
def test_wrong_combinations_exit_2(capsys: pytest.CaptureFixture[str], args: tuple[str, ...], expected: str) -> None:
    ran = run(capsys, *args)
    assert ran.code == 2 and expected in ran.err


def test_a_task_log_before_any_platform_says_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    ran = run(capsys, "logs", "--task", "example_etl_daily", "extract")
    assert ran.code == 1 and "run `airdeck up` first" in ran.err


def test_structured_messages_become_lines() -> None:
    assert format_entry({"timestamp": "2026-11-26T10:00:00Z", "level": "info", "event": "MARKER x",
                         "logger": "task.stdout"}) == "2026-11-26T10:00:00Z INFO MARKER x logger=task.stdout"
    assert format_entry({"event": "::group::Log message source details",
                         "sources": ["s3://bkt/airflow/x.log"]}) == \
        "::group::Log message source details sources: s3://bkt/airflow/x.log"
