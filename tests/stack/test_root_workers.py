"""Workers never run as root by accident (issue 22, finding 14).

airdeck under root runs the workers as the system user ``airdeck-worker``. When only the Python interpreter
is out of that user's reach (pyenv's Python under /root, as on the machines these tests run on), the
workers run a copy of it in ``$AIRDECK_HOME/runtime`` (``stack.runtime``). When that user cannot reach
airdeck, its packages, the state folder or the DAG folder, ``airdeck up`` refuses before anything starts,
naming the folder and exactly what to do, unless ``workers.run_as_root_reason`` says why root is accepted;
``airdeck status`` shows that reason."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
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
    """Root, and a folder on the way to the DAG folder other users cannot search (here: /root)."""
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
    """The real case: `airdeck up` as root with a DAG folder other users cannot reach (pytest's 0700 tmp)."""
    from airdeck.plan.build import worker_isolation_blocker

    home = new_home()
    dags = tmp_path / "dags"
    dags.mkdir()
    if worker_isolation_blocker(AirdeckHome(home), str(dags)) is None:
        pytest.skip("the workers' own user can reach this DAG folder: nothing to refuse")
    config = write_config(tmp_path, {"airflow": {"dags_folder": str(dags)}})
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


# --- the workers' own interpreter (stack.runtime) when only the interpreter is out of their reach ---


def test_only_an_unreachable_interpreter_gives_isolated_workers_on_a_copy(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from airdeck.plan import build

    monkeypatch.setattr(build.os, "geteuid", lambda: 0)
    monkeypatch.setattr(build, "worker_isolation_blocker", lambda home, dags: None)
    monkeypatch.setattr(build, "interpreter_blocker", lambda: Path("/root"))
    home = AirdeckHome(tmp_path / "home")
    deployment = concerns.plan(parse_config({}), home)
    worker = deployment.component("worker-1")
    runtime = home.root / "runtime"
    assert worker.user == "airdeck-worker" and deployment.worker_runtime == str(runtime)
    assert worker.argv[:5] == (str(runtime / "venv" / "bin" / "python"), "-m", "airflow", "celery", "worker")
    assert worker.env["LD_LIBRARY_PATH"] == str(runtime / build.runtime_name() / "lib")
    assert all(c.argv[0].endswith("/airflow") for c in deployment.components if c.kind == "scheduler")

    monkeypatch.setattr(build, "interpreter_blocker", lambda: None)  # reachable: the interpreter itself
    plain = concerns.plan(parse_config({}), home)
    assert plain.worker_runtime is None and plain.component("worker-1").argv[0].endswith("/airflow")
    assert "LD_LIBRARY_PATH" not in plain.component("worker-1").env


@pytest.fixture
def runtime_folder() -> Iterator[Path]:
    """A runtime folder other users can reach (pytest's tmp folders are 0700)."""
    parent = Path(tempfile.mkdtemp(prefix="airdeck-runtime-", dir="/tmp"))
    parent.chmod(0o755)
    yield parent / "runtime"
    shutil.rmtree(parent, ignore_errors=True)


def test_the_runtime_is_built_once_and_rebuilt_when_python_changes(runtime_folder: Path) -> None:
    from airdeck.plan.build import runtime_name
    from airdeck.stack import runtime

    assert runtime.ensure(runtime_folder)
    short = "python{}.{}".format(*sys.version_info[:2])
    prefix = runtime_folder / runtime_name()
    binary = prefix / "bin" / short
    assert binary.stat().st_mode & 0o005 == 0o005 and runtime_folder.stat().st_mode & 0o777 == 0o755
    assert (prefix / "lib" / short / "os.py").is_file() and not (prefix / "lib" / short / "test").exists()
    assert list((prefix / "lib" / short / "site-packages").iterdir()) == []  # the base's packages stay out
    stamp = (runtime_folder / runtime.STAMP).stat().st_ino
    assert not runtime.ensure(runtime_folder)  # reused: same files
    assert (runtime_folder / runtime.STAMP).stat().st_ino == stamp

    recorded = json.loads((runtime_folder / runtime.STAMP).read_text())
    recorded["mtime_ns"] -= 1  # as after the base interpreter was reinstalled
    (runtime_folder / runtime.STAMP).write_text(json.dumps(recorded))
    assert runtime.ensure(runtime_folder)
    assert json.loads((runtime_folder / runtime.STAMP).read_text())["mtime_ns"] == recorded["mtime_ns"] + 1
    assert not [p for p in runtime_folder.parent.iterdir() if p.name.startswith(".runtime")]  # no leftovers


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: runs the runtime as the workers' own user")
def test_the_worker_user_runs_airflow_on_the_copy_but_not_on_the_original(runtime_folder: Path) -> None:
    from airdeck.plan.build import WORKER_SYSTEM_USER, interpreter_blocker, runtime_name
    from airdeck.stack import runtime
    from airdeck.stack.workers import ensure_user

    if interpreter_blocker() is None:
        pytest.skip("the workers' own user can reach this interpreter: there is no point to prove here")
    entry = ensure_user(WORKER_SYSTEM_USER)
    as_worker = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": [], "cwd": "/",
                 "capture_output": True, "text": True, "check": False, "timeout": 300}
    with pytest.raises(PermissionError):  # the original: out of its reach
        subprocess.run([sys.executable, "-c", "pass"], env={"PATH": "/usr/bin:/bin"}, **as_worker)  # type: ignore[call-overload]
    runtime.ensure(runtime_folder)
    env = {"PATH": "/usr/bin:/bin", "HOME": "/", "LD_LIBRARY_PATH": str(runtime_folder / runtime_name() / "lib")}
    probe = ("import os, sys, airflow, airdeck; "
             "print(os.getuid(), sys.version.split()[0], airflow.__version__, airdeck.__file__)")
    result = subprocess.run([str(runtime_folder / "venv" / "bin" / "python"), "-c", probe], env=env, **as_worker)  # type: ignore[call-overload]
    assert result.returncode == 0, result.stderr[-2000:]
    uid, version, airflow_version, airdeck_file = result.stdout.split()[-4:]
    assert int(uid) == entry.pw_uid and version == runtime_name().removeprefix("python-")
    assert airflow_version.startswith("3.") and airdeck_file.startswith(str(Path(__file__).parents[2]))
    runtime.check(runtime_folder, entry)  # what airdeck up runs before the workers start
    # Without its own libpython the copy would load another Python's (Debian's here): the check says so.
    for library in (runtime_folder / runtime_name() / "lib").glob("libpython*.so*"):
        library.unlink()
    with pytest.raises(StackError, match="does not start as that user") as refused:
        runtime.check(runtime_folder, entry)
    assert "chmod o+x" in str(refused.value) and "Traceback" not in str(refused.value)
    print("\nwithout the copy's libpython:", refused.value)
