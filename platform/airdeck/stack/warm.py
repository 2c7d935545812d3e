"""What a warm start may skip, each proven by one SQL query instead of a Python process that imports Airflow.

* The schema check (``airflow db check-migrations``, about 2 CPU-seconds): after Airflow has said the
  schema is current (or migrated it), the revision the database then had is recorded with the installed
  Airflow version in ``run/schema-verified.json``. At the next start, if the database is still at that
  revision and Airflow is still that version, the schema is current; anything else (no record, another
  revision, another Airflow, a query error) runs Airflow's own check as before.
* The admin account (a Python process building FAB's app, about 3 CPU-seconds): if ``ab_user`` already
  has the account, there is nothing to do; any doubt (table missing, query error) runs FAB as before.

Both only skip work; neither ever writes to the database.
"""

from __future__ import annotations

import json
from importlib import metadata

import psycopg

from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import write_private

RECORD = "schema-verified.json"


def _dsn(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as libpq takes it (the driver part dropped)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}"


def _query(url: str, sql: str, params: tuple[str, ...] = ()) -> list[tuple[object, ...]] | None:
    try:
        with psycopg.connect(_dsn(url), connect_timeout=5) as conn:
            return list(conn.execute(sql, params).fetchall())  # type: ignore[arg-type]
    except (psycopg.Error, ValueError):
        return None


def airflow_version() -> str:
    try:
        return metadata.version("apache-airflow-core")
    except metadata.PackageNotFoundError:
        return ""


def revision(url: str) -> str | None:
    """The Alembic revision the database is at, or None when it cannot be read."""
    rows = _query(url, "SELECT version_num FROM alembic_version")
    if not rows or len(rows) != 1:
        return None
    return str(rows[0][0])


def schema_verified(home: AirdeckHome, url: str) -> bool:
    """True when the database is at the revision Airflow last called current, under the same Airflow."""
    try:
        record = json.loads((home.run / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict) or not record.get("revision") or record.get("airflow") != airflow_version():
        return False
    return revision(url) == record["revision"]


def record_schema(home: AirdeckHome, url: str) -> None:
    """Remember the revision Airflow just called current (nothing is recorded if it cannot be read)."""
    current = revision(url)
    if current:
        home.run.mkdir(parents=True, exist_ok=True)
        write_private(home.run / RECORD, json.dumps({"airflow": airflow_version(), "revision": current}) + "\n")


def forget_schema(home: AirdeckHome) -> None:
    (home.run / RECORD).unlink(missing_ok=True)


def admin_exists(url: str, username: str) -> bool:
    """True only when FAB's user table certainly holds ``username``."""
    rows = _query(url, "SELECT 1 FROM ab_user WHERE username = %s", (username,))
    return bool(rows)
