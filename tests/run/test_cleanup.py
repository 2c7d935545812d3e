"""The database cleanup job's command (airdeck.run.cleanup): the cut-off computed at run time from the
retention, parsed by Airflow 3.3.2's own CLI parser exactly as the chart's CronJob renders it; unknown
tables refused with Airflow's list; the job's Airflow configuration holds the database URL only."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from airdeck.run.cleanup import CleanupError, clean_args, environment, known_tables

from tests.helm.chart import render


def test_the_rendered_cronjob_command_parses_with_airflows_cli() -> None:
    from airflow.cli.cli_parser import get_parser

    values = {"databaseCleanup": {"enabled": True, "retentionDays": 45, "tables": ["log", "xcom"],
                                  "batchSize": 500}}
    cron = next(o for o in render(values) if o["kind"] == "CronJob")
    container = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["airdeck"] and container["args"][0] == "db-cleanup"
    rendered = container["args"]
    days = int(rendered[rendered.index("--retention-days") + 1])
    tables = rendered[rendered.index("--tables") + 1].split(",")
    batch = int(rendered[rendered.index("--batch-size") + 1])
    now = datetime(2026, 12, 7, 22, 0, tzinfo=UTC)
    args = get_parser().parse_args(["db", "clean", *clean_args(days, tables=tables, skip_archive="--archive" not in
                                                               rendered, batch_size=batch, now=now)])
    assert args.clean_before_timestamp == datetime(2026, 10, 23, 22, 0, tzinfo=UTC)
    assert args.skip_archive is True and args.yes is True and args.error_on_cleanup_failure is True
    assert args.tables == ["log", "xcom"] and args.batch_size == 500
    assert args.func.__name__ == "cleanup_tables"


def test_archive_and_all_tables_by_default_off_and_empty() -> None:
    cron = next(o for o in render({"databaseCleanup": {"enabled": True, "skipArchive": False}})
                if o["kind"] == "CronJob")
    args = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--archive" in args and "--tables" not in args and "--batch-size" not in args
    assert "--skip-archive" not in clean_args(7, skip_archive=False)


def test_unknown_tables_and_bad_retention_are_refused() -> None:
    with pytest.raises(CleanupError, match="task_instances not cleaned by Airflow; choose from"):
        clean_args(7, tables=["task_instances"])
    with pytest.raises(CleanupError, match="at least 1"):
        clean_args(0)
    assert "task_instance" in known_tables()


def test_the_jobs_configuration_holds_the_database_url_only(tmp_path: Path) -> None:
    env = environment("postgresql://airflow:p%25w@db:5432/airflow", tmp_path / "job")
    config = Path(env["AIRFLOW_CONFIG"])
    assert config.stat().st_mode & 0o777 == 0o600 and env["AIRFLOW_HOME"] == str(tmp_path / "job")
    from configparser import ConfigParser

    parser = ConfigParser()
    parser.read(config)  # Airflow's reading: %% back to %
    assert parser["database"]["sql_alchemy_conn"] == "postgresql+psycopg://airflow:p%25w@db:5432/airflow"
    assert set(parser.sections()) == {"database", "core"}
    assert not any(k.startswith("AIRFLOW__") for k in env)
