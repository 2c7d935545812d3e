"""What the dag-processor saw of each git bundle, kept in the platform's PostgreSQL.

Airflow records a bundle's version and last refresh (table ``dag_bundle``) but not why a refresh
failed. airdeck's git bundle (:mod:`airdeck.dags.bundle`) writes, after each fetch:

* ``airdeck_dag_bundle_status``: per bundle the version in use, the last attempt, the last success and
  the last error (one line for people, without secrets), so `airdeck dags status` can show it;
* ``airdeck_dag_bundle_versions``: each version the dag-processor switched to and when, so an import
  error can be attributed to the commit that was being parsed when it was recorded. The alert
  dispatcher reads this table by name (concerns do not import each other); its columns are a contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

metadata = MetaData()

status_table = Table(
    "airdeck_dag_bundle_status", metadata,
    Column("name", String(250), primary_key=True),
    Column("version", String(200)),
    Column("last_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_success_at", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("last_error_at", DateTime(timezone=True)),
)

versions_table = Table(
    "airdeck_dag_bundle_versions", metadata,
    Column("name", String(250), primary_key=True),
    Column("version", String(200), primary_key=True),
    Column("first_seen_at", DateTime(timezone=True), nullable=False),
)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class BundleStatus:
    name: str
    version: str | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None

    @property
    def failing(self) -> bool:
        """The most recent attempt failed."""
        return self.last_error_at is not None and (self.last_success_at is None
                                                   or self.last_error_at >= self.last_success_at)


def create(engine: Engine) -> None:
    metadata.create_all(engine, checkfirst=True)


def record_success(engine: Engine, name: str, version: str | None, now: datetime | None = None) -> None:
    now = now or utcnow()
    with engine.begin() as conn:
        values = {"name": name, "version": version, "last_attempt_at": now, "last_success_at": now}
        conn.execute(pg_insert(status_table).values(**values).on_conflict_do_update(
            index_elements=["name"], set_={k: v for k, v in values.items() if k != "name"}))
        if version:
            conn.execute(pg_insert(versions_table).values(name=name, version=version, first_seen_at=now)
                         .on_conflict_do_nothing())


def record_failure(engine: Engine, name: str, error: str, now: datetime | None = None) -> None:
    now = now or utcnow()
    with engine.begin() as conn:
        values = {"name": name, "last_attempt_at": now, "last_error": error, "last_error_at": now}
        conn.execute(pg_insert(status_table).values(**values).on_conflict_do_update(
            index_elements=["name"], set_={k: v for k, v in values.items() if k != "name"}))


def read(engine: Engine) -> dict[str, BundleStatus]:
    """Every bundle's status; empty when the dag-processor never recorded one (no table yet)."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(status_table)).mappings().all()
    except DBAPIError:
        return {}
    return {r["name"]: BundleStatus(**dict(r)) for r in rows}
