"""The restore journal as a property (issue 22, finding 4): whatever the state folder and configuration files
were (absent, empty, full; any modes) and wherever a restore stops (each step of the real code, then a kill),
rolling back from the journal on disk brings back exactly what was there: never a mixed state."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from airdeck.config.model import AirdeckConfig
from airdeck.ops import restore
from airdeck.state.home import AirdeckHome
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

MODES = st.sampled_from([0o600, 0o640, 0o644])


def _snapshot(place: Path) -> dict[str, tuple[str, int, str]]:
    out = {}
    for path in sorted(place.rglob("*")):
        info = path.lstat()
        kind = "dir" if stat.S_ISDIR(info.st_mode) else "file"
        out[path.relative_to(place).as_posix()] = (
            kind, stat.S_IMODE(info.st_mode), hashlib.sha256(path.read_bytes()).hexdigest() if kind == "file" else "")
    return out


def _extracted(place: Path) -> tuple[Path, dict[str, object]]:
    """What archive.opened hands restore: the archive's configuration files and secrets."""
    folder = place.parent / f"{place.name}-extracted"
    (folder / "config").mkdir(parents=True)
    (folder / "secrets").mkdir()
    (folder / "config" / "airdeck.yaml").write_text("database: {embedded: {port: 15432}}\n")
    (folder / "config" / "roles.yaml").write_text("roles: []\n")
    (folder / "secrets" / "fernet_key").write_text("restored-key")
    (folder / "secrets" / "fernet_key").chmod(0o600)
    files = {"config/airdeck.yaml": {}, "config/roles.yaml": {}, "secrets/fernet_key": {}}
    return folder, {"files": files}


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(home_state=st.sampled_from(["absent", "empty", "full"]), home_mode=st.sampled_from([0o700, 0o750]),
       config_mode=st.none() | MODES, roles_mode=st.none() | MODES, own_config_folder=st.booleans(),
       stop_after=st.integers(min_value=0, max_value=3))
def test_rolling_back_from_any_step_restores_exactly_what_was_there(
        tmp_path_factory: pytest.TempPathFactory, home_state: str, home_mode: int, config_mode: int | None,
        roles_mode: int | None, own_config_folder: bool, stop_after: int) -> None:
    place = tmp_path_factory.mktemp("journal")
    root = place / "home"
    if home_state != "absent":
        root.mkdir()
        if home_state == "full":
            (root / "secrets").mkdir(mode=0o700)
            (root / "secrets" / "fernet_key").write_text("old-key")
            (root / "secrets" / "fernet_key").chmod(0o600)
            (root / "notes").write_text("mine")
            if own_config_folder:
                (root / "config").mkdir()
                (root / "config" / "kept.txt").write_text("also mine")
        root.chmod(home_mode)
    config = place / "conf" / "airdeck.yaml"
    config.parent.mkdir()
    if config_mode is not None:
        config.write_text("# old\n")
        config.chmod(config_mode)
    if roles_mode is not None:
        (config.parent / "security").mkdir()
        (config.parent / "security" / "roles.yaml").write_text("old roles\n")
        (config.parent / "security" / "roles.yaml").chmod(roles_mode)
    before = _snapshot(place)
    folder, manifest = _extracted(place)
    home = AirdeckHome(root)
    replacing = restore.has_state(home)
    journal = restore.Journal.begin(home, restore._config_targets(manifest, config))
    steps = [
        lambda: restore._move_aside(AirdeckConfig(), home, journal, replacing, False, lambda _t: None),
        lambda: restore._write_config(folder, manifest, config, lambda _t: None),
        lambda: restore._write_secrets(home, folder, manifest),
    ]
    for step in steps[:stop_after]:
        step()
    if stop_after == 3:  # a complete restore: the new state is in place, mixed with nothing old
        assert (root / "secrets" / "fernet_key").read_text() == "restored-key"
        assert config.read_text() == "database: {embedded: {port: 15432}}\n"
    # killed here: the next command finds the journal on disk and rolls back
    assert restore.recover_interrupted(home, lambda _t: None)
    assert _snapshot(place) == before
    assert not restore.recover_interrupted(home, lambda _t: None)
