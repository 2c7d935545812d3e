"""`airdeck upgrade`: move a platform to the Airflow version this airdeck pins.

The platform records the Airflow version that created or last migrated its database
(``$AIRDECK_HOME/platform.json``); `airdeck up` refuses to migrate it to another version on its own.
This does it in order, stopping at the first failure:

1. check the DAG folders with the new version's rules (``airdeck.ops.check_dags``): findings stop the
   upgrade unless ``force`` (nothing has changed yet);
2. stop the platform (its processes still run the old code);
3. take a backup (the embedded database started on its own when needed);
4. ``airflow db migrate`` once, with the new Airflow;
5. start every service in dependency order, each health-gated (`airdeck up`);
6. check that every service is healthy and run the canary DAG through the REST API;
7. say how to roll back: the old airdeck, then `airdeck restore` of the backup.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from airdeck.config.model import AirdeckConfig
from airdeck.errors import AirdeckError
from airdeck.ops import backup, migrate_args
from airdeck.ops.archive import Secret
from airdeck.ops.check_dags import DagCheckReport, check_dags
from airdeck.ops.database import Database, available
from airdeck.plan.endpoints import Target
from airdeck.resources import example_dags_folder
from airdeck.run.canary import Canary
from airdeck.stack import schema
from airdeck.stack.orchestrator import Stack
from airdeck.state import record


class UpgradeError(AirdeckError):
    exit_code = 1


@dataclass
class UpgradeDone:
    from_version: str
    to_version: str
    backup: Path | None
    steps: list[tuple[str, float]] = field(default_factory=list)
    dag_reports: list[DagCheckReport] = field(default_factory=list)
    canary: str = "skipped"
    rollback: list[str] = field(default_factory=list)
    unhealthy: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.from_version, "to": self.to_version, "backup": str(self.backup) if self.backup else None,
                "steps": [{"step": s, "seconds": round(t, 1)} for s, t in self.steps], "canary": self.canary,
                "unhealthy": self.unhealthy, "rollback": self.rollback,
                "dag_findings": sum(len(r.findings) for r in self.dag_reports)}


def dag_folders(cfg: AirdeckConfig, deployment_dags: Path | None) -> list[Path]:
    """The local DAG folders of the platform: airflow.dags_folder, folder bundles, else the bundled examples."""
    folders = [Path(str(b.folder)) for b in cfg.dags.bundles if getattr(b, "folder", None)]
    if cfg.airflow.dags_folder is not None:
        folders.append(cfg.airflow.dags_folder)
    if not folders and deployment_dags is not None:
        folders.append(deployment_dags)
    return [f for f in folders if f.is_dir()]


def plan_upgrade(home: Any) -> tuple[str, str]:
    """(recorded version, installed version); raise when there is nothing to upgrade or it goes backwards."""
    recorded = record.read(home)
    installed = record.installed_airflow()
    if recorded is None:
        raise UpgradeError(f"{home.root} has no platform record (platform.json): start the platform once with "
                           "`airdeck up`, or restore a backup, before upgrading")
    current = str(recorded.get("airflow_version"))
    try:
        backwards = Version(installed) < Version(current)
    except InvalidVersion:
        backwards = False
    if backwards:
        raise UpgradeError(f"the platform runs Airflow {current}; this airdeck has the older Airflow {installed}. "
                           "Going back is a restore: install the airdeck of that time and `airdeck restore` the backup "
                           "taken before the upgrade")
    return current, installed


def upgrade(cfg: AirdeckConfig, stack: Stack, secret: Secret, *, backup_to: Path | None = None, force: bool = False,
            canary_dag: str | None = "example_fanout", say: Callable[[str], None]) -> UpgradeDone:
    home = stack.home
    current, installed = plan_upgrade(home)
    recorded = record.read(home) or {}
    if current == installed and recorded.get("schema_revision") == schema.head():
        raise UpgradeError(f"the platform already runs Airflow {installed} with its current schema; nothing to upgrade")
    done = UpgradeDone(current, installed, None)
    clock = time.monotonic()

    def step(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        done.steps.append((name, now - clock))
        clock = now
        say(f"{name} ({done.steps[-1][1]:.1f}s)")

    # 1. DAG check: nothing has changed yet.
    folders = dag_folders(cfg, example_dags_folder())
    for folder in folders:
        report = check_dags(folder)
        done.dag_reports.append(report)
        if report.findings and not force:
            lines = [f"  {f.file}:{f.line}:{f.column} {f.code} {f.message}" for f in report.findings[:20]]
            raise UpgradeError(f"{len(report.findings)} finding(s) in {folder} that Airflow {installed} breaks:\n"
                               + "\n".join(lines) + f"\nFix them (`{report.fix_command()}`) or run "
                               "`airdeck upgrade --force`. Nothing was changed.")
    step(f"checked {len(folders)} DAG folder(s): "
         f"{sum(len(r.findings) for r in done.dag_reports)} finding(s)")
    # 2. Stop the old processes.
    if stack.supervisor.is_running():
        stack.down(quiet=True)
        step("stopped the platform")
    # 3. Backup.
    taken = backup.create(cfg, home, secret, to=backup_to, say=say)
    done.backup = taken.path
    step(f"backup {taken.path} ({taken.size / 1e6:.1f} MB)")
    # 4. Migrate once.
    db = Database.of(cfg, stack.secrets)
    with available(cfg, home, db):
        stack.render()
        # An older schema may meet the migration psycopg 3 cannot bind on the server (see migrate_args).
        stack.migrate(upgrade=True,
                      migrate_env={"AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": migrate_args.IMPORT_PATH})
        revision = db.schema_revision()
    record.write(home, installed, revision, f"upgraded from Airflow {current}")
    step(f"migrated the schema to {revision}")
    done.rollback = [
        "airdeck down",
        f"install the airdeck release that pins Airflow {current}",
        f"airdeck restore {taken.path} --yes",
        "airdeck up",
    ]
    # 5. Start in order, health-gated.
    statuses = stack.up()
    done.unhealthy = [s.name for s in statuses if not s.healthy]
    step("started every service" + (f"; unhealthy: {', '.join(done.unhealthy)}" if done.unhealthy else ", all healthy"))
    if done.unhealthy:
        return done
    # 6. Canary.
    if canary_dag:
        canary = Canary.from_plan(stack.cfg, home, Target.local(), stack.secrets.get("admin_password"),
                                  dag_id=canary_dag, timeout=600)
        done.canary = "success" if canary.run() == 0 else "failed"
        step(f"canary run of {canary_dag}: {done.canary}")
    return done
