"""The chart's PgBouncer runs outside Kubernetes, and an Airflow pod works through it; the database
cleanup CronJob runs beside it, directly against the database.

Rendered with `pgbouncer.enabled`, the PgBouncer pod's init container (`airdeck pgbouncer-config`) and
its PgBouncer command run as local processes (Debian's PgBouncer; tests/helm/pods.py lays out the
volumes) in front of a real PostgreSQL, then the migration Job (direct) and the scheduler pod (its
wait-for-migrations init container, the scheduler, its own liveness probe) through it.

The database URL's host is a name only the PgBouncer pod and the migration Job resolve (their own
/etc/hosts): were the scheduler to connect directly, it could not resolve it. The init container runs as
root like every airdeck container of the harness; its files are then owned by uid 50000, which is what
the pod gives them (both containers run as runAsUser 50000), and PgBouncer runs as that uid (it
refuses root). The exporter image is not run: its statistics user's path is checked instead
(`SHOW STATS` as the exporter's DATABASE_URL). The cleanup CronJob's container runs with the
database-only /etc/hosts too: it reaches the database directly, with nothing mounted but its URL.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.fernet import Fernet

from tests.harness import free_ports, postgres_server
from tests.helm.chart import render
from tests.helm.pods import LocalPod, hosts_file, unshare_prefix
from tests.helm.test_outside_kubernetes import _unshare_works, _valkey, _wait_healthy

pytestmark = [pytest.mark.integration, pytest.mark.stack, pytest.mark.timeout(1200)]

RELEASE = "pb"
DB_HOST = "metadata-db.internal"  # resolved only inside the PgBouncer pod and the migration Job
UID = 50000


def _why_not(folder: Path) -> str | None:
    if shutil.which("pgbouncer", path="/usr/sbin:/usr/bin") is None:
        return "pgbouncer is not installed (apt-get install -y pgbouncer; scripts/test lists it)"
    if os.geteuid() != 0:
        return "PgBouncer must run as the pod's uid 50000 while the harness runs the airdeck containers as root"
    return _unshare_works(folder)


@pytest.fixture(scope="module")
def platform() -> Iterator[dict[str, Any]]:
    folder = Path(tempfile.mkdtemp(prefix="airdeck-helm-pgb-", dir="/tmp"))
    folder.chmod(0o711)
    why = _why_not(folder)
    if why:
        shutil.rmtree(folder, ignore_errors=True)
        if os.environ.get("CI") == "true":
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    pooler_port, health, valkey_port, logs, trigger_logs = free_ports(5)
    broker_password = secrets.token_urlsafe(12)
    pods: list[LocalPod] = []
    procs: list[subprocess.Popen[bytes]] = []
    with postgres_server("airflow", secrets.token_urlsafe(12)) as pg, _removed(folder):
        try:
            procs.append(_valkey(folder, valkey_port, broker_password))
            values = {
                "airdeck": {"scheduler": {"health_check_port": health},
                            "workers": {"log_server_port": logs},
                            "triggerer": {"log_server_port": trigger_logs}},
                "scheduler": {"replicas": 1},
                "pgbouncer": {"enabled": True, "port": pooler_port, "metadataPoolSize": 3},
                "databaseCleanup": {"enabled": True, "retentionDays": 30, "tables": ["log", "job"]},
            }
            objects = render(values, name=RELEASE)
            configmaps = {o["metadata"]["name"]: o["data"] for o in objects if o["kind"] == "ConfigMap"}
            held = {
                f"{RELEASE}-database": {"url": pg.dsn().replace("@127.0.0.1:", f"@{DB_HOST}:")},
                f"{RELEASE}-broker": {"url": f"redis://:{broker_password}@127.0.0.1:{valkey_port}/0"},
                f"{RELEASE}-fernet-key": {"fernet-key": Fernet.generate_key().decode()},
                f"{RELEASE}-jwt-private-key": {"jwt-private-key": _jwt_key()},
                f"{RELEASE}-admin-password": {"password": secrets.token_urlsafe(16)},
                f"{RELEASE}-log-fetch-key": {"log-fetch-key": secrets.token_urlsafe(32)},
                f"{RELEASE}-api-secret-key": {"api-secret-key": secrets.token_urlsafe(32)},
            }
            services = [o["metadata"]["name"] for o in objects if o["kind"] == "Service"]
            airflow_prefix = unshare_prefix(hosts_file(folder, services))
            (folder / "db").mkdir()
            db_prefix = unshare_prefix(hosts_file(folder / "db", [DB_HOST]))

            def pod(manifest: dict[str, Any], prefix: list[str]) -> LocalPod:
                p = LocalPod(manifest, folder / "pods" / manifest["metadata"]["name"], configmaps, held, prefix)
                p.lay_out()
                pods.append(p)
                return p

            def named(kind: str, suffix: str) -> dict[str, Any]:
                return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"].startswith(
                    f"{RELEASE}-{suffix}"))

            bouncer = pod(named("Deployment", "pgbouncer"), db_prefix)
            bouncer.run_init(folder / "pgbouncer.log")
            config = bouncer.mounts["/etc/pgbouncer"]
            for path in [config, *config.iterdir()]:
                os.chown(path, UID, UID)  # the pod's runAsUser owns what its init container wrote
            for parent in config.parents:  # the harness's folders, traversable as on a node
                if parent == Path("/tmp"):
                    break
                parent.chmod(parent.stat().st_mode | 0o011)
            container = bouncer.spec["containers"][0]
            argv = bouncer.container_argv(container)
            at = argv.index(next(a for a in argv if a.endswith("/pgbouncer")))
            argv[at:at] = ["setpriv", "--reuid", str(UID), "--regid", str(UID), "--clear-groups"]
            out = (folder / "pgbouncer.log").open("ab")
            bouncer.procs.append(subprocess.Popen(argv, env=bouncer.environment(container), stdout=out,
                                                  stderr=subprocess.STDOUT, start_new_session=True))
            migrate = pod(named("Job", "migrate"), db_prefix)
            migrate.start(folder / "migrate.log")
            assert migrate.procs[0].wait(600) == 0, (folder / "migrate.log").read_text()[-4000:]
            scheduler = pod(named("Deployment", "scheduler"), airflow_prefix)
            scheduler.run_init(folder / "scheduler.log")
            scheduler.start(folder / "scheduler.log")
            cron = named("CronJob", "db-cleanup")
            cleanup = pod({"kind": "Job", "metadata": cron["metadata"], "spec": cron["spec"]["jobTemplate"]["spec"]},
                          db_prefix)
            yield {"folder": folder, "pgbouncer": bouncer, "scheduler": scheduler, "port": pooler_port,
                   "objects": objects, "held": held, "pg": pg, "cleanup": cleanup}
        finally:
            for p in reversed(pods):
                p.stop()
            for proc in procs:
                proc.terminate()
                proc.wait(10)


@contextlib.contextmanager
def _removed(folder: Path) -> Iterator[None]:
    """The harness's folder is removed however the fixture ends (a failing init container included)."""
    try:
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _jwt_key() -> str:
    from airdeck.state.secrets import GENERATED

    return str(GENERATED["jwt_private_key"][0]())


def test_pgbouncer_files_are_private_and_hold_the_password_only_in_the_userlist(platform: dict[str, Any]) -> None:
    config: Path = platform["pgbouncer"].mounts["/etc/pgbouncer"]
    password = platform["pg"].password
    for path in config.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, path
        assert (password in path.read_text()) == (path.name == "userlist.txt"), path
    rendered = [o for o in platform["objects"] if o["kind"] in ("ConfigMap", "Secret")]
    assert not any(password in str(o) for o in rendered)


def test_the_scheduler_works_through_pgbouncer(platform: dict[str, Any]) -> None:
    scheduler: LocalPod = platform["scheduler"]
    _wait_healthy(scheduler, 300)
    container = scheduler.spec["containers"][0]
    args = container["args"]
    assert args[args.index("--database-pooler") + 1] == f"{RELEASE}-pgbouncer:{platform['port']}"
    # Its own `airflow db check`, in its rendered environment, goes through PgBouncer too.
    done = subprocess.run(scheduler.argv(["airflow", "db", "check"]), env=scheduler.environment(container),
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    console = f"postgresql://airdeck_stats@127.0.0.1:{platform['port']}/pgbouncer?sslmode=disable"
    # The scheduler's loop goes on through PgBouncer: wait for its transactions to pass 50 in PgBouncer's
    # own totals (updated every stats_period), however slow the machine, rather than for a fixed time.
    deadline = time.monotonic() + 240
    while True:
        with psycopg.connect(console, autocommit=True) as conn:
            cur = conn.cursor()
            stats = cur.execute("SHOW STATS")
            names = [d.name for d in stats.description or []]
            rows = {row[0]: dict(zip(names, row, strict=True)) for row in stats.fetchall()}
            clients = cur.execute("SHOW CLIENTS").fetchall()
        if rows.get("airflow", {}).get("total_xact_count", 0) > 50 or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert rows["airflow"]["total_xact_count"] > 50, rows
    assert any(row[1] == "airflow" for row in clients), "the scheduler holds client connections to PgBouncer"
    with psycopg.connect(platform["pg"].dsn(), autocommit=True) as direct:
        servers = direct.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = 'airflow' "
                                 "AND pid <> pg_backend_pid()").fetchone()
    assert servers is not None and servers[0] <= 3, "at most metadataPoolSize server connections"


def test_the_scheduler_cannot_reach_the_database_directly(platform: dict[str, Any]) -> None:
    """The proof that its traffic went through PgBouncer: the URL's own host does not resolve there."""
    scheduler: LocalPod = platform["scheduler"]
    container = scheduler.spec["containers"][0]
    done = subprocess.run(scheduler.argv(["getent", "hosts", DB_HOST]), env=scheduler.environment(container),
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode != 0, done.stdout


def test_database_cleanup_cronjob_purges_old_rows_directly(platform: dict[str, Any]) -> None:
    with psycopg.connect(platform["pg"].dsn(), autocommit=True) as conn:
        conn.execute("INSERT INTO log (dttm, event) VALUES (now() - interval '100 days', 'c23-old'), "
                     "(now() - interval '2 days', 'c23-new')")
    cleanup: LocalPod = platform["cleanup"]
    assert set(cleanup.mounts["/run/secrets/airdeck"].iterdir()) == {
        cleanup.mounts["/run/secrets/airdeck"] / "database_url"}, "the cleanup pod mounts the database URL only"
    log = platform["folder"] / "cleanup.log"
    cleanup.start(log)
    code = cleanup.procs[0].wait(600)
    text = log.read_text()
    assert code == 0, text[-4000:]
    assert "--skip-archive" in text and "--tables log,job" in text
    assert platform["pg"].password not in text
    with psycopg.connect(platform["pg"].dsn(), autocommit=True) as conn:
        events = {row[0] for row in conn.execute("SELECT event FROM log WHERE event LIKE 'c23-%'")}
        archives = conn.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE '_airflow_deleted__%'").fetchone()
    assert events == {"c23-new"}
    assert archives == (0,)
    config = cleanup.mounts["/opt/airdeck/home"] / "db-cleanup" / "airflow.cfg"
    assert config.stat().st_mode & 0o777 == 0o600
    assert "fernet_key" not in config.read_text() and "broker" not in config.read_text()
