"""The dags: section: validation with key paths, and what the plan gives every Airflow component."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from airdeck import concerns
from airdeck.config import ConfigError
from airdeck.config.loader import parse_config
from airdeck.plan.endpoints import Target
from airdeck.state.home import AirdeckHome

from tests.harness import REPO

GIT = {"name": "team-a", "git": {"url": "https://git.example.com/data/team-a.git", "branch": "main", "subdir": "dags",
                                 "refresh": "60s", "connection": "git_team_a"}}
FOLDER = {"name": "local", "folder": "./dags"}


def validate(tmp_path: Path, data: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "airdeck.yaml"
    path.write_text(yaml.safe_dump(data))
    return subprocess.run([sys.executable, "-m", "airdeck.cli.main", "--config", str(path), "config", "validate"],
                          capture_output=True, text=True, cwd=REPO, timeout=120, check=False)


def test_the_issue_example_is_valid(tmp_path: Path) -> None:
    result = validate(tmp_path, {"dags": {"bundles": [GIT, FOLDER]}})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("bundle", "message"), [
    ({"name": "x", "git": {"url": "https://deploy:s3cret@git.example.com/r.git"}}, "must not carry credentials"),
    ({"name": "x", "git": {"url": "ftp://git.example.com/r.git"}}, "must be an https://"),
    ({"name": "x", "git": {"url": "https://git.example.com/r.git", "branch": "--upload-pack=evil"}},
     "is not a valid git branch"),
    ({"name": "x", "git": {"url": "https://git.example.com/r.git", "branch": "a..b"}}, "is not a valid git branch"),
    ({"name": "x", "git": {"url": "https://git.example.com/r.git", "subdir": "../etc"}}, "relative path inside"),
    ({"name": "x", "git": {"url": "https://git.example.com/r.git", "subdir": "/abs"}}, "relative path inside"),
    ({"name": "x", "git": {"url": "https://git.example.com/r.git", "refresh": "1s"}}, "at least 5s"),
    ({"name": "x", "git": {"url": "https://git.example.com/r.git", "connection": "bad id!"}}, "connection id"),
    ({"name": "x", "git": {"url": "https://h/r.git"}, "folder": "./d"}, "exactly one of 'git' or 'folder'"),
    ({"name": "x"}, "exactly one of 'git' or 'folder'"),
    ({"name": "../x", "folder": "./d"}, "must start with a letter or digit"),
    ({"name": "example_dags", "folder": "./d"}, "reserved by Airflow"),
])
def test_bad_bundles_are_refused_with_their_key(bundle: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config({"dags": {"bundles": [bundle]}})
    text = str(error.value)
    assert "dags.bundles.0" in text and message in text, text
    assert "s3cret" not in text


def test_duplicate_names_and_unknown_keys(tmp_path: Path) -> None:
    result = validate(tmp_path, {"dags": {"bundles": [FOLDER, FOLDER]}})
    assert result.returncode == 2 and "'local' is used by two bundles" in result.stderr
    result = validate(tmp_path, {"dags": {"bundles": [{**GIT, "git": {**GIT["git"], "brnch": "x"}}]}})
    assert result.returncode == 2 and "dags.bundles.0.git.brnch: unknown key" in result.stderr


def test_dags_folder_and_bundles_do_not_mix() -> None:
    with pytest.raises(ConfigError, match="airflow.dags_folder and dags.bundles cannot both be set"):
        parse_config({"airflow": {"dags_folder": "/srv/dags"}, "dags": {"bundles": [FOLDER]}})


def _settings(data: dict[str, Any], tmp_path: Path, component: str = "dag-processor",
              target: Target | None = None) -> Any:
    deployment = concerns.plan(parse_config(data), AirdeckHome(tmp_path / "home"), target)
    found = {c.name: c for c in deployment.components}
    found["cli"] = deployment.cli  # type: ignore[assignment]
    return found[component]


def test_every_airflow_component_gets_the_same_bundles(tmp_path: Path) -> None:
    data = {"dags": {"bundles": [GIT, FOLDER]}}
    lists = set()
    for name in ("api-server", "scheduler", "dag-processor", "triggerer", "worker-1", "cli"):
        comp = _settings(data, tmp_path, name)
        lists.add(comp.settings["dag_processor"]["dag_bundle_config_list"])
        assert comp.settings["dag_processor"]["dag_bundle_storage_path"] == str(
            (tmp_path / "home" / "data" / "dag-bundles").absolute())
        assert comp.env["GIT_TERMINAL_PROMPT"] == "0"
        assert "disable_bundle_versioning" not in comp.settings["dag_processor"]
        assert "disable_bundle_versioning" not in comp.settings.get("core", {})
    (raw,) = lists
    team_a, local = json.loads(raw)
    assert team_a == {"name": "team-a", "classpath": "airdeck.dags.bundle.GitBundle",
                      "kwargs": {"repo_url": GIT["git"]["url"], "tracking_ref": "main", "subdir": "dags",
                                 "refresh_interval": 60, "git_conn_id": "git_team_a"}}
    assert local["classpath"] == "airflow.dag_processing.bundles.local.LocalDagBundle"
    assert local["kwargs"]["path"] == str(Path("./dags").absolute())


def test_versioning_can_be_switched_off_and_kubernetes_gets_the_same_list(tmp_path: Path) -> None:
    data = {"dags": {"bundles": [GIT], "versioned_runs": False}}
    local = _settings(data, tmp_path)
    # Airflow 3.3.2 reads it from [dag_processor] (airflow/sdk/definitions/dag.py, DAG.disable_bundle_versioning);
    # under [core] it is ignored and every run stays versioned
    assert local.settings["dag_processor"]["disable_bundle_versioning"] == "True"
    assert "disable_bundle_versioning" not in local.settings.get("core", {})
    k8s = _settings(data, tmp_path, "worker", Target.kubernetes("airdeck"))
    assert k8s.settings["dag_processor"]["dag_bundle_config_list"] == \
        local.settings["dag_processor"]["dag_bundle_config_list"]


def test_without_bundles_airflow_keeps_its_dags_folder_bundle(tmp_path: Path) -> None:
    comp = _settings({"airflow": {"dags_folder": "/srv/dags"}}, tmp_path)
    assert "dag_bundle_config_list" not in comp.settings["dag_processor"]
    assert comp.settings["core"]["dags_folder"] == "/srv/dags"
    assert "GIT_TERMINAL_PROMPT" not in comp.env


def test_the_workers_copy_is_named_for_the_dag_processor_and_isolated_workers_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from airdeck.state.home import DAG_BUNDLE_MIRRORS_ENV

    data = {"dags": {"bundles": [GIT, FOLDER]}}
    monkeypatch.setattr("airdeck.plan.build.os.geteuid", lambda: 0)  # root: the workers get their own user
    monkeypatch.setattr("airdeck.plan.build.worker_isolation_blocker", lambda home, dags: None)
    mirrors = str(tmp_path / "home" / "dag-bundle-mirrors")
    for name in ("api-server", "scheduler", "dag-processor", "triggerer", "worker-1", "cli"):
        env = _settings(data, tmp_path, name).env
        assert env.get(DAG_BUNDLE_MIRRORS_ENV) == (mirrors if name in ("dag-processor", "worker-1") else None), name
    # workers that cannot be isolated share the dag-processor's clones: no copy
    monkeypatch.setattr("airdeck.plan.build.worker_isolation_blocker", lambda home, dags: Path("/root"))
    for name in ("dag-processor", "worker-1"):
        assert DAG_BUNDLE_MIRRORS_ENV not in _settings(data, tmp_path, name).env
    # nor on Kubernetes, nor without git bundles
    monkeypatch.setattr("airdeck.plan.build.worker_isolation_blocker", lambda home, dags: None)
    assert DAG_BUNDLE_MIRRORS_ENV not in _settings(data, tmp_path, "worker", Target.kubernetes("airdeck")).env
    assert DAG_BUNDLE_MIRRORS_ENV not in _settings({"dags": {"bundles": [FOLDER]}}, tmp_path, "dag-processor").env
