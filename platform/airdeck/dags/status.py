"""`airdeck dags status` and the DAG lines of `airdeck status`: per bundle the version in use, the last
refresh, the last error and the import errors, read from the platform's database.

Airflow's own tables give the version the dag-processor serves and its last refresh (``dag_bundle``)
and the files that failed to import (``import_error``); airdeck's git bundle adds why the last fetch
failed (:mod:`airdeck.dags.store`). Read-only; a database that does not answer yields the configured
bundles with no state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from airdeck.config.model import AirdeckConfig
from airdeck.dags import store
from airdeck.dags.diagnose import redact


@dataclass(frozen=True)
class ImportProblem:
    bundle: str | None
    file: str
    error: str
    at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {"bundle": self.bundle, "file": self.file, "error": self.error,
                "at": self.at.isoformat() if self.at else None}


@dataclass
class BundleReport:
    name: str
    kind: str  # git | folder
    source: str
    refresh: int
    version: str | None = None
    last_refresh: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    state: str = "unknown"
    import_errors: list[ImportProblem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "source": self.source, "refresh_seconds": self.refresh,
                "version": self.version, "last_refresh": self.last_refresh.isoformat() if self.last_refresh else None,
                "state": self.state, "last_error": self.last_error,
                "last_error_at": self.last_error_at.isoformat() if self.last_error_at else None,
                "import_errors": [p.as_dict() for p in self.import_errors]}


def configured(cfg: AirdeckConfig) -> list[BundleReport]:
    if not cfg.dags.bundles:
        folder = cfg.airflow.dags_folder
        return [BundleReport("dags-folder", "folder", str(folder) if folder else "(bundled example DAGs)",
                             int(cfg.dag_processor.refresh_interval.total_seconds()))]
    out = []
    for b in cfg.dags.bundles:
        if b.git is not None:
            source = f"{redact(b.git.url)} {b.git.branch}" + (f" /{b.git.subdir}" if b.git.subdir else "")
            out.append(BundleReport(b.name, "git", source, int(b.git.refresh.total_seconds())))
        else:
            out.append(BundleReport(b.name, "folder", str(b.folder),
                                    int(cfg.dag_processor.refresh_interval.total_seconds())))
    return out


def _error_line(stacktrace: str | None) -> str:
    lines = [line.strip() for line in (stacktrace or "").strip().splitlines() if line.strip()]
    return redact(lines[-1])[:300] if lines else "import failed"


def gather(cfg: AirdeckConfig, database_url: str | None) -> tuple[list[BundleReport], str | None]:
    """Every configured bundle with its state; the second item says why no state could be read."""
    reports = configured(cfg)
    if database_url is None:
        return reports, "the platform's database is not known"
    engine = create_engine(database_url, pool_pre_ping=True, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            airflow_state = {r["name"]: r for r in conn.execute(text(
                "SELECT name, active, version, last_refreshed FROM dag_bundle")).mappings()}
            problems = [ImportProblem(r["bundle_name"], r["filename"] or "?", _error_line(r["stacktrace"]),
                                      r["timestamp"])
                        for r in conn.execute(text("SELECT bundle_name, filename, stacktrace, timestamp "
                                                   "FROM import_error ORDER BY bundle_name, filename")).mappings()]
        recorded = store.read(engine)
    except SQLAlchemyError as exc:
        return reports, f"the platform's database did not answer ({type(exc).__name__}); is it running?"
    finally:
        engine.dispose()
    for report in reports:
        row = airflow_state.get(report.name)
        if row is not None:
            report.version = row["version"]
            report.last_refresh = row["last_refreshed"]
        report.import_errors = [p for p in problems if p.bundle == report.name]
        mine = recorded.get(report.name)
        if mine is not None:
            report.last_error, report.last_error_at = mine.last_error, mine.last_error_at
            report.version = report.version or mine.version
        if row is None and mine is None:
            report.state = "not loaded yet"
        elif mine is not None and mine.failing:
            report.state = "failing" if report.version else "never fetched"
        elif report.import_errors:
            report.state = "import errors"
        else:
            report.state = "ok"
    return reports, None
