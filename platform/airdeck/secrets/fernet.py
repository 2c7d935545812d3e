"""The Fernet key lifecycle: which key decrypts what, rotation, and the check before Airflow starts.

Airflow reads ``[core] fernet_key`` as a comma-separated list: the first key encrypts, every key
decrypts (``airflow/models/crypto.py``). Encrypted in 3.3: connection ``password`` and ``extra``,
variable ``val``, trigger ``kwargs`` (always, unless stored as plain JSON by an old version), and the
connection-test request's ``password`` and ``extra``. Key material is never printed: keys are named
by position and a short SHA-256 fingerprint.

Everything here works through :class:`airdeck.plan.concern.Runtime` (the database URL, the key
holder, the Airflow CLI, restarts, progress), so any target that offers a runtime can rotate.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from cryptography.fernet import Fernet, InvalidToken

from airdeck.config.masking import normalise_url, url_password, variants
from airdeck.errors import AirdeckError
from airdeck.plan.concern import Runtime
from airdeck.plan.secrets import mask_url
from airdeck.secrets import vault as vault_mod
from airdeck.state.secrets import read_private, write_private

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
#: The phases a rotation records, in order; "done" is never stored (the state file is removed).
PHASES = ("adding", "added", "reencrypted", "verified")


class FernetError(AirdeckError):
    """The Fernet key lifecycle cannot go on (database unreachable, state file unusable, a step failed)."""


class FernetKeyError(FernetError):
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


# ------------------------------------------------------------------------------------------ database
def _plain_url(url: str) -> str:
    """The libpq form of a SQLAlchemy URL (``postgresql+psycopg://`` -> ``postgresql://``)."""
    scheme, rest = url.split("://", 1)
    return f"postgresql://{rest}" if scheme.startswith("postgresql") else url


def _url_secrets(url: str) -> list[str]:
    """The password of a URL (up to its last "@"), in every form it may take in text, to scrub output of it."""
    password = url_password(url)
    return sorted(variants(password)) if password else []


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for value in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(value, "***")
    return text


def connect(runtime: Runtime) -> psycopg.Connection[Any]:
    """A connection to the metadata database; an error names the database with its password masked."""
    url = runtime.secret("database_url")
    try:
        return psycopg.connect(_plain_url(normalise_url(url)), connect_timeout=5)
    except psycopg.Error as exc:
        text = str(exc).strip()
        first = _scrub(text.splitlines()[0], _url_secrets(url)) if text else type(exc).__name__
        hint = ("start it with `airdeck up`" if runtime.cfg.database.url is None
                else "check database.url and that the server is reachable")
        raise FernetError(f"cannot reach the metadata database {mask_url(url)} ({first}); {hint}") from None


def _columns(conn: psycopg.Connection[Any]) -> set[tuple[str, str]]:
    rows = conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
    ).fetchall()
    return {(t, c) for t, c in rows}


def values(conn: psycopg.Connection[Any]) -> Iterator[EncryptedValue | tuple[str, str, str]]:
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


def survey(conn: psycopg.Connection[Any], keys: list[str]) -> Survey:
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


def survey_current(runtime: Runtime) -> Survey:
    """What each configured key decrypts, now (``airdeck fernet status``)."""
    keys = current_keys(runtime)
    with connect(runtime) as conn:
        return survey(conn, keys)


# ------------------------------------------------------------------------------------------ key holder
def current_keys(runtime: Runtime) -> list[str]:
    return split_keys(runtime.secrets.get("fernet_key"))


def key_source(runtime: Runtime) -> str:
    """Where the key list is held, for messages: Vault or the 0600 file in the state folder."""
    if isinstance(runtime.secrets, vault_mod.VaultSecretStore):
        return "Vault (secrets.vault.platform_secrets)"
    return str(runtime.secrets.path("fernet_key"))


def write_keys(runtime: Runtime, keys: list[str], vault_token: str | None) -> None:
    """Persist the key list where the platform reads it: the state file, or Vault's config path."""
    value = ",".join(keys)
    if isinstance(runtime.secrets, vault_mod.VaultSecretStore):
        if not vault_token:
            raise FernetKeyError("the Fernet key is held in Vault (secrets.vault.platform_secrets); rotating it "
                                 "writes to Vault, so pass --vault-token-file with an operator token "
                                 "(or set VAULT_TOKEN)")
        target = vault_mod.Target.of(runtime.cfg)
        client = target.client(vault_token)
        vault_mod.write_kv(client, target, f"{target.config_path}/fernet_key", {"value": value})
        runtime.secrets.forget()
        return
    write_private(runtime.secrets.path("fernet_key"), value)


# ------------------------------------------------------------------------------------------ start check
def _sample(items: list[EncryptedValue]) -> str:
    sample = ", ".join(f"{v.table}.{v.column} of {v.ident}" for v in items[:5])
    return sample + (f" and {len(items) - 5} more" if len(items) > 5 else "")


def check_before_airflow(runtime: Runtime) -> None:
    """``before_airflow`` check: refuse to start Airflow when the key list cannot decrypt stored values."""
    result = survey_current(runtime)
    if result.undecryptable:
        raise FernetKeyError(
            f"the Fernet key from {key_source(runtime)} (fingerprints {', '.join(result.keys)}) cannot decrypt "
            f"{len(result.undecryptable)} of {result.total} encrypted values already in the database "
            f"({_sample(result.undecryptable)}). Airflow services were not started. Restore the key these values "
            "were encrypted with (keep it first, or list it after the new one while rotating); "
            "`airdeck fernet status` shows what each key decrypts")


# ------------------------------------------------------------------------------------------ rotation state
def state_path(runtime: Runtime) -> Path:
    return runtime.home.secrets / STATE_FILE


def read_state(runtime: Runtime) -> dict[str, Any] | None:
    """The state of an unfinished rotation, or None when none is under way."""
    path = state_path(runtime)
    if not path.exists():
        return None
    try:
        data = json.loads(read_private(path))
    except ValueError:
        raise FernetError(f"{path} is not valid JSON; inspect it, then delete it to start over") from None
    if not isinstance(data, dict) or data.get("phase") not in PHASES or not isinstance(data.get("new"), str):
        raise FernetError(f"{path} does not hold a rotation state (a 'phase' of {', '.join(PHASES)} and a 'new' "
                          "key fingerprint); inspect it, then delete it to start over")
    return data


def _save_state(runtime: Runtime, state: dict[str, Any]) -> None:
    state["updated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    write_private(state_path(runtime), json.dumps(state, indent=2) + "\n")


# ------------------------------------------------------------------------------------------ rotation steps
def _restart_airflow(runtime: Runtime) -> None:
    """Render every component afresh and restart the running Airflow components, health-gated."""
    components = runtime.airflow_components()
    runtime.say(f"restarting the Airflow components with the new key list ({', '.join(components)})")
    runtime.restart(components)


def _reencrypt(runtime: Runtime, keys: list[str]) -> None:
    runtime.say("re-encrypting every value with the new key (airflow rotate-fernet-key)")
    code, output = runtime.airflow_cli("rotate-fernet-key")
    if code != 0:
        tail = "\n".join(output.strip().splitlines()[-15:])
        tail = _scrub(tail, [*keys, *_url_secrets(runtime.secret("database_url"))])
        raise FernetError(f"airflow rotate-fernet-key failed with exit code {code} (nothing was retired; run "
                          f"`airdeck fernet rotate` again to resume):\n{tail}")


def _begin(runtime: Runtime, keys: list[str], vault_token: str | None, state: dict[str, Any] | None) -> dict[str, Any]:
    """Put a new key in front of ``keys``; refuse when some value decrypts with none of them."""
    with connect(runtime) as conn:
        before = survey(conn, keys)
    if before.undecryptable:
        raise FernetKeyError(
            f"{len(before.undecryptable)} encrypted values decrypt with none of the current keys from "
            f"{key_source(runtime)} ({_sample(before.undecryptable)}); restore the key they were encrypted with "
            "first (see `airdeck fernet status`); nothing was changed")
    new_key = Fernet.generate_key().decode("ascii")
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    state = {**(state or {"started": now}), "phase": "adding", "new": fingerprint(new_key),
             "old": [fingerprint(k) for k in keys]}
    _save_state(runtime, state)  # first: an interruption from here on is resumed, never forgotten
    write_keys(runtime, [new_key, *keys], vault_token)
    runtime.say(f"new key {state['new']} added in front of {', '.join(state['old']) or 'no key'}")
    return state


def rotate(runtime: Runtime, vault_token: str | None = None) -> dict[str, Any]:
    """Rotate the Fernet key, or resume an interrupted rotation. Returns the final state.

    1. adding: the new key is generated and put first (``new,old``); every Airflow component restarts.
    2. added: ``airflow rotate-fernet-key`` re-encrypts every value with the new key.
    3. reencrypted: every encrypted value decrypts with the new key alone.
    4. verified: the old keys are retired (``new``), the components restart, the state file is removed.

    The state file (0600, in the secrets folder) records the phase reached, so running this again
    after any interruption finishes the same rotation.
    """
    state = read_state(runtime)
    keys = current_keys(runtime)
    stored = bool(keys) and state is not None and fingerprint(keys[0]) == state["new"]
    if state is None:
        state = _begin(runtime, keys, vault_token, None)
    elif not stored and state["phase"] == "adding":
        runtime.say(f"resuming the rotation to key {state['new']} from phase 'adding': the new key was never "
                    "stored, so a new one takes its place")
        state = _begin(runtime, keys, vault_token, state)
    elif not stored:
        raise FernetKeyError(
            f"{state_path(runtime)} records a rotation to key {state['new']} in phase {state['phase']!r}, but the "
            f"key list from {key_source(runtime)} starts with "
            f"{fingerprint(keys[0]) if keys else 'no key'}: it was changed during the rotation. Put key "
            f"{state['new']} back in front, then run `airdeck fernet rotate` again; nothing was changed")
    else:
        runtime.say(f"resuming the rotation to key {state['new']} from phase {state['phase']!r}")
    keys = current_keys(runtime)
    new_key = keys[0]
    if state["phase"] == "adding":
        _restart_airflow(runtime)
        state["phase"] = "added"
        _save_state(runtime, state)
    if state["phase"] == "added":
        _reencrypt(runtime, keys)
        state["phase"] = "reencrypted"
        _save_state(runtime, state)
        runtime.say("re-encrypted connections, variables, triggers and connection tests")
    if state["phase"] == "reencrypted":
        with connect(runtime) as conn:
            check = survey(conn, [new_key])
        if check.undecryptable:
            state["phase"] = "added"  # the next run re-encrypts again
            _save_state(runtime, state)
            raise FernetKeyError(
                f"{len(check.undecryptable)} values do not decrypt with the new key after re-encryption "
                f"({_sample(check.undecryptable)}; written meanwhile with an old key list?); the old keys stay "
                "listed. Run `airdeck fernet rotate` again to re-encrypt them")
        state["phase"] = "verified"
        state["verified_values"] = check.total
        _save_state(runtime, state)
        runtime.say(f"verified: all {check.total} encrypted values decrypt with the new key alone")
    if state["phase"] == "verified":
        write_keys(runtime, [new_key], vault_token)
        runtime.say(f"retired the old key(s) {', '.join(state.get('old', [])) or '(none)'}")
        _restart_airflow(runtime)
        state["phase"] = "done"
        state_path(runtime).unlink(missing_ok=True)
    return state
