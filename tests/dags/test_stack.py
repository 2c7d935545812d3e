"""One platform, DAGs from a real git server on loopback: versioned runs, import-error alerts, two bundles
side by side with the measured push → visible delay, a private repository through a connection whose
token never leaks, and clear errors (wrong branch, unreachable, bad credentials) while the last
fetched version keeps serving."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest

from tests.alerts.servers import SlackReceiver
from tests.dags.gitserver import GitServer
from tests.harness import Stack, free_port, new_home, remove_home, write_config

pytestmark = [pytest.mark.stack, pytest.mark.timeout(1800)]

T = TypeVar("T")
TOKEN = "tok-9f8e7d6c5b4a-never-shown"
REFRESH = 5

# `first` waits for the file named by the run's conf "gate" (if any): the test holds a run there until the
# dag-processor has the next commit, whatever the machine's load.
VERSIONED = '''
import os
import time
from datetime import datetime

from airflow.sdk import dag, get_current_context, task

VALUE = "{value}"


@dag(dag_id="bundle_versioned", schedule=None, start_date=datetime(2024, 1, 1), catchup=False)
def bundle_versioned():
    @task
    def first():
        gate = (get_current_context()["dag_run"].conf or {{}}).get("gate")
        while gate and not os.path.exists(gate):
            time.sleep(0.2)

    @task
    def second():
        print(f"the constant is {{VALUE}}")
        return VALUE

    first() >> second()


bundle_versioned()
'''


def simple_dag(dag_id: str) -> str:
    return (f"from datetime import datetime\nfrom airflow.sdk import dag, task\n\n\n"
            f"@dag(dag_id={dag_id!r}, schedule=None, start_date=datetime(2024, 1, 1), catchup=False)\n"
            f"def d():\n    @task\n    def hello():\n        return {dag_id!r}\n\n    hello()\n\n\nd()\n")


def wait_until(probe: Callable[[], T], timeout: float, what: str, every: float = 1.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class Env:
    stack: Stack
    git: GitServer
    slack: SlackReceiver
    team_a: Path
    private: Path
    up_output: str
    figures: dict[str, float] = field(default_factory=dict)

    def bundles(self) -> dict[str, dict[str, Any]]:
        result = self.stack.airdeck("dags", "status", "--json", check=False)
        return {b["name"]: b for b in json.loads(result.stdout)["bundles"]}

    def visible(self, dag_id: str) -> bool:
        return self.stack.api("GET", f"/dags/{dag_id}").status_code == 200

    def xcom(self, run_id: str, task_id: str) -> Any:
        response = self.stack.api("GET", f"/dags/bundle_versioned/dagRuns/{run_id}/taskInstances/{task_id}"
                                         "/xcomEntries/return_value")
        response.raise_for_status()
        return response.json()["value"]

    def posts(self, needle: str) -> list[Any]:
        return [p for p in self.slack.on("/dags") if needle in p.text]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    folder = tmp_path_factory.mktemp("dags-stack")
    git = GitServer(folder / "git", token=TOKEN)
    (folder / "git").mkdir()
    git.start()
    team_a = git.create("team-a", {"dags/versioned.py": VERSIONED.format(value="A-VALUE-1"),
                                   "README.md": "team a\n"})
    private = git.create("private", {"private_dag.py": simple_dag("bundle_private")}, private=True)
    local = folder / "local-dags"
    local.mkdir()
    (local / "local_dag.py").write_text(simple_dag("bundle_local"))
    slack = SlackReceiver()
    extra = {
        "dag_processor": {"refresh_interval": REFRESH, "min_file_process_interval": REFRESH},
        "dags": {"bundles": [
            {"name": "team-a", "git": {"url": git.url("team-a"), "branch": "main", "subdir": "dags",
                                       "refresh": f"{REFRESH}s"}},
            {"name": "private", "git": {"url": git.url("private"), "connection": "git_private",
                                        "refresh": f"{REFRESH}s"}},
            {"name": "local", "folder": str(local)},
            {"name": "wrong-branch", "git": {"url": git.url("team-a"), "branch": "nope", "refresh": "60s"}},
            {"name": "unreachable", "git": {"url": f"http://127.0.0.1:{free_port()}/gone.git", "refresh": "60s"}},
            {"name": "bad-creds", "git": {"url": git.url("private"), "connection": "git_bad", "refresh": "60s"}},
        ]},
        "alerts": {"channels": {"dags": {"type": "slack", "connection": "slack_dags"}},
                   "events": ["dag_import_error"],
                   "delivery": {"poll_interval": "1s"}, "dispatcher": {"port": free_port()}},
    }
    config = write_config(folder, extra)
    stack = Stack(new_home(), config)
    try:
        up = stack.airdeck("up", "--detach")
        for conn_id, conn in {
            "slack_dags": slack.connection("/dags"),
            "git_private": {"conn_type": "git", "host": git.url("private"), "login": "deploy", "password": TOKEN},
            "git_bad": {"conn_type": "git", "host": git.url("private"), "login": "deploy",
                        "password": "wrong-password-123"},
        }.items():
            response = stack.api("POST", "/connections", json={"connection_id": conn_id, **conn})
            assert response.status_code in (200, 201), response.text
        yield Env(stack, git, slack, team_a, private, up.stdout + up.stderr)
    finally:
        stack.airdeck("down", check=False, timeout=300)
        remove_home(stack.home)
        slack.stop()
        git.stop()


def test_up_names_each_broken_bundle_without_secrets(env: Env) -> None:
    out = env.up_output
    assert "bundle wrong-branch: branch 'nope' not found" in out, out
    assert "bundle unreachable: repository unreachable" in out, out
    # the connections are created after start: up says so and starts anyway
    assert "bundle bad-creds: connection missing" in out and "bundle private: connection missing" in out, out
    assert "✓ DAG bundle team-a" in out, out
    assert TOKEN not in out


def test_a_run_keeps_its_commit_after_a_push(env: Env) -> None:
    stack = env.stack
    first_commit = wait_until(lambda: env.bundles()["team-a"].get("version"), 120, "team-a's first version")
    # beside the state folder (searchable by others), not in pytest's 0700 tmp folder: the task runs as the
    # workers' own user when airdeck isolates them, and must see the gate appear
    gate = stack.home.parent / "gate"
    run_a = stack.trigger("bundle_versioned", {"gate": str(gate)})
    try:
        wait_until(lambda: any(t["task_id"] == "first" and t["state"] == "running"
                               for t in stack.task_instances("bundle_versioned", run_a)), 600, "task first running")
        commit_b = env.git.commit(env.team_a, {"dags/versioned.py": VERSIONED.format(value="B-VALUE-2")}, "B")
        assert commit_b != first_commit
        wait_until(lambda: env.bundles()["team-a"].get("version") == commit_b, 300, "the dag-processor on commit B")
        wait_until(lambda: stack.api("GET", "/dags/bundle_versioned/dagVersions",
                                     params={"order_by": "-version_number"})
                   .json()["dag_versions"][0]["bundle_version"] == commit_b, 300, "a DAG version on commit B")
        states = {t["task_id"]: t["state"] for t in stack.task_instances("bundle_versioned", run_a)}
        assert states["first"] == "running", states  # held at the gate: B landed before `second` could start
        assert states["second"] in (None, "scheduled", "queued", "none"), states
    finally:
        gate.touch()  # let the run go on (also when the test failed above)
    assert stack.wait_for_run("bundle_versioned", run_a) == "success"
    assert env.xcom(run_a, "second") == "A-VALUE-1"
    run = stack.api("GET", f"/dags/bundle_versioned/dagRuns/{run_a}").json()
    assert run["bundle_version"] == first_commit
    # the DAG now shows B's code; a new run runs it
    run_b = stack.trigger("bundle_versioned")
    assert stack.wait_for_run("bundle_versioned", run_b) == "success"
    assert env.xcom(run_b, "second") == "B-VALUE-2"
    assert stack.api("GET", f"/dags/bundle_versioned/dagRuns/{run_b}").json()["bundle_version"] == commit_b


def test_two_bundles_and_the_push_to_visible_delay(env: Env) -> None:
    assert wait_until(lambda: env.visible("bundle_local"), 120, "the folder bundle's DAG")
    pushed = time.monotonic()
    env.git.commit(env.team_a, {"dags/fresh.py": simple_dag("bundle_fresh")}, "a new DAG")
    wait_until(lambda: env.visible("bundle_fresh"), 90, "the pushed DAG", every=0.5)
    delay = time.monotonic() - pushed
    env.figures["push_to_visible_s"] = delay
    print(f"\npush → DAG visible: {delay:.1f}s (refresh {REFRESH}s)")
    # one refresh interval, the dag-processor's 5 s bundle check, one parse and the scheduler's commit
    assert delay <= REFRESH + 5 + 30, delay


def test_syntax_error_alerts_once_and_recovers(env: Env) -> None:
    broken = "from airflow.sdk import dag\n\ndef oops(:\n    pass\n"  # Airflow parses files naming airflow and dag
    commit = env.git.commit(env.team_a, {"dags/broken.py": broken}, "broken")
    post = wait_until(lambda: env.posts("broken.py"), 120, "the dag_import_error alert")[0]
    assert commit[:12] in post.text and "SyntaxError" in post.text and "team-a" in post.text, post.text
    status = env.stack.airdeck("status", check=False)
    assert "DAG import error in bundle team-a, broken.py" in status.stderr, status.stderr
    dags_status = env.stack.airdeck("dags", "status", check=False)
    assert dags_status.returncode == 1 and "broken.py" in dags_status.stdout + dags_status.stderr
    time.sleep(8)  # several dispatcher polls later: still one
    assert len(env.posts("broken.py")) == 1
    env.git.commit(env.team_a, {"dags/broken.py": simple_dag("bundle_fixed")}, "fixed")
    fixed = wait_until(lambda: env.posts("DAG import fixed"), 120, "the recovered alert")[0]
    assert "broken.py" in fixed.text
    time.sleep(5)
    assert len(env.posts("broken.py")) == 2


def test_private_repository_token_never_leaks(env: Env) -> None:
    assert wait_until(lambda: env.visible("bundle_private"), 120, "the private bundle's DAG")
    authenticated = [r for r in env.git.requests if r["path"].startswith("/private.git") and r["user"] == "deploy"]
    assert authenticated and all(r["status"] == 200 for r in authenticated)
    bundles = wait_until(lambda: (b := env.bundles())["bad-creds"].get("last_error") and b, 60, "bad-creds error")
    assert "bundle bad-creds: bad credentials" in bundles["bad-creds"]["last_error"]
    assert "wrong-password-123" not in json.dumps(bundles)
    assert "not found" in bundles["wrong-branch"]["last_error"] and bundles["wrong-branch"]["state"] == "never fetched"
    outputs = [env.stack.airdeck(*args, check=False) for args in
               (("dags", "status", "--json"), ("dags", "status", "--check"), ("status", "--json"),
                ("config", "render", "--service", "dag-processor"))]
    for out in outputs:
        assert TOKEN not in out.stdout + out.stderr
    checked = outputs[1].stdout + outputs[1].stderr
    assert "bad credentials" in checked and "branch 'nope' not found" in checked
    for proc in psutil.process_iter(["cmdline"]):
        assert TOKEN not in " ".join(proc.info["cmdline"] or [])
    leaked = [str(p) for p in env.stack.home.rglob("*") if p.is_file() and "postgres" not in p.parts
              and p.stat().st_size < 50_000_000 and TOKEN.encode() in p.read_bytes()]
    assert not leaked, leaked


def test_last_good_version_keeps_serving_when_the_repository_is_down(env: Env) -> None:
    if os.geteuid() == 0:  # the workers run as their own user, with bundle clones of their own
        workers = [s for s in env.stack.status()["services"] if s["kind"] == "worker"]
        assert workers and all(psutil.Process(s["pid"]).username() == "airdeck-worker" for s in workers), workers
    before = env.bundles()["team-a"]["version"]
    env.git.stop()
    try:
        env.git.commit(env.team_a, {"dags/later.py": simple_dag("bundle_later")}, "unseen while down")
        bundles = wait_until(lambda: (b := env.bundles())["team-a"]["state"] == "failing" and b, 60,
                             "team-a failing")
        assert "bundle team-a: repository unreachable" in bundles["team-a"]["last_error"]
        assert bundles["team-a"]["version"] == before
        run = env.stack.trigger("bundle_versioned")
        assert env.stack.wait_for_run("bundle_versioned", run) == "success"
        assert env.xcom(run, "second") in ("A-VALUE-1", "B-VALUE-2")  # B when the versioned test ran first
    finally:
        env.git.start(env.git.port)
    wait_until(lambda: env.visible("bundle_later"), 90, "the DAG pushed during the outage")
    assert env.bundles()["team-a"]["state"] in ("ok", "import errors")
