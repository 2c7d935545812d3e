"""`airdeck run` jobs and probes for the Helm chart: migrate, wait-for-migrations, canary, --probe."""

from __future__ import annotations

from pathlib import Path

import pytest
from airdeck import concerns
from airdeck.config.loader import parse_config
from airdeck.errors import AirdeckError
from airdeck.plan.endpoints import Target
from airdeck.run.entrypoint import prepare, probe_argv, run_component, secrets_needed, select
from airdeck.state.home import AirdeckHome

from tests.run.test_run import EXTERNAL, MOUNTED, _secrets


def test_jobs_use_the_one_off_configuration_and_mirror_runtime_secrets(tmp_path: Path) -> None:
    home = AirdeckHome(tmp_path / "home")
    secrets = _secrets(tmp_path / "secrets", {**MOUNTED, "admin_password": "pw"}, mode=0o440)
    comp, env = prepare(parse_config(EXTERNAL), home, "migrate", target="kubernetes", release="r",
                        secrets_dir=secrets)
    assert comp.name == "cli" and Path(env["AIRFLOW_CONFIG"]).exists()
    mirrored = home.secrets / "admin_password"
    assert mirrored.read_text() == "pw" and oct(mirrored.stat().st_mode & 0o777) == "0o600"


def test_probe_commands_follow_the_plan(tmp_path: Path) -> None:
    deployment = concerns.plan(parse_config(EXTERNAL), AirdeckHome(tmp_path), Target.kubernetes("r"))
    assert probe_argv(select(deployment, "triggerer"))[2:6] == ["check", "--job-type", "TriggererJob", "--local"]
    assert probe_argv(select(deployment, "dag-processor"))[4] == "DagProcessorJob"
    worker = probe_argv(select(deployment, "worker"))
    assert worker is not None and "ping" in worker and worker[worker.index("--destination") + 1].startswith("worker@")
    assert probe_argv(select(deployment, "api-server")) is None


def test_probe_and_canary_refuse_what_they_cannot_do(tmp_path: Path) -> None:
    cfg, home = parse_config(EXTERNAL), AirdeckHome(tmp_path / "home")
    with pytest.raises(AirdeckError, match="probed over HTTP"):
        run_component(cfg, home, "api-server", target="kubernetes", probe=True)
    with pytest.raises(AirdeckError, match="not the job 'migrate'"):
        run_component(cfg, home, "migrate", target="kubernetes", probe=True)
    secrets = _secrets(tmp_path / "secrets", MOUNTED)
    with pytest.raises(AirdeckError, match="no admin_password"):
        run_component(cfg, home, "canary", target="kubernetes", secrets_dir=secrets)
    with pytest.raises(AirdeckError, match="jobs: migrate, wait-for-migrations, canary"):
        run_component(cfg, home, "nope", target="kubernetes")


def test_the_canary_renders_no_airflow_configuration_and_needs_only_the_admin_password(tmp_path: Path) -> None:
    """The canary is a REST client: given only admin_password it reaches the API (here: nobody answers,
    so it fails as a canary does, with exit 1), and writes no Airflow configuration holding keys."""
    cfg, home = parse_config(EXTERNAL), AirdeckHome(tmp_path / "home")
    deployment = concerns.plan(cfg, home, Target.kubernetes("r"))
    assert secrets_needed(deployment, home, "canary") == {"admin_password"}
    secrets = _secrets(tmp_path / "secrets", {"admin_password": "pw"}, mode=0o440)
    assert run_component(cfg, home, "canary", target="kubernetes", release="127.0.0.1", secrets_dir=secrets,
                         timeout=2) == 1
    assert not list(home.root.rglob("airflow.cfg"))


def test_the_migration_job_checks_before_it_migrates(tmp_path: Path) -> None:
    """On Kubernetes nothing starts half-way either: an unwritable task log destination stops the
    migration Job before `airflow db migrate`, so the Airflow pods keep waiting for the schema."""
    import json
    import os
    import subprocess
    import sys

    import psycopg
    import yaml

    from tests.harness import free_port, postgres_server

    closed = free_port()  # nothing listens: the "store" is unreachable
    with postgres_server("airflow", "job-test-pw") as pg:
        from cryptography.fernet import Fernet

        secrets = _secrets(tmp_path / "secrets", {**MOUNTED, "fernet_key": Fernet.generate_key().decode(),
                                                  "database_url": pg.url,
                                                  "broker_url": "redis://:pw@127.0.0.1:6379/0"})
        config = tmp_path / "airdeck.yaml"
        config.write_text(yaml.safe_dump({"logging": {"remote": "s3://job-logs/airflow", "connection": "aws_logs",
                                                      "endpoint": f"http://127.0.0.1:{closed}"}}))
        conn = json.dumps({"conn_type": "aws", "login": "AKIAEXAMPLE", "password": "job-secret-key",
                           "extra": {"region_name": "us-east-1"}})
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
               "AIRFLOW_CONN_AWS_LOGS": conn, "AIRDECK_HOME": str(tmp_path / "home")}
        done = subprocess.run([sys.executable, "-m", "airdeck.cli.main", "--config", str(config), "run", "migrate",
                               "--target", "kubernetes", "--secrets-dir", str(secrets)],
                              env=env, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode != 0, done.stdout + done.stderr
        assert "s3://job-logs/airflow" in done.stderr and "logging.remote" in done.stderr, done.stderr
        assert "job-secret-key" not in done.stdout + done.stderr and "job-test-pw" not in done.stderr
        with psycopg.connect(pg.dsn(), autocommit=True) as db:
            tables = db.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'alembic_version'"
                                ).fetchone()
        assert tables == (0,)  # `airflow db migrate` never ran


def test_the_canary_sign_in_check_needs_its_password_and_known_permissions(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from airdeck.run.canary import PROBE_ID, CanaryError, probe_for

    cfg, home = parse_config(EXTERNAL), AirdeckHome(tmp_path / "home")
    secrets = _secrets(tmp_path / "secrets", {"admin_password": "pw"}, mode=0o440)
    with pytest.raises(AirdeckError, match=r"no canary_password in .*tests.signIn.passwordSecret"):
        run_component(cfg, home, "canary", target="kubernetes", secrets_dir=secrets, sign_in_as="dave",
                      allowed=["can_read on DAGs"])
    assert probe_for("can_read on DAGs") == ("GET", "/api/v2/dags")
    assert probe_for("can_edit on Connections") == ("PATCH", f"/api/v2/connections/{PROBE_ID}")
    with pytest.raises(CanaryError, match=r"cannot check 'can_fly on DAGs'; it checks: can_read on DAGs, "):
        probe_for("can_fly on DAGs")
    # An unknown permission fails the canary (exit 1) before any request, saying what it can check.
    with_user = _secrets(tmp_path / "secrets2", {"canary_password": "pw"}, mode=0o440)
    assert run_component(cfg, home, "canary", target="kubernetes", release="127.0.0.1", secrets_dir=with_user,
                         dag="", sign_in_as="dave", denied=["can_edit on Website"], timeout=2) == 1
    assert "cannot check 'can_edit on Website'" in capsys.readouterr().out


def test_relative_ldap_files_are_read_from_the_mounted_secrets(tmp_path: Path) -> None:
    """The chart names the LDAP password and CA files relative to --secrets-dir; the api-server's
    rendered webserver_config.py points at the mounted files (absolute paths stay as given)."""
    import ast

    ldap = {"url": "ldaps://ldap.example.com", "bind_dn": "cn=svc,dc=example,dc=com",
            "user_search_base": "dc=example,dc=com", "bind_password_file": "ldap_bind_password",
            "ca_file": "ldap_ca.pem"}
    cfg = parse_config({**EXTERNAL, "auth": {"mode": "ldap", "ldap": ldap}})
    home = AirdeckHome(tmp_path / "home")
    secrets = _secrets(tmp_path / "secrets", {**MOUNTED, "database_url": "postgresql://a:b@db/airflow",
                                              "broker_url": "redis://:c@r:6379/0", "ldap_bind_password": "svc-pw",
                                              "ldap_ca.pem": "-----BEGIN CERTIFICATE-----"}, mode=0o440)
    from airdeck.run.entrypoint import with_mounted_ldap_files

    moved = with_mounted_ldap_files(cfg, secrets)
    assert moved.auth.ldap is not None
    assert moved.auth.ldap.bind_password_file == secrets.absolute() / "ldap_bind_password"
    assert moved.auth.ldap.bind_password() == "svc-pw"
    assert with_mounted_ldap_files(cfg, None) is cfg
    prepare(moved, home, "api-server", target="kubernetes", release="r", secrets_dir=secrets)
    text = home.webserver_config.read_text()
    rendered = ast.literal_eval(text.split("AIRDECK_LDAP = ", 1)[1].split("\nAIRDECK_BREAK_GLASS_USERS", 1)[0])
    assert rendered["bind_password_file"] == str(secrets.absolute() / "ldap_bind_password")
    assert rendered["ca_file"] == str(secrets.absolute() / "ldap_ca.pem")
    assert "svc-pw" not in text
    absolute = parse_config({**EXTERNAL, "auth": {"mode": "ldap", "ldap": {**ldap, "ca_file": "/etc/ssl/ca.pem"}}})
    assert str(with_mounted_ldap_files(absolute, secrets).auth.ldap.ca_file) == "/etc/ssl/ca.pem"  # type: ignore[union-attr]
