"""The Fernet rotation state machine over a real PostgreSQL, through a runtime the test controls.

The runtime stands in for a target: it holds the key list in a real secrets folder, re-encrypts like
``airflow rotate-fernet-key`` does (MultiFernet: the first key encrypts, every key decrypts, one
transaction), records restarts, and raises at a chosen call to interrupt the rotation in each phase.
The real Airflow command and restarts are exercised by tests/secrets/test_stack_secrets.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from airdeck.config.loader import parse_config
from airdeck.config.model import AirdeckConfig
from airdeck.secrets import fernet
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import SecretStore
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from tests.harness import PostgresServer, postgres_server

SCHEMA = """
CREATE TABLE connection (id serial PRIMARY KEY, conn_id varchar(250) UNIQUE NOT NULL, password text, extra text,
                         is_encrypted boolean, is_extra_encrypted boolean);
CREATE TABLE variable (id serial PRIMARY KEY, key varchar(250) UNIQUE NOT NULL, val text, is_encrypted boolean);
CREATE TABLE trigger (id serial PRIMARY KEY, classpath text NOT NULL, kwargs text NOT NULL);
"""
COMPONENTS = ["api-server", "scheduler", "dag-processor", "triggerer", "worker-1"]


class Interrupted(Exception):  # noqa: N818 - the event, not an error of the code under test
    """The test's own interruption of a rotation (a crash, a killed process, a lost connection)."""


@dataclass
class FakeRuntime:
    """A :class:`airdeck.plan.concern.Runtime` over a real database and secrets folder."""

    cfg: AirdeckConfig
    home: AirdeckHome
    secrets: SecretStore
    database_url: str
    interrupt: tuple[str, int] | None = None  # (call name, its 1-based count) that raises Interrupted
    after_reencrypt: Any = None  # called with the connection after a successful re-encryption
    cli_result: tuple[int, str] | None = None  # what `airflow rotate-fernet-key` answers instead of running
    said: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    restarts: list[tuple[list[str], list[str]]] = field(default_factory=list)  # (components, key fingerprints)

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.interrupt == (name, self.calls.count(name)):
            raise Interrupted(f"{name} #{self.calls.count(name)}")

    def secret(self, name: str) -> str:
        if name == "database_url":
            self._call("database_url")
            return self.database_url
        return self.secrets.get(name)

    def say(self, message: str) -> None:
        self.said.append(message)

    def airflow_cli(self, *args: str) -> tuple[int, str]:
        self._call("airflow_cli")
        assert args == ("rotate-fernet-key",)
        if self.cli_result is not None:
            return self.cli_result
        keys = fernet.split_keys(self.secrets.get("fernet_key"))  # what Airflow reads from its settings
        multi = MultiFernet([Fernet(k.encode()) for k in keys])
        with psycopg.connect(fernet._plain_url(self.database_url)) as conn:  # noqa: SLF001 - one transaction
            try:
                for table, ident, column, flag in fernet.ENCRYPTED_COLUMNS:
                    if table == "connection_test_request":
                        continue
                    where = f"{flag}" if flag else f"left({column}, 1) <> '{{'"
                    rows = conn.execute(f"SELECT {ident}, {column} FROM {table} "  # noqa: S608
                                        f"WHERE {where} AND {column} IS NOT NULL").fetchall()
                    for key, value in rows:
                        rotated = multi.rotate(value.encode()).decode()
                        conn.execute(f"UPDATE {table} SET {column} = %s WHERE {ident} = %s",  # noqa: S608
                                     (rotated, key))
            except InvalidToken:
                conn.rollback()
                return 1, "cryptography.fernet.InvalidToken"
            if self.after_reencrypt is not None:
                self.after_reencrypt(conn)
        return 0, ""

    def airflow_components(self) -> list[str]:
        return list(COMPONENTS)

    def restart(self, components: list[str]) -> None:
        self._call("restart")
        keys = fernet.split_keys(self.secrets.get("fernet_key"))
        self.restarts.append((list(components), [fernet.fingerprint(k) for k in keys]))


@dataclass
class Platform:
    """One database with encrypted values, one secrets folder, and what was written (to compare)."""

    home: AirdeckHome
    url: str
    dsn: str
    old_key: str
    written: dict[tuple[str, str, str], str]  # (table, column, id) -> plaintext

    def runtime(self, **kwargs: Any) -> FakeRuntime:
        return FakeRuntime(parse_config({}), self.home, SecretStore(self.home.secrets), self.url, **kwargs)

    def keys(self) -> list[str]:
        return fernet.split_keys((self.home.secrets / "fernet_key").read_text())

    def state(self) -> dict[str, Any] | None:
        path = self.home.secrets / fernet.STATE_FILE
        return json.loads(path.read_text()) if path.exists() else None

    def decrypt_all(self, keys: list[str]) -> dict[tuple[str, str, str], str]:
        """Every encrypted value decrypted with ``keys`` (InvalidToken if one does not decrypt)."""
        multi = MultiFernet([Fernet(k.encode()) for k in keys])
        found = {}
        with psycopg.connect(self.dsn) as conn:
            for item in fernet.values(conn):
                if isinstance(item, fernet.EncryptedValue):
                    found[(item.table, item.column, item.ident)] = multi.decrypt(item.token.encode()).decode()
        return found


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    with postgres_server("fernet", "fernet-test-pw") as pg:
        yield pg


@pytest.fixture
def platform(server: PostgresServer, tmp_path: Path) -> Platform:
    database = f"fernet_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    home = AirdeckHome(tmp_path / "home")
    old_key = SecretStore(home.secrets).get("fernet_key")
    old = Fernet(old_key.encode())
    written: dict[tuple[str, str, str], str] = {}
    dsn = f"postgresql://airflow:{server.password}@127.0.0.1:{server.port}/{database}"
    with psycopg.connect(dsn) as conn:
        conn.execute(SCHEMA)  # type: ignore[arg-type]
        for i in range(40):
            password, extra = f"pw-{i}", json.dumps({"token": f"extra-{i}"})
            conn.execute("INSERT INTO connection (conn_id, password, extra, is_encrypted, is_extra_encrypted) "
                         "VALUES (%s, %s, %s, true, true)",
                         (f"conn_{i}", old.encrypt(password.encode()).decode(), old.encrypt(extra.encode()).decode()))
            written[("connection", "password", f"conn_{i}")] = password
            written[("connection", "extra", f"conn_{i}")] = extra
            conn.execute("INSERT INTO variable (key, val, is_encrypted) VALUES (%s, %s, true)",
                         (f"var_{i}", old.encrypt(f"value-{i}".encode()).decode()))
            written[("variable", "val", f"var_{i}")] = f"value-{i}"
        ident = conn.execute("INSERT INTO trigger (classpath, kwargs) VALUES ('t', %s) RETURNING id",
                             (old.encrypt(b'{"poke": 5}').decode(),)).fetchone()
        assert ident is not None
        written[("trigger", "kwargs", str(ident[0]))] = '{"poke": 5}'
        # stored unencrypted: a variable written without encryption, trigger kwargs as plain JSON
        conn.execute("INSERT INTO variable (key, val, is_encrypted) VALUES ('plain_var', 'plain', false)")
        conn.execute("""INSERT INTO trigger (classpath, kwargs) VALUES ('t', '{"plain": true}')""")
    return Platform(home, f"postgresql+psycopg://airflow:{server.password}@127.0.0.1:{server.port}/{database}",
                    dsn, old_key, written)


def _no_key_material(runtime: FakeRuntime, *keys: str) -> None:
    text = "\n".join(runtime.said)
    for key in keys:
        assert key not in text


def _assert_finished(platform: Platform, new_fp: str | None = None) -> str:
    keys = platform.keys()
    assert len(keys) == 1 and keys[0] != platform.old_key
    if new_fp is not None:
        assert fernet.fingerprint(keys[0]) == new_fp  # the same rotation finished, not a new one
    assert platform.decrypt_all(keys) == platform.written  # the new key alone, to exactly what was written
    with pytest.raises(InvalidToken):
        platform.decrypt_all([platform.old_key])
    assert platform.state() is None
    assert (platform.home.secrets / "fernet_key").stat().st_mode & 0o777 == 0o600
    with psycopg.connect(platform.dsn) as conn:  # unencrypted values are left as they were
        assert conn.execute("SELECT val FROM variable WHERE key = 'plain_var'").fetchone() == ("plain",)
        assert conn.execute("""SELECT count(*) FROM trigger WHERE kwargs = '{"plain": true}'""").fetchone() == (1,)
    return keys[0]


def test_rotation_reencrypts_every_value_and_retires_the_old_key(platform: Platform) -> None:
    before = fernet.survey_current(platform.runtime())
    assert before.total == len(platform.written) and not before.undecryptable
    assert len(before.plaintext) == 2

    runtime = platform.runtime()
    state = fernet.rotate(runtime)

    assert state["phase"] == "done" and state["old"] == [fernet.fingerprint(platform.old_key)]
    new_key = _assert_finished(platform, state["new"])
    assert state["verified_values"] == len(platform.written)
    assert runtime.calls == ["database_url", "restart", "airflow_cli", "database_url", "restart"]
    old_fp = fernet.fingerprint(platform.old_key)
    assert runtime.restarts == [(COMPONENTS, [state["new"], old_fp]), (COMPONENTS, [state["new"]])]
    _no_key_material(runtime, platform.old_key, new_key)
    assert any("verified" in line and str(len(platform.written)) in line for line in runtime.said)


# (interrupted call, its count) -> phase recorded, key list left, calls of the resumed run
INTERRUPTIONS = {
    "adding: the first restart": (("restart", 1), "adding", 2, ["restart", "airflow_cli", "database_url", "restart"]),
    "added: the re-encryption": (("airflow_cli", 1), "added", 2, ["airflow_cli", "database_url", "restart"]),
    "reencrypted: the verification": (("database_url", 2), "reencrypted", 2, ["database_url", "restart"]),
    "verified: the last restart": (("restart", 2), "verified", 1, ["restart"]),
}


@pytest.mark.parametrize("case", list(INTERRUPTIONS))
def test_an_interrupted_rotation_resumes_from_its_phase(platform: Platform, case: str) -> None:
    interrupt, phase, listed, resumed_calls = INTERRUPTIONS[case]
    broken = platform.runtime(interrupt=interrupt)
    with pytest.raises(Interrupted):
        fernet.rotate(broken)

    state = platform.state()
    assert state is not None and state["phase"] == phase
    assert (platform.home.secrets / fernet.STATE_FILE).stat().st_mode & 0o777 == 0o600
    keys = platform.keys()
    assert len(keys) == listed and fernet.fingerprint(keys[0]) == state["new"]
    if listed == 2:
        assert keys[1] == platform.old_key  # the old key stays listed until every value is verified
    assert platform.decrypt_all(keys) == platform.written  # nothing is lost meanwhile
    status = fernet.read_state(broken)
    assert status is not None and status["phase"] == phase

    resumed = platform.runtime()
    final = fernet.rotate(resumed)
    assert any(f"resuming the rotation to key {state['new']} from phase '{phase}'" in line for line in resumed.said)
    assert resumed.calls == resumed_calls
    assert final["new"] == state["new"] and final["started"] == state["started"]
    new_key = _assert_finished(platform, state["new"])
    _no_key_material(broken, platform.old_key, new_key)
    _no_key_material(resumed, platform.old_key, new_key)


def test_a_new_key_that_was_never_stored_is_replaced_on_resume(platform: Platform) -> None:
    phantom = Fernet.generate_key().decode()  # the state was saved, then the process died before storing it
    runtime = platform.runtime()
    fernet._save_state(runtime, {"phase": "adding", "new": fernet.fingerprint(phantom),  # noqa: SLF001
                                 "old": [fernet.fingerprint(platform.old_key)], "started": "2026-01-01T00:00:00Z"})
    final = fernet.rotate(runtime)
    assert any("never stored" in line for line in runtime.said)
    assert final["new"] != fernet.fingerprint(phantom) and final["started"] == "2026-01-01T00:00:00Z"
    _assert_finished(platform, final["new"])


def test_refuses_to_rotate_or_start_when_a_value_decrypts_with_no_key(platform: Platform) -> None:
    fernet.check_before_airflow(platform.runtime())  # every value decrypts: the check passes
    foreign = Fernet.generate_key().decode()
    with psycopg.connect(platform.dsn) as conn:
        conn.execute("INSERT INTO variable (key, val, is_encrypted) VALUES ('lost', %s, true)",
                     (Fernet(foreign.encode()).encrypt(b"lost value").decode(),))

    runtime = platform.runtime()
    with pytest.raises(fernet.FernetKeyError) as info:
        fernet.rotate(runtime)
    message = str(info.value)
    assert "1 encrypted values decrypt with none of the current keys" in message
    assert "variable.val of lost" in message and "nothing was changed" in message
    assert platform.old_key not in message and foreign not in message
    assert platform.keys() == [platform.old_key] and platform.state() is None
    assert runtime.calls == ["database_url"]  # no restart, no re-encryption

    with pytest.raises(fernet.FernetKeyError) as info:
        fernet.check_before_airflow(runtime)
    message = str(info.value)
    assert "cannot decrypt 1 of" in message and "were not started" in message
    assert fernet.fingerprint(platform.old_key) in message and str(platform.home.secrets / "fernet_key") in message
    assert platform.old_key not in message and foreign not in message


def test_a_value_written_with_the_old_key_meanwhile_is_re_encrypted_on_the_next_run(platform: Platform) -> None:
    def old_writer(conn: psycopg.Connection[Any]) -> None:  # a process still on the old key list
        conn.execute("INSERT INTO variable (key, val, is_encrypted) VALUES ('late', %s, true)",
                     (Fernet(platform.old_key.encode()).encrypt(b"late value").decode(),))

    runtime = platform.runtime(after_reencrypt=old_writer)
    with pytest.raises(fernet.FernetKeyError) as info:
        fernet.rotate(runtime)
    assert "1 values do not decrypt with the new key" in str(info.value)
    assert "variable.val of late" in str(info.value)
    state = platform.state()
    assert state is not None and state["phase"] == "added"  # the next run re-encrypts again
    assert platform.keys()[1] == platform.old_key

    platform.written[("variable", "val", "late")] = "late value"
    fernet.rotate(platform.runtime())
    _assert_finished(platform, state["new"])


def test_a_failed_re_encryption_shows_the_output_without_secrets(platform: Platform, server: PostgresServer) -> None:
    runtime = platform.runtime(cli_result=(1, f"connecting to {platform.url}\nkey {platform.old_key}\nfailed"))
    with pytest.raises(fernet.FernetError) as info:
        fernet.rotate(runtime)
    message = str(info.value)
    assert "exit code 1" in message and "failed" in message and "run `airdeck fernet rotate` again" in message
    assert platform.old_key not in message and server.password not in message
    new_key = platform.keys()[0]
    assert new_key not in message
    state = platform.state()
    assert state is not None and state["phase"] == "added"


def test_a_key_list_changed_during_the_rotation_is_refused(platform: Platform) -> None:
    with pytest.raises(Interrupted):
        fernet.rotate(platform.runtime(interrupt=("airflow_cli", 1)))
    replaced = Fernet.generate_key().decode()
    (platform.home.secrets / "fernet_key").write_text(f"{replaced},{platform.old_key}")
    runtime = platform.runtime()
    with pytest.raises(fernet.FernetKeyError) as info:
        fernet.rotate(runtime)
    assert "was changed during the rotation" in str(info.value) and replaced not in str(info.value)
    assert runtime.calls == [] and platform.keys() == [replaced, platform.old_key]


def test_an_unusable_state_file_is_named(platform: Platform) -> None:
    runtime = platform.runtime()
    path = platform.home.secrets / fernet.STATE_FILE
    path.write_text("{not json")
    path.chmod(0o600)
    with pytest.raises(fernet.FernetError, match="is not valid JSON"):
        fernet.rotate(runtime)
    path.write_text(json.dumps({"phase": "halfway"}))
    with pytest.raises(fernet.FernetError, match="does not hold a rotation state"):
        fernet.rotate(runtime)
    assert platform.keys() == [platform.old_key]


def test_an_unreachable_database_is_named_with_its_password_masked(platform: Platform, server: PostgresServer,
                                                                   tmp_path: Path) -> None:
    from tests.harness import free_port

    runtime = platform.runtime()
    runtime.database_url = f"postgresql+psycopg://airflow:{server.password}@127.0.0.1:{free_port()}/airflow"
    with pytest.raises(fernet.FernetError) as info:
        fernet.rotate(runtime)
    message = str(info.value)
    assert "cannot reach the metadata database postgresql+psycopg://airflow:" in message
    assert server.password not in message and "start it with `airdeck up`" in message
    assert platform.state() is None
