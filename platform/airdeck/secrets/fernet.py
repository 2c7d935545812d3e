"""The Fernet key lifecycle: which key decrypts what, rotation, and the start-up check.

Airflow reads ``[core] fernet_key`` as a comma-separated list: the first key encrypts, every key
decrypts (``airflow/models/crypto.py``). Encrypted in 3.3: connection ``password`` and ``extra``,
variable ``val``, trigger ``kwargs`` (always, unless stored as plain JSON by an old version), and the
connection-test request's ``password`` and ``extra``. Key material is never printed: keys are named
by position and a short SHA-256 fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken

from airdeck.stack.errors import StackError
from airdeck.state.secrets import read_private, write_private

if TYPE_CHECKING:
    from airdeck.stack.orchestrator import Stack

#: (table, id column, value column, flag column or None) - the flag says whether the value is encrypted
ENCRYPTED_COLUMNS = (
    ("connection", "conn_id", "password", "is_encrypted"),
    ("connection", "conn_id", "extra", "is_extra_encrypted"),
    ("variable", "key", "val", "is_encrypted"),
    ("trigger", "id", "kwargs", None),
    ("connection_test_request", "connection_id", "password", "is_encrypted"),
    ("connection_test_request", "connection_id", "extra", "is_extra_encrypted"),
)
STATE_FILE = "fernet-rotation.json"
#: Test hook: raise after this rotation phase, to prove an interrupted rotation resumes.
FAULT_ENV = "AIRDECK_FERNET_FAULT_AFTER"
PHASES = ("adding", "added", "reencrypted", "verified")


class FernetKeyError(StackError):
    """The Fernet key does not fit the data; nothing was changed or started."""


def split_keys(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def fingerprint(key: str) -> str:
    """A short, non-reversible name for a key (first 12 hex digits of its SHA-256)."""
    return hashlib.sha256(key.encode("ascii")).hexdigest()[:12]


def _fernet(key: str, where: str) -> Fernet:
    try:
        return Fernet(key.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise FernetKeyError(f"{where}: a Fernet key is not valid (must be 32 url-safe base64-encoded bytes); "
                             "key material is not shown") from None


@dataclass
class EncryptedValue:
    table: str
    column: str
    ident: str
    token: str


@dataclass
class Survey:
    """Which key decrypts each encrypted value."""

    keys: list[str]  # fingerprints, in the configured order
    by_key: dict[str, int] = field(default_factory=dict)
    by_table: dict[str, int] = field(default_factory=dict)
    undecryptable: list[EncryptedValue] = field(default_factory=list)
    plaintext: list[tuple[str, str, str]] = field(default_factory=list)  # stored unencrypted (no key then)
    total: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "keys": [{"position": n + 1, "fingerprint": fp, "role": "encrypts" if n == 0 else "decrypts only",
                      "values": self.by_key.get(fp, 0)} for n, fp in enumerate(self.keys)],
            "encrypted_values": self.total,
            "by_table": self.by_table,
            "undecryptable": [{"table": v.table, "column": v.column, "id": v.ident} for v in self.undecryptable],
            "stored_unencrypted": [{"table": t, "column": c, "id": i} for t, c, i in self.plaintext],
        }


def _plain_url(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"postgresql://{rest}" if scheme.startswith("postgresql") else url


def connect(stack: Stack) -> Any:
    import psycopg

    from airdeck.plan.secrets import mask_url

    url = stack.secret("database_url")
    try:
        return psycopg.connect(_plain_url(url), connect_timeout=5)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = ("start it with `airdeck up`" if stack.cfg.database.url is None
                else "check database.url and that the server is reachable")
        raise StackError(f"cannot reach the metadata database {mask_url(url)} ({first}); {hint}") from None


def _columns(conn: Any) -> set[tuple[str, str]]:
    rows = conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
    ).fetchall()
    return {(t, c) for t, c in rows}


def values(conn: Any) -> Iterator[EncryptedValue | tuple[str, str, str]]:
    """Every encrypted value (EncryptedValue), and every secret column stored unencrypted (tuple)."""
    present = _columns(conn)
    for table, ident, column, flag in ENCRYPTED_COLUMNS:
        if (table, column) not in present or (flag and (table, flag) not in present):
            continue
        flag_sql = f"{flag}" if flag else "TRUE"
        query = (f"SELECT {ident}::text, {column}, {flag_sql} FROM {table} "  # noqa: S608 - fixed identifiers
                 f"WHERE {column} IS NOT NULL AND {column} <> '' ORDER BY 1")
        for ident_value, value, encrypted in conn.execute(query):
            if flag is None and value.lstrip().startswith("{"):
                encrypted = False  # trigger kwargs stored as plain JSON by an older Airflow
            if encrypted:
                yield EncryptedValue(table, column, ident_value, value)
            else:
                yield (table, column, ident_value)


def survey(conn: Any, keys: list[str]) -> Survey:
    fernets = [(fingerprint(k), _fernet(k, f"key {n + 1}")) for n, k in enumerate(keys)]
    result = Survey(keys=[fp for fp, _ in fernets])
    for item in values(conn):
        if isinstance(item, tuple):
            result.plaintext.append(item)
            continue
        result.total += 1
        result.by_table[f"{item.table}.{item.column}"] = result.by_table.get(f"{item.table}.{item.column}", 0) + 1
        token = item.token.encode("utf-8")
        for fp, fernet in fernets:
            try:
                fernet.decrypt(token)
            except InvalidToken:
                continue
            result.by_key[fp] = result.by_key.get(fp, 0) + 1
            break
        else:
            result.undecryptable.append(item)
    return result


# ------------------------------------------------------------------------------------------ key holder
def current_keys(stack: Stack) -> list[str]:
    return split_keys(stack.secrets.get("fernet_key"))


def write_keys(stack: Stack, keys: list[str], vault_token: str | None) -> None:
    """Persist the key list where the platform reads it: the state file, or Vault's config path."""
    from airdeck.secrets import vault as vault_mod

    value = ",".join(keys)
    if isinstance(stack.secrets, vault_mod.VaultSecretStore):
        if not vault_token:
            raise FernetKeyError("the Fernet key is held in Vault (secrets.vault.platform_secrets); rotating it "
                                 "writes to Vault, so pass --vault-token-file with an operator token "
                                 "(or set VAULT_TOKEN)")
        target = vault_mod.Target.of(stack.cfg)
        client = target.client(vault_token)
        vault_mod.write_kv(client, target, f"{target.config_path}/fernet_key", {"value": value})
        stack.secrets.forget()
        return
    write_private(stack.secrets.path("fernet_key"), value)


# ------------------------------------------------------------------------------------------ start check
def check_before_start(stack: Stack) -> None:
    """Refuse to start Airflow when the configured key list cannot decrypt values already stored."""
    keys = current_keys(stack)
    with connect(stack) as conn:
        result = survey(conn, keys)
    if result.undecryptable:
        sample = ", ".join(f"{v.table}.{v.column} of {v.ident}" for v in result.undecryptable[:5])
        more = f" and {len(result.undecryptable) - 5} more" if len(result.undecryptable) > 5 else ""
        source = ("Vault (secrets.vault.platform_secrets)" if type(stack.secrets).__name__ == "VaultSecretStore"
                  else str(stack.secrets.path("fernet_key")))
        raise FernetKeyError(
            f"the Fernet key from {source} (fingerprints {', '.join(result.keys)}) cannot decrypt "
            f"{len(result.undecryptable)} of {result.total} encrypted values already in the database "
            f"({sample}{more}). Airflow services were not started. Restore the key these values were "
            "encrypted with (keep it first, or list it after the new one while rotating); "
            "`airdeck fernet status` shows what each key decrypts")


# ------------------------------------------------------------------------------------------ rotation
def state_path(stack: Stack):  # type: ignore[no-untyped-def]
    return stack.home.secrets / STATE_FILE


def read_state(stack: Stack) -> dict[str, Any] | None:
    path = state_path(stack)
    if not path.exists():
        return None
    try:
        data = json.loads(read_private(path))
    except ValueError:
        raise FernetKeyError(f"{path} is not valid JSON; inspect it, then delete it to start over") from None
    return data if isinstance(data, dict) else None


def _save_state(stack: Stack, state: dict[str, Any]) -> None:
    state["updated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    write_private(state_path(stack), json.dumps(state, indent=2) + "\n")


def _fault(phase: str) -> None:
    if os.environ.get(FAULT_ENV) == phase:
        raise StackError(f"rotation interrupted after phase {phase!r} ({FAULT_ENV} is set); "
                         "run `airdeck fernet rotate` again to resume")


def _restart_airflow(stack: Stack, say: Any) -> None:
    """Re-render every service's settings and restart the Airflow services, health-gated."""
    stack.render()
    if not stack.supervisor.is_running():
        return
    airflow = [s for s in stack.services() if s.wave > 0]
    for svc in sorted(airflow, key=lambda s: -s.wave):
        stack.supervisor.stop(svc.name)
    say(f"restarting {len(airflow)} Airflow services with the new key list")
    for wave in sorted({s.wave for s in airflow}):
        stack._start_wave([s for s in airflow if s.wave == wave])  # noqa: SLF001 - the stack's own health gate


def _reencrypt(stack: Stack) -> None:
    from airdeck.stack.services import airflow_bin

    result = subprocess.run([airflow_bin(), "rotate-fernet-key"], env=stack.cli_env(),
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise FernetKeyError(f"airflow rotate-fernet-key failed (nothing was retired; run `airdeck fernet rotate` "
                             f"again to resume):\n{tail}")


def rotate(stack: Stack, say: Any, vault_token: str | None = None) -> dict[str, Any]:
    """Rotate the Fernet key, or resume an interrupted rotation. Returns the final state.

    1. adding: the new key is generated and put first (``new,old``); every service restarts with it.
    2. reencrypted: ``airflow rotate-fernet-key`` re-encrypts every value with the new key.
    3. verified: every encrypted value decrypts with the new key alone.
    4. the old keys are retired (``new``), the services restart, the state file is removed.
    """
    state = read_state(stack)
    keys = current_keys(stack)
    if state is None:
        with connect(stack) as conn:  # refuse to begin when something is already unreadable
            before = survey(conn, keys)
        if before.undecryptable:
            raise FernetKeyError(f"{len(before.undecryptable)} encrypted values decrypt with none of the current "
                                 "keys; fix that first (see `airdeck fernet status`); nothing was changed")
        new_key = Fernet.generate_key().decode("ascii")
        state = {"phase": "adding", "new": fingerprint(new_key), "old": [fingerprint(k) for k in keys],
                 "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        _save_state(stack, state)
        write_keys(stack, [new_key, *keys], vault_token)
        keys = current_keys(stack)
        say(f"new key {state['new']} added in front of {', '.join(state['old'])}")
    else:
        say(f"resuming the rotation to key {state.get('new')} from phase {state.get('phase')!r}")
        if not keys or fingerprint(keys[0]) != state.get("new"):
            # interrupted before the new key was stored: nothing was re-encrypted, start this step again
            new_key = Fernet.generate_key().decode("ascii")
            old = [k for k in keys if fingerprint(k) != state.get("new")]
            state.update(phase="adding", new=fingerprint(new_key), old=[fingerprint(k) for k in old])
            _save_state(stack, state)
            write_keys(stack, [new_key, *old], vault_token)
            keys = current_keys(stack)
    new_key = keys[0]
    if state["phase"] == "adding":
        _restart_airflow(stack, say)
        state["phase"] = "added"
        _save_state(stack, state)
        _fault("added")
    if state["phase"] == "added":
        with stack.console.status("re-encrypting every value with the new key (airflow rotate-fernet-key)"):
            _reencrypt(stack)
        state["phase"] = "reencrypted"
        _save_state(stack, state)
        say("re-encrypted connections, variables, triggers and connection tests")
        _fault("reencrypted")
    if state["phase"] == "reencrypted":
        with connect(stack) as conn:
            check = survey(conn, [new_key])
        if check.undecryptable:
            raise FernetKeyError(f"{len(check.undecryptable)} values still do not decrypt with the new key after "
                                 "re-encryption (written meanwhile?); the old key stays. Run `airdeck fernet "
                                 "rotate` again")
        state["phase"] = "verified"
        state["verified_values"] = check.total
        _save_state(stack, state)
        say(f"verified: all {check.total} encrypted values decrypt with the new key alone")
        _fault("verified")
    if state["phase"] == "verified":
        write_keys(stack, [new_key], vault_token)
        say(f"retired the old key(s) {', '.join(state.get('old', []))}")
        _restart_airflow(stack, say)
        state["phase"] = "done"
        state_path(stack).unlink(missing_ok=True)
    return state
