"""Bad input gives one clear line and the documented exit code, whatever characters it holds."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from airdeck.cli.context import CliContext
from airdeck.cli.main import build_parser

from tests.cli.helpers import run


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


def test_logs_of_an_unknown_service(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ran = run(capsys, "--home", str(tmp_path / "home"), "logs", "nope")
    assert ran.code == 2
    line = _one_error_line(ran.err)
    assert "unknown service 'nope'" in line and "scheduler" in line and "supervisord" in line


def test_render_of_an_unknown_service(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ran = run(capsys, "--home", str(tmp_path / "home"), "config", "render", "--service", "nope")
    assert ran.code == 2
    line = _one_error_line(ran.err)
    assert "'nope'" in line and "scheduler" in line


@pytest.mark.parametrize("name", ["[/]", "[red]x[/]", "[bold", "x[/red]y"])
def test_markup_in_a_service_name_is_shown_as_typed(name: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    ran = run(capsys, "--home", str(tmp_path / "home"), "logs", name)
    assert ran.code == 2
    assert repr(name) in _one_error_line(ran.err)


def test_markup_in_an_alert_channel_is_shown_as_typed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "airdeck.yaml"
    config.write_text(yaml.safe_dump({"alerts": {"channels": {
        "ops": {"type": "slack", "connection": "slack_ops"}}}}))
    ran = run(capsys, "--config", str(config), "--home", str(tmp_path / "home"), "alerts", "test",
              "--channel", "[red]x[/]")
    assert ran.code == 2
    line = _one_error_line(ran.err)
    assert "'[red]x[/]'" in line and "ops (slack)" in line


def test_invalid_configuration_exits_2_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "airdeck.yaml"
    config.write_text("workers:\n  replicsa: 2\n")
    ran = run(capsys, "--config", str(config), "--home", str(tmp_path / "home"), "status")
    assert ran.code == 2
    assert "workers.replicsa" in ran.err and "Traceback" not in ran.err
    assert not (tmp_path / "home").exists()


def test_credentials_before_the_first_up(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ran = run(capsys, "--home", str(tmp_path / "home"), "credentials")
    assert ran.code == 1
    assert "run `airdeck up` first" in _one_error_line(ran.err)


def test_context_loads_the_configuration_and_the_stack_once(tmp_path: Path) -> None:
    config = tmp_path / "airdeck.yaml"
    config.write_text("workers:\n  replicas: 3\n")
    args = build_parser().parse_args(["--config", str(config), "--home", str(tmp_path / "home"), "status"])
    from rich.console import Console

    ctx = CliContext.of(args, Console(stderr=True))
    assert ctx.home.root == tmp_path / "home"
    assert ctx.config() is ctx.config() and ctx.config().workers.replicas == 3
    assert ctx.stack() is ctx.stack() and ctx.stack().cfg.workers.replicas == 3
