"""The dispatcher's settings file as `airdeck up` writes it, and the admin password from the secrets folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from airdeck import concerns
from airdeck.alerts.dispatcher import DispatcherSettings
from airdeck.alerts.wiring import SERVICE
from airdeck.config.loader import parse_config
from airdeck.plan.render import materialise
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import SecretFileError, SecretStore

from tests.alerts.test_config import GOOD


def _written(tmp_path: Path) -> tuple[Path, AirdeckHome]:
    cfg = parse_config({"alerts": GOOD, "admin": {"username": "ops-admin"}})
    home = AirdeckHome(tmp_path / "home")
    (spec,) = concerns.plan(cfg, home).component(SERVICE).files  # what `airdeck up` writes
    path = materialise(spec, concerns.resolver(cfg, home, SecretStore(home.secrets), generate=True))
    return path, home


def test_credentials_come_from_the_0600_admin_password_file(tmp_path: Path) -> None:
    path, home = _written(tmp_path)
    password = SecretStore(home.secrets).get("admin_password")  # generated as `airdeck up` does
    document = json.loads(path.read_text())
    assert password not in path.read_text() and "admin_password" not in document
    assert path.stat().st_mode & 0o777 == 0o600
    settings = DispatcherSettings.load(path)
    assert settings.credentials() == ("ops-admin", password)
    # read afresh at every call: a changed password is picked up at the next token refresh
    (home.secrets / "admin_password").write_text("changed-password\n")
    assert settings.credentials() == ("ops-admin", "changed-password")


def test_a_missing_password_file_is_an_error_not_a_new_password(tmp_path: Path) -> None:
    path, home = _written(tmp_path)
    settings = DispatcherSettings.load(path)
    with pytest.raises(SecretFileError) as info:
        settings.credentials()
    assert str(home.secrets / "admin_password") in str(info.value) and "airdeck up" in str(info.value)
    assert not (home.secrets / "admin_password").exists()  # the dispatcher never invents one


def test_a_password_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path, home = _written(tmp_path)
    password = SecretStore(home.secrets).get("admin_password")
    (home.secrets / "admin_password").chmod(0o644)
    with pytest.raises(SecretFileError) as info:
        DispatcherSettings.load(path).credentials()
    assert "chmod 600" in str(info.value) and password not in str(info.value)


def test_the_password_cannot_be_given_inline(tmp_path: Path) -> None:
    path, _ = _written(tmp_path)
    document = json.loads(path.read_text())
    document["admin_password"] = "inline-password"
    path.write_text(json.dumps(document))
    with pytest.raises(TypeError, match="admin_password"):
        DispatcherSettings.load(path)
