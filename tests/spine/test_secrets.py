"""Generated secrets: created once, private, reused, and refused when exposed."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest
from airdeck.state.secrets import GENERATED, SecretFileError, SecretStore
from cryptography.fernet import Fernet


def test_generated_once_and_reused(tmp_path: Path) -> None:
    store = SecretStore(tmp_path / "secrets")
    first = store.ensure_all()
    again = SecretStore(tmp_path / "secrets").ensure_all()
    assert first == again
    assert set(first) == set(GENERATED)
    assert len(set(first.values())) == len(first), "every secret is distinct"


def test_files_are_0600_in_a_0700_folder(tmp_path: Path) -> None:
    store = SecretStore(tmp_path / "secrets")
    store.ensure_all()
    assert stat.S_IMODE((tmp_path / "secrets").stat().st_mode) == 0o700
    for name in GENERATED:
        assert stat.S_IMODE(store.path(name).stat().st_mode) == 0o600, name


def test_fernet_key_is_a_valid_key(tmp_path: Path) -> None:
    key = SecretStore(tmp_path / "s").get("fernet_key")
    token = Fernet(key.encode()).encrypt(b"x")
    assert Fernet(key.encode()).decrypt(token) == b"x"


def test_readable_secret_is_refused_with_the_fix(tmp_path: Path) -> None:
    store = SecretStore(tmp_path / "s")
    store.get("jwt_secret")
    store.path("jwt_secret").chmod(0o644)
    with pytest.raises(SecretFileError, match="chmod 600"):
        store.get("jwt_secret")


def test_empty_secret_file_is_refused(tmp_path: Path) -> None:
    store = SecretStore(tmp_path / "s")
    store.get("jwt_secret")
    store.path("jwt_secret").write_text("")
    with pytest.raises(SecretFileError, match="empty"):
        store.get("jwt_secret")


def test_unknown_secret_name(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        SecretStore(tmp_path / "s").get("nope")


def test_concurrent_first_use_yields_one_value(tmp_path: Path) -> None:
    values: list[str] = []
    errors: list[BaseException] = []

    def grab() -> None:
        try:
            values.append(SecretStore(tmp_path / "s").get("api_secret_key"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=grab) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(values) == 16 and len(set(values)) == 1
    assert not list((tmp_path / "s").glob(".*")), "no temporary files left behind"
