"""A URL whose password holds an unencoded ``@`` (or ``:``/``/``) is read with its credentials up to the
last ``@``, as the masking code reads it, by ``airdeck import airflow2`` and ``airdeck run migrate``
(issue 22, finding 10): the error names the real host, and no part of the password is shown or sent to
the resolver as a host name."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.harness import AIRDECK, REPO, free_port

# Each password's tail would be taken for the host by a parser that stops at the first "@".
PASSWORDS = ["tail@secretpart", "a@b@c-hidden", "x:y@z/q-hidden", "p@ss%ZZ@more-hidden"]


def _airdeck(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AIRDECK"))},
           "AIRDECK_HOME": str(tmp_path / "home")}
    return subprocess.run([*AIRDECK, *args], env=env, capture_output=True, text=True, timeout=300, check=False,
                          cwd=REPO, stdin=subprocess.DEVNULL)


def _assert_hidden(password: str, output: str) -> None:
    for part in {password, *password.split("@"), *password.split(":")}:
        if len(part) >= 4:
            assert part not in output, f"{part!r} of the password shown:\n{output}"


@pytest.mark.parametrize("password", PASSWORDS)
def test_import_airflow2_reads_the_host_after_the_last_at(tmp_path: Path, password: str) -> None:
    key = tmp_path / "fernet"
    key.write_text(Fernet.generate_key().decode())
    key.chmod(0o600)
    port = free_port()  # nothing listens there
    done = _airdeck(tmp_path, "import", "airflow2", "--database-url",
                    f"postgresql://user:{password}@127.0.0.1:{port}/db", "--fernet-key-file", str(key), "--dry-run")
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert f"(host 127.0.0.1, port {port})" in output and "Connection refused" in output, output
    assert "resolve host" not in output and "Traceback" not in output
    _assert_hidden(password, output)


@pytest.mark.parametrize("password", PASSWORDS)
def test_run_migrate_reads_a_mounted_url_after_the_last_at(tmp_path: Path, password: str) -> None:
    port = free_port()
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    values = {"database_url": f"postgresql://airflow:{password}@127.0.0.1:{port}/airflow",
              "broker_url": f"redis://:{password}@127.0.0.1:{free_port()}/0",
              "fernet_key": Fernet.generate_key().decode(), "api_secret_key": "k" * 32, "log_fetch_key": "l" * 32,
              "jwt_secret": "j" * 32}
    for name, value in values.items():
        (secrets / name).write_text(value + "\n")
        (secrets / name).chmod(0o400)
    config = tmp_path / "airdeck.yaml"
    config.write_text("{}\n")
    done = _airdeck(tmp_path, "--config", str(config), "run", "migrate", "--target", "kubernetes",
                    "--secrets-dir", str(secrets))
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "resolve host" not in output and "Traceback" not in output, output
    assert f"127.0.0.1:{port}" in output and "Connection refused" in output, output
    _assert_hidden(password, output)
