"""Workers never run as root by accident (issue 22, finding 14).

airdeck under root runs the workers as the system user ``airdeck-worker``. When that user cannot reach the
interpreter, airdeck, the state folder or the DAG folder (pyenv's Python under /root, as on the machines
these tests run on), ``airdeck up`` refuses before anything starts, naming the folder and exactly what to
do, unless ``workers.run_as_root_reason`` says why root is accepted; ``airdeck status`` shows that reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from airdeck import concerns
from airdeck.config.errors import ConfigError
from airdeck.config.loader import parse_config
from airdeck.stack.errors import StackError
from airdeck.stack.orchestrator import Stack
from airdeck.state.home import AirdeckHome

from tests import harness
from tests.harness import new_home, remove_home, stack_pids, write_config

REASON = "a throwaway machine where the DAG authors are the operators"


@pytest.fixture
def blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Root, and a folder on the way to the interpreter other users cannot search (as with pyenv's /root)."""
    monkeypatch.setattr("airdeck.plan.build.os.geteuid", lambda: 0)
    monkeypatch.setattr("airdeck.plan.build.worker_isolation_blocker", lambda home, dags: Path("/root"))
    monkeypatch.setattr("airdeck.stack.workers.os.geteuid", lambda: 0)
    monkeypatch.setattr("airdeck.stack.workers.worker_isolation_blocker", lambda home, dags: Path("/root"))


def _stack(tmp_path: Path, workers: dict) -> Stack:
    return Stack(parse_config({"workers": workers}), AirdeckHome(tmp_path / "home"))


def test_workers_are_not_started_as_root_without_a_reason(tmp_path: Path, blocked: None) -> None:
    stack = _stack(tmp_path, {})
    assert stack.deployment.component("worker-1").user is None
    with pytest.raises(StackError) as refused:
        stack.render()
    text = str(refused.value)
    assert "refusing to start the workers as root" in text and "chmod o+x /root" in text
    assert "workers:\n    run_as_root_reason:" in text and "Nothing was started" in text
    assert not stack.home.supervisor_conf.exists()  # stopped before supervisord.conf was written


def test_a_reason_lets_them_run_as_root_and_status_shows_it(tmp_path: Path, blocked: None) -> None:
    said: list[str] = []
    stack = _stack(tmp_path, {"run_as_root_reason": REASON})
    stack.warn = said.append  # type: ignore[method-assign]
    stack.render()
    assert any(REASON in line and "/root" in line for line in said)
    assert stack.workers_as_root()


def test_the_reason_is_text_of_the_model() -> None:
    with pytest.raises(ConfigError, match="run_as_root_reason"):
        parse_config({"workers": {"run_as_root_reason": "x\n[program:evil]"}})
    assert concerns.plan(parse_config({"workers": {"run_as_root_reason": REASON}}),
                         AirdeckHome(Path("/tmp/unused-home"))).component("worker-1")


@pytest.mark.stack
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the refusal is about root's workers")
def test_up_as_root_refuses_and_status_names_the_reason(tmp_path: Path) -> None:
    """The real case: `airdeck up` as root on a machine whose interpreter other users cannot reach."""
    from airdeck.plan.build import worker_isolation_blocker

    home = new_home()
    if worker_isolation_blocker(AirdeckHome(home), "/tmp") is None:
        pytest.skip("the workers' own user can reach the interpreter here: nothing to refuse")
    config = write_config(tmp_path)
    data = yaml.safe_load(config.read_text())
    del data["workers"]["run_as_root_reason"]
    config.write_text(yaml.safe_dump(data))
    stack = harness.Stack(home, config)
    try:
        up = stack.airdeck("up", "--detach", check=False, timeout=600)
        output = up.stdout + up.stderr
        assert up.returncode != 0, output
        assert "refusing to start the workers as root" in output and "run_as_root_reason" in output, output
        assert "Traceback" not in output
        assert stack_pids(home) == set()
        data["workers"]["run_as_root_reason"] = REASON
        config.write_text(yaml.safe_dump(data))
        status = stack.airdeck("status", check=False)
        assert REASON in " ".join((status.stdout + status.stderr).split())  # rich wraps long notes
    finally:
        stack.airdeck("down", check=False, timeout=300)
        remove_home(home)
