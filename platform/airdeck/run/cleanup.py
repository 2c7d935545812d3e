"""The database cleanup job: ``airflow db clean`` of rows older than N days, with the database URL only.

The chart's CronJob (``databaseCleanup``) runs ``airdeck db-cleanup``: the cut-off is computed when the
job runs (now minus ``retentionDays``, in UTC), Airflow's configuration holds nothing but the database
URL (a 0600 ``airflow.cfg`` in the job's own folder: no Fernet key, no broker, no signing key), and the
job connects directly to the database, not through PgBouncer: its deletes are long maintenance
transactions that gain nothing from pooling.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airdeck.config.masking import normalise_url
from airdeck.errors import AirdeckError
from airdeck.plan.render import to_ini
from airdeck.plan.secrets import sqlalchemy_url
from airdeck.state.secrets import write_private


class CleanupError(AirdeckError):
    exit_code = 2


def known_tables() -> list[str]:
    """The tables ``airflow db clean --tables`` accepts (Airflow's own list)."""
    from airflow.utils.db_cleanup import config_dict

    return sorted(config_dict)


def clean_args(retention_days: int, *, tables: Sequence[str] = (), skip_archive: bool = True,
               batch_size: int | None = None, now: datetime | None = None) -> list[str]:
    """The arguments after ``airflow db clean``."""
    if retention_days < 1:
        raise CleanupError(f"databaseCleanup.retentionDays must be at least 1, not {retention_days}")
    unknown = sorted(set(tables) - set(known_tables()))
    if unknown:
        raise CleanupError(f"databaseCleanup.tables: {', '.join(unknown)} not cleaned by Airflow; "
                           f"choose from {', '.join(known_tables())}")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    args = ["--clean-before-timestamp", cutoff.astimezone(UTC).isoformat(timespec="seconds"), "--yes",
            "--error-on-cleanup-failure"]
    if skip_archive:
        args.append("--skip-archive")
    if tables:
        args += ["--tables", ",".join(tables)]
    if batch_size is not None:
        args += ["--batch-size", str(batch_size)]
    return args


def environment(database_url: str, folder: Path) -> dict[str, str]:
    """Airflow's environment for the job: its own AIRFLOW_HOME whose 0600 airflow.cfg holds the URL."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "airflow.cfg"
    write_private(config, to_ini({"database": {"sql_alchemy_conn": sqlalchemy_url(normalise_url(database_url))},
                                  "core": {"load_examples": "False"}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env.update({"AIRFLOW_HOME": str(folder), "AIRFLOW_CONFIG": str(config)})
    return env
