"""One real stack with Vault (AppRole, platform keys in Vault) and HTTPS; Fernet rotation on it.

The stack boots once for the module (about 70 s here); the tests run in file order and the last one
stops it to prove a wrong Fernet key refuses to start.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import certifi
import httpx
import psutil
import psycopg
import pytest
from airdeck.secrets import fernet as fernet_mod
from airdeck.secrets import vault
from airdeck.state.home import AirdeckHome
from cryptography.fernet import Fernet

from tests.fixtures.openbao import OpenBao
from tests.harness import AIRDECK, REPO, Stack, new_home, remove_home, write_config
from tests.secrets.conftest import run_airdeck

pytestmark = [pytest.mark.integration, pytest.mark.stack]

VAULT_CONN = {"host": "vault-only.internal", "port": 6543, "login": "vault_reader"}
DAG = textwrap.dedent('''
    from __future__ import annotations

    import pendulum
    from airflow.sdk import Connection, dag, task


    @dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False)
    def reads_vault_connection():
        @task
        def read() -> str:
            conn = Connection.get("vault_only_conn")
            return f"{conn.host}:{conn.port}:{conn.login}"

        read()


    reads_vault_connection()
''')
COUNT = 500


@pytest.fixture(scope="module")
def secured(bao: OpenBao, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("secured")
    home = new_home()  # outside pytest's 0700 tmp root (the embedded PostgreSQL runs as another user)
    dags = folder / "dags"
    dags.mkdir()
    (dags / "reads_vault_connection.py").write_text(DAG, encoding="utf-8")
    extra = {
        "secrets": {"backend": "vault", "vault": {"url": bao.url, "platform_secrets": True}},
        "tls": {"enabled": True},
        "airflow": {"dags_folder": str(dags)},
    }
    config = write_config(folder, extra)
    stack = Stack(home, config)
    try:
        boot = run_airdeck(home, config, "vault", "bootstrap", "--platform-secrets", token=bao.root_token)
        assert boot.returncode == 0, boot.stderr
        uri = (f"postgres://{VAULT_CONN['login']}:vault-pass-{uuid.uuid4().hex}@{VAULT_CONN['host']}:"
               f"{VAULT_CONN['port']}/db")
        put = run_airdeck(home, config, "vault", "put-connection", "vault_only_conn", "-", stdin=uri,
                          token=bao.root_token)
        assert put.returncode == 0, put.stderr
        assert run_airdeck(home, config, "tls", "init").returncode == 0
        ca = home / "tls" / "ca.pem"
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("SSL_CERT_FILE", str(ca))  # the harness's httpx calls verify with the generated CA
            stack.airdeck("up", "--detach")
            stack.base_url = stack.base_url.replace("http://", "https://")
            yield {"stack": stack, "home": home, "ca": ca, "bao": bao, "folder": folder, "uri": uri}
    finally:
        stack.airdeck("down", check=False, timeout=300)
        remove_home(home)


def _airdeck(stack: Stack, *args: str, env: dict[str, str] | None = None,
             stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AIRDECK, *args], env={**stack.env(), **(env or {})}, input=stdin, capture_output=True,
                          text=True, timeout=1200, check=False, cwd=REPO)


def _vault_value(bao: OpenBao, option: str) -> str:
    return bao.client().secrets.kv.v2.read_secret_version(
        path=f"config/{option}", mount_point="airflow", raise_on_deleted_version=True)["data"]["data"]["value"]


def _db(home: Path, stack: Stack) -> psycopg.Connection:
    password = (home / "secrets" / "database_password").read_text().strip()
    port = stack.settings["database"]["embedded"]["port"]
    return psycopg.connect(host="127.0.0.1", port=port, user="airflow", password=password, dbname="airflow")


def test_https_handshake_verifies_with_the_generated_ca(secured: dict[str, Any]) -> None:
    stack: Stack = secured["stack"]
    port = stack.settings["api_server"]["port"]
    context = ssl.create_default_context(cafile=str(secured["ca"]))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
        issuer = dict(x[0] for x in tls.getpeercert()["issuer"])
        assert issuer["organizationName"] == "airdeck"
    response = httpx.get(f"https://127.0.0.1:{port}/api/v2/monitor/health", timeout=30,
                         verify=ssl.create_default_context(cafile=str(secured["ca"])))
    assert response.status_code == 200 and response.json()["metadatabase"]["status"] == "healthy"
    with pytest.raises(httpx.ConnectError):  # only the airdeck CA vouches for it: public CAs do not
        httpx.get(f"https://127.0.0.1:{port}/api/v2/monitor/health",
                  verify=ssl.create_default_context(cafile=certifi.where()), timeout=30)
    with pytest.raises(httpx.HTTPError):  # plain http is not served
        httpx.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=10)
    status = stack.status()["services"]
    assert all(s["health"] == "healthy" for s in status), status  # health checks follow https
    api = next(s for s in status if s["name"] == "api-server")
    assert api["url"].startswith("https://")
    # secure cookies: the login page's session cookie carries the Secure attribute
    login = httpx.get(f"https://127.0.0.1:{port}/auth/login/", timeout=30)  # SSL_CERT_FILE: the generated CA
    cookies = login.headers.get_list("set-cookie")
    assert cookies, login.headers
    assert all("secure" in c.lower() for c in cookies), cookies


def test_task_reads_a_connection_that_exists_only_in_vault(secured: dict[str, Any]) -> None:
    stack: Stack = secured["stack"]
    assert stack.api("GET", "/connections/vault_only_conn").status_code == 404  # not in the database
    run_id = stack.trigger("reads_vault_connection")
    assert stack.wait_for_run("reads_vault_connection", run_id, timeout=400) == "success"
    xcom = stack.api("GET", f"/dags/reads_vault_connection/dagRuns/{run_id}/taskInstances/read/xcomEntries/"
                            "return_value")
    assert xcom.status_code == 200, xcom.text
    assert xcom.json()["value"] == f"{VAULT_CONN['host']}:{VAULT_CONN['port']}:{VAULT_CONN['login']}"


def test_fernet_rotation_of_500_connections_and_variables_resumes_and_leaves_no_plaintext(
        secured: dict[str, Any], tmp_path: Path) -> None:
    stack: Stack = secured["stack"]
    bao: OpenBao = secured["bao"]
    home: Path = secured["home"]
    marker = uuid.uuid4().hex[:10]
    conns = {f"rot_conn_{i}": {"conn_type": "postgres", "host": f"db{i}.internal", "login": f"user{i}",
                               "password": f"pw-{marker}-{i}", "port": 5432,
                               "extra": json.dumps({"token": f"extra-{marker}-{i}"})} for i in range(COUNT)}
    variables = {f"rot_var_{i}": f"var-{marker}-{i}" for i in range(COUNT)}
    (tmp_path / "conns.json").write_text(json.dumps(conns))
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    for what, path in (("connections", "conns.json"), ("variables", "vars.json")):
        result = _airdeck(stack, "airflow", what, "import", str(tmp_path / path))
        assert result.returncode == 0, result.stdout + result.stderr
    old_key = _vault_value(bao, "fernet_key")

    status = json.loads(_airdeck(stack, "fernet", "status", "--json").stdout)
    assert status["encrypted_values"] >= 3 * COUNT
    assert status["keys"][0]["values"] == status["encrypted_values"] and not status["undecryptable"]
    assert old_key not in json.dumps(status)

    # interrupted for real: the `airdeck fernet rotate` process and its `airflow rotate-fernet-key` child are
    # killed while the values are being re-encrypted; the old key is still listed, nothing is lost, status says so
    token_env = {"VAULT_TOKEN": bao.root_token}
    broken = _kill_rotation_during_reencryption(stack, home, token_env)
    assert broken.returncode == -signal.SIGKILL, broken.stderr
    assert "rotation complete" not in broken.stdout + broken.stderr
    state = json.loads((home / "secrets" / fernet_mod.STATE_FILE).read_text())
    assert state["phase"] == "added"
    listed = _vault_value(bao, "fernet_key").split(",")
    assert len(listed) == 2 and listed[1] == old_key and fernet_mod.fingerprint(listed[0]) == state["new"]
    middle = json.loads(_airdeck(stack, "fernet", "status", "--json").stdout)
    assert middle["rotation"]["phase"] == "added"
    assert [k["fingerprint"] for k in middle["keys"]] == [state["new"], fernet_mod.fingerprint(old_key)]
    # one transaction, killed inside it before it committed: the old key still decrypts every value, the new one none
    assert [k["values"] for k in middle["keys"]] == [0, middle["encrypted_values"]]
    assert middle["encrypted_values"] == status["encrypted_values"]
    assert not middle["undecryptable"]
    # the services, restarted with both keys, still serve the values meanwhile
    assert stack.api("GET", "/variables/rot_var_3").json()["value"] == variables["rot_var_3"]

    resumed = _airdeck(stack, "fernet", "rotate", env=token_env)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stderr and "from phase 'added'" in resumed.stderr
    new_key = _vault_value(bao, "fernet_key")
    assert "," not in new_key and new_key != old_key
    assert fernet_mod.fingerprint(new_key) == state["new"]  # the same rotation finished, not a new one
    assert not (home / "secrets" / fernet_mod.STATE_FILE).exists()
    for output in (broken, resumed):
        assert old_key not in output.stdout + output.stderr and new_key not in output.stdout + output.stderr

    # every value decrypts with the new key alone, to exactly what was written
    only_new = Fernet(new_key.encode())
    with _db(home, stack) as conn:
        rows = conn.execute(
            "SELECT conn_id, password, extra FROM connection WHERE conn_id LIKE 'rot_conn_%'").fetchall()
        assert len(rows) == COUNT
        for conn_id, password, extra in rows:
            assert only_new.decrypt(password.encode()).decode() == conns[conn_id]["password"]
            assert json.loads(only_new.decrypt(extra.encode()))["token"] == json.loads(conns[conn_id]["extra"])["token"]
        rows = conn.execute("SELECT key, val FROM variable WHERE key LIKE 'rot_var_%'").fetchall()
        assert len(rows) == COUNT
        for key, val in rows:
            assert only_new.decrypt(val.encode()).decode() == variables[key]
    final = json.loads(_airdeck(stack, "fernet", "status", "--json").stdout)
    assert len(final["keys"]) == 1 and final["keys"][0]["fingerprint"] == state["new"]
    assert not final["undecryptable"] and final["rotation"] is None

    # the database holds no plaintext secret: scan a full pg_dump
    pg_dump = Path(psycopg.__file__).parents[1] / "pgserver" / "pginstall" / "bin" / "pg_dump"
    port = str(stack.settings["database"]["embedded"]["port"])
    password = (home / "secrets" / "database_password").read_text().strip()
    dump = subprocess.run([str(pg_dump), "-h", "127.0.0.1", "-p", port, "-U", "airflow", "--data-only", "airflow"],
                          capture_output=True, text=True, check=True, env={**os.environ, "PGPASSWORD": password})
    assert "rot_conn_1" in dump.stdout  # the dump is real
    assert f"pw-{marker}" not in dump.stdout and f"var-{marker}" not in dump.stdout
    assert f"extra-{marker}" not in dump.stdout
    # the services still serve the values after both restarts
    assert stack.api("GET", "/variables/rot_var_7").json()["value"] == variables["rot_var_7"]


def _rotation_state(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):  # not written yet (it is replaced atomically, never half-written)
        return None
    return data if isinstance(data, dict) else None


def _reencrypting(pid: int) -> bool:
    """Whether the process ``pid`` runs `airflow rotate-fernet-key` below it."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return False
    for child in children:
        try:
            if "rotate-fernet-key" in " ".join(child.cmdline()):
                return True
        except psutil.Error:
            continue
    return False


def _kill_rotation_during_reencryption(stack: Stack, home: Path,
                                       env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `airdeck fernet rotate` and SIGKILL it and every process below it (a crash) provably INSIDE the
    re-encryption transaction of its `airflow rotate-fernet-key` child.

    Airflow rotates every value in one transaction whose UPDATEs are flushed at commit, ordered by primary
    key. This session first locks the last rotated row of each table (FOR UPDATE), so that flush updates
    the rows before it and then waits on our lock. PostgreSQL shows it: a backend blocked by us, running
    an UPDATE, with a transaction id (assigned at its first write). Only then the kill; then our lock is
    released, the orphaned transaction is rolled back, and its backend goes away.
    """
    state_file = home / "secrets" / fernet_mod.STATE_FILE
    with _db(home, stack) as blocker:
        last_conn = blocker.execute("SELECT max(id) FROM connection WHERE conn_id LIKE 'rot_conn_%'").fetchone()
        last_var = blocker.execute("SELECT max(id) FROM variable WHERE key LIKE 'rot_var_%'").fetchone()
        assert last_conn and last_conn[0] is not None and last_var and last_var[0] is not None
        blocker.execute("SELECT id FROM connection WHERE id = %s FOR UPDATE", (last_conn[0],))
        blocker.execute("SELECT id FROM variable WHERE id = %s FOR UPDATE", (last_var[0],))
        ours = blocker.info.backend_pid
        with _db(home, stack) as watcher:
            watcher.autocommit = True
            proc = subprocess.Popen([*AIRDECK, "fernet", "rotate"], env={**stack.env(), **env},
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                                    start_new_session=True)
            try:
                deadline = time.monotonic() + 900
                while True:
                    blocked = watcher.execute(
                        "SELECT pid, backend_xid::text, wait_event_type, query FROM pg_stat_activity "
                        "WHERE %s = ANY(pg_blocking_pids(pid))", (ours,)).fetchall()
                    if blocked:
                        break
                    if proc.poll() is not None or time.monotonic() > deadline:
                        proc.kill()
                        out, err = proc.communicate(timeout=60)
                        raise AssertionError(f"the rotation never reached its UPDATEs (exit code {proc.returncode}):"
                                             f"\n{out}\n{err}")
                    time.sleep(0.05)
                # The evidence: inside the rotation's transaction, which has written (it has an xid), updating.
                (backend, xid, wait_type, query), = blocked
                assert xid is not None and wait_type == "Lock", blocked
                assert query.lstrip().upper().startswith("UPDATE") and (
                    "connection" in query or "variable" in query), query
                writes = watcher.execute(
                    "SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "WHERE l.pid = %s AND l.granted AND l.mode = 'RowExclusiveLock'", (backend,)).fetchall()
                assert {"connection", "variable"} & {r[0] for r in writes}, writes
                state = _rotation_state(state_file)
                assert state is not None and state.get("phase") == "added", state
                assert _reencrypting(proc.pid)
                children = psutil.Process(proc.pid).children(recursive=True)
                proc.kill()  # through Popen: psutil.wait_procs would reap our own child and lose its exit status
                for child in children:
                    try:
                        child.kill()
                    except psutil.NoSuchProcess:
                        pass
                proc.wait(timeout=60)
                _, alive = psutil.wait_procs(children, timeout=60)
                assert not alive, f"still running after SIGKILL: {alive}"
            finally:
                if proc.poll() is None:
                    proc.kill()
            blocker.rollback()  # the orphaned UPDATE goes on, finds its client gone and rolls back
            deadline = time.monotonic() + 120
            while watcher.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (backend,)).fetchone():
                assert time.monotonic() < deadline, f"backend {backend} of the killed rotation is still there"
                time.sleep(0.05)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _stack_processes(home: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get("AIRDECK_STACK") == str(home):
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


def test_secrets_never_in_process_listings_or_service_logs(secured: dict[str, Any]) -> None:
    stack: Stack = secured["stack"]
    bao: OpenBao = secured["bao"]
    home: Path = secured["home"]
    secret_values = {
        "fernet_key": _vault_value(bao, "fernet_key"),
        "jwt_secret": _vault_value(bao, "jwt_secret"),
        "secret_key": _vault_value(bao, "secret_key"),
        "approle secret_id": vault.approle_files(AirdeckHome(home))[1].read_text().strip(),
        "admin password": stack.credentials()["password"],
        "vault connection password": secured["uri"].split(":")[2].split("@")[0],
    }
    processes = _stack_processes(home)
    assert len(processes) >= 6
    for proc in processes:
        argv = " ".join(proc.cmdline())
        for name, value in secret_values.items():
            assert value not in argv, f"{name} in the argv of pid {proc.pid}"
    logs = [p for p in (home / "logs").rglob("*") if p.is_file()]
    assert logs
    for path in logs:
        text = path.read_text(errors="replace")
        for name, value in secret_values.items():
            assert value not in text, f"{name} in {path}"


def test_wrong_fernet_key_refuses_to_start(secured: dict[str, Any]) -> None:
    stack: Stack = secured["stack"]
    bao: OpenBao = secured["bao"]
    home: Path = secured["home"]
    assert _airdeck(stack, "down").returncode == 0
    right = _vault_value(bao, "fernet_key")
    wrong = Fernet.generate_key().decode()
    client = bao.client()
    client.secrets.kv.v2.create_or_update_secret(path="config/fernet_key", secret={"value": wrong},
                                                 mount_point="airflow")
    try:
        result = _airdeck(stack, "up", "--detach")
        assert result.returncode != 0
        assert "cannot decrypt" in result.stderr and "were not started" in result.stderr
        assert fernet_mod.fingerprint(wrong) in result.stderr and wrong not in result.stderr + result.stdout
        assert not _stack_processes(home), "something was left running"
        assert not any(n in result.stderr for n in ("scheduler healthy", "api-server healthy"))
    finally:
        client.secrets.kv.v2.create_or_update_secret(path="config/fernet_key", secret={"value": right},
                                                     mount_point="airflow")
