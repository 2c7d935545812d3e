"""The dags concern: DAG bundles in every Airflow component's settings, and the repository check at start.

``dags.bundles`` becomes ``[dag_processor] dag_bundle_config_list``: a git bundle is airdeck's
:class:`~airdeck.dags.bundle.GitBundle` (Airflow's git provider, versioned), a folder bundle Airflow's
``LocalDagBundle``. Without bundles, Airflow's default applies: one folder bundle, ``dags-folder``, on
``[core] dags_folder`` (``airflow.dags_folder`` or the bundled examples). Every component gets the same
list and the same bundle storage, so a worker checks out exactly the version a run was created with;
workers running as their own user keep clones of their own and take versions from the read-only copies
the dag-processor publishes (``$AIRDECK_HOME/dag-bundle-mirrors``, named by ``AIRDECK_DAG_BUNDLE_MIRRORS``
in both components' environment), so a run started while the repository is down still runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airdeck.config.dags import BundleSettings
from airdeck.config.model import AirdeckConfig
from airdeck.dags.probe import run_probe
from airdeck.plan.build import worker_index, worker_user
from airdeck.plan.concern import Check, Concern, Phase, PlanContext, Runtime
from airdeck.plan.model import Settings
from airdeck.state.home import DAG_BUNDLE_MIRRORS_ENV, AirdeckHome

GIT_BUNDLE = "airdeck.dags.bundle.GitBundle"
FOLDER_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"


def storage_path(home: AirdeckHome) -> Path:
    """Where bundles keep their clones and versions (``[dag_processor] dag_bundle_storage_path``)."""
    return (home.root / "data" / "dag-bundles").absolute()


def bundle_entry(bundle: BundleSettings, cfg: AirdeckConfig) -> dict[str, Any]:
    """One item of ``dag_bundle_config_list`` (names and addresses only; credentials stay in the connection)."""
    if bundle.git is not None:
        git = bundle.git
        kwargs: dict[str, Any] = {"repo_url": git.url, "tracking_ref": git.branch,
                                  "refresh_interval": int(git.refresh.total_seconds())}
        if git.subdir:
            kwargs["subdir"] = git.subdir
        if git.connection:
            kwargs["git_conn_id"] = git.connection
        return {"name": bundle.name, "classpath": GIT_BUNDLE, "kwargs": kwargs}
    assert bundle.folder is not None  # noqa: S101 - the model requires one of git or folder
    return {"name": bundle.name, "classpath": FOLDER_BUNDLE,
            "kwargs": {"path": str(Path(bundle.folder).absolute()),
                       "refresh_interval": int(cfg.dag_processor.refresh_interval.total_seconds())}}


def bundle_config_list(cfg: AirdeckConfig) -> str:
    return json.dumps([bundle_entry(b, cfg) for b in cfg.dags.bundles], sort_keys=True)


class DagsConcern(Concern):
    name = "dags"

    def settings(self, ctx: PlanContext, component: str) -> Settings:
        cfg = ctx.cfg
        out: Settings = {"dag_processor": {"dag_bundle_storage_path": str(storage_path(ctx.home))}}
        if cfg.dags.bundles:
            out["dag_processor"]["dag_bundle_config_list"] = bundle_config_list(cfg)
        if not cfg.dags.versioned_runs:
            out["dag_processor"]["disable_bundle_versioning"] = "True"  # Airflow 3.3 reads it there, not in [core]
        return out

    def env(self, ctx: PlanContext, component: str) -> Mapping[str, str]:
        # git must never wait for a password on a terminal that is not there; it fails and says why.
        if not any(b.git for b in ctx.cfg.dags.bundles):
            return {}
        env = {"GIT_TERMINAL_PROMPT": "0"}
        if (component == "dag-processor" or worker_index(component) is not None) and worker_user(ctx) is not None:
            env[DAG_BUNDLE_MIRRORS_ENV] = str(ctx.home.dag_bundle_mirrors)  # see dags.bundle
        return env

    def preflight(self, phase: Phase) -> list[Check]:
        return [check_repositories] if phase == "before_airflow" else []


def check_repositories(runtime: Runtime) -> None:
    """Reach every git bundle's repository and branch with its connection; say what fails, start anyway.

    A bundle that cannot be fetched does not stop the platform: the dag-processor keeps serving the
    version it fetched last (and the other bundles), and `airdeck dags status` shows the error."""
    if not any(b.git for b in runtime.cfg.dags.bundles):
        return
    cli = runtime.deployment.cli
    results = run_probe(dict(cli.env) if cli is not None else {})
    for result in results:
        if result.ok:
            runtime.say(f"✓ DAG bundle {result.bundle}: {result.detail}")
        else:
            runtime.say(f"✗ {result.detail} (the platform starts; the last fetched version of this bundle keeps "
                        "serving; see `airdeck dags status`)")
