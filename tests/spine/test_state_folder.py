"""The state folder and its secrets are checked before they are trusted (issue 13, findings 8, 12, 14): no
symbolic link is followed (nor its target chmod-ed), a folder or secret file that belongs to someone else or
that others can write to is refused with what to do, logs are private, and the embedded PostgreSQL's user
is let through no folder outside the state folder."""

from __future__ import annotations

import contextlib
import io
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from airdeck.cli.main import main
from airdeck.state.home import AirdeckHome, StateFolderError
from airdeck.state.secrets import SecretFileError, SecretStore

from tests.harness import write_config

IS_ROOT = os.geteuid() == 0
OTHER_UID = 65534  # nobody
needs_root = pytest.mark.skipif(not IS_ROOT, reason="giving a file to another user needs root (CI runs as root)")


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _airdeck(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue() + err.getvalue()


# ---------------------------------------------------------------------------------------------- folders
def test_fresh_layout_is_private(tmp_path: Path) -> None:
    home = AirdeckHome(tmp_path / "home")
    home.ensure()
    assert mode(home.root) == 0o700
    for folder in (home.secrets, home.run, home.logs, home.task_logs, home.root / "services"):
        assert mode(folder) == 0o700, folder


def test_existing_log_folders_become_private(tmp_path: Path) -> None:
    # Finding 14: service logs were 0644 in 0755 folders.
    home = AirdeckHome(tmp_path / "home")
    home.task_logs.mkdir(parents=True, mode=0o755)
    home.logs.chmod(0o755)
    home.root.chmod(0o755)
    home.ensure()
    assert mode(home.logs) == 0o700 and mode(home.task_logs) == 0o700


def test_state_folder_reached_through_a_symlink_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o755)
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(StateFolderError, match="symbolic link.*AIRDECK_HOME"):
        AirdeckHome(tmp_path / "link").ensure()
    assert mode(real) == 0o755 and not (real / "secrets").exists()


@pytest.mark.parametrize("name", ["secrets", "run", "logs", "services"])
def test_a_symlinked_folder_inside_is_refused_and_its_target_never_chmod_ed(tmp_path: Path, name: str) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o755)
    home = AirdeckHome(tmp_path / "home")
    home.root.mkdir(mode=0o700)
    (home.root / name).symlink_to(elsewhere)
    with pytest.raises(StateFolderError, match=f"{name} is a symbolic link"):
        home.ensure()
    assert mode(elsewhere) == 0o755


@pytest.mark.parametrize("bits", [0o777, 0o775, 0o757])
def test_state_folder_others_can_write_to_is_refused(tmp_path: Path, bits: int) -> None:
    home = AirdeckHome(tmp_path / "home")
    home.root.mkdir()
    home.root.chmod(bits)
    with pytest.raises(StateFolderError, match=f"mode {bits:04o}.*chmod go-w"):
        home.ensure()


def test_state_folder_in_a_world_writable_folder_without_sticky_bit_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(StateFolderError, match="writable by everyone.*chmod o-w"):
        AirdeckHome(shared / "home").ensure()
    shared.chmod(0o1777)  # like /tmp: others cannot rename what is ours
    AirdeckHome(shared / "home").ensure()


@needs_root
def test_state_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    home = AirdeckHome(tmp_path / "home")
    home.root.mkdir(mode=0o700)
    os.chown(home.root, OTHER_UID, OTHER_UID)
    with pytest.raises(StateFolderError, match="belongs to .*uid 65534.*chown -R"):
        home.ensure()


@needs_root
def test_a_folder_inside_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    home = AirdeckHome(tmp_path / "home")
    home.ensure()
    os.chown(home.secrets, OTHER_UID, OTHER_UID)
    with pytest.raises(StateFolderError, match="secrets belongs to"):
        home.ensure()


@needs_root
def test_the_task_logs_given_to_the_workers_user_pass_and_no_other_folder_or_user_does(tmp_path: Path) -> None:
    """Isolated workers own the task log folder (stack.workers gives it to them): the next command must
    accept it, and only it, and only for that user."""
    from airdeck.stack.workers import ensure_user
    from airdeck.state.home import WORKER_SYSTEM_USER

    worker = ensure_user(WORKER_SYSTEM_USER)
    home = AirdeckHome(tmp_path / "home")
    home.ensure()
    os.chown(home.task_logs, worker.pw_uid, worker.pw_gid)
    home.ensure()  # a second `airdeck up` after the workers ran as their own user
    assert os.lstat(home.task_logs).st_uid == worker.pw_uid and mode(home.task_logs) == 0o700
    os.chown(home.task_logs, OTHER_UID, OTHER_UID)
    with pytest.raises(StateFolderError, match="airflow belongs to"):
        home.ensure()
    os.chown(home.task_logs, 0, 0)
    os.chown(home.secrets, worker.pw_uid, worker.pw_gid)
    with pytest.raises(StateFolderError, match="secrets belongs to"):
        home.ensure()


# ---------------------------------------------------------------------------------------------- secret files
@needs_root
def test_planted_secret_with_the_right_mode_and_wrong_owner_is_refused(tmp_path: Path) -> None:
    # Finding 8: a planted secrets/jwt_secret (0600, someone else's) became the platform's signing key.
    store = SecretStore(tmp_path / "secrets")
    store.folder.mkdir(mode=0o700)
    planted = store.path("jwt_secret")
    planted.write_text("attacker-chosen-signing-key")
    planted.chmod(0o600)
    os.chown(planted, OTHER_UID, OTHER_UID)
    with pytest.raises(SecretFileError, match="belongs to uid 65534.*delete it"):
        store.get("jwt_secret")
    with pytest.raises(SecretFileError, match="belongs to uid 65534"):
        store.read("jwt_secret")


def test_secret_file_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "chosen"
    target.write_text("attacker-chosen-signing-key")
    target.chmod(0o600)
    store = SecretStore(tmp_path / "secrets")
    store.folder.mkdir(mode=0o700)
    store.path("jwt_secret").symlink_to(target)
    with pytest.raises(SecretFileError, match="symbolic link"):
        store.get("jwt_secret")
    # A dangling link is not "missing": it is refused too, not replaced through.
    store.path("api_secret_key").symlink_to(tmp_path / "nothing-there")
    with pytest.raises(SecretFileError, match="symbolic link"):
        store.get("api_secret_key")
    assert not (tmp_path / "nothing-there").exists()


@pytest.mark.timeout(20)
def test_secret_that_is_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    store = SecretStore(tmp_path / "secrets")
    store.folder.mkdir(mode=0o700)
    os.mkfifo(store.path("jwt_secret"), 0o600)
    with pytest.raises(SecretFileError, match="not a regular file"):
        store.get("jwt_secret")


@needs_root
def test_up_with_a_planted_secret_stops_with_one_clear_line(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    home = tmp_path / "home"
    AirdeckHome(home).ensure()
    planted = home / "secrets" / "jwt_secret"
    planted.write_text("attacker-chosen-signing-key")
    planted.chmod(0o600)
    os.chown(planted, OTHER_UID, OTHER_UID)
    try:
        code, text = _airdeck("--config", str(config), "--home", str(home), "up", "--detach")
    finally:
        if (home / "run" / "supervisord.pid").exists():  # the check failed to stop it: leave nothing running
            _airdeck("--config", str(config), "--home", str(home), "down")
    assert code != 0
    lines = text.strip().splitlines()
    assert lines[-1].startswith("error: ") and "jwt_secret belongs to uid 65534" in lines[-1], text
    assert "Traceback" not in text and not (home / "run" / "supervisord.pid").exists()


# ---------------------------------------------------------------------------------------------- PostgreSQL (root)
@contextlib.contextmanager
def _private_outer() -> Iterator[Path]:
    """A root-owned 0700 folder outside pytest's tmp folder (like /root), removed afterwards."""
    outer = Path(tempfile.mkdtemp(prefix="airdeck-outer-", dir="/tmp"))
    try:
        yield outer
    finally:
        import shutil

        shutil.rmtree(outer, ignore_errors=True)


@needs_root
def test_postgres_under_root_opens_no_folder_outside_the_state_folder() -> None:
    # Finding 12: running as root, postgres.prepare added o+x to every parent of the data folder (/root).
    from airdeck.stack import postgres
    from airdeck.stack.errors import StackError

    with _private_outer() as outer:
        home = AirdeckHome(outer / "home")
        home.ensure()
        with pytest.raises(StackError, match=f"{outer} does not let pgserver in.*setfacl -m u:pgserver:x {outer}"):
            postgres.prepare(home.postgres_data, home.postgres_socket_dir, "pw-for-tests")
        assert mode(outer) == 0o700
        assert not home.postgres_data.exists()


@needs_root
def test_postgres_under_root_opens_only_the_state_folder_for_its_user() -> None:
    from airdeck.stack import postgres

    with _private_outer() as outer:
        outer.chmod(0o711)  # what the error above suggests (or an ACL for pgserver)
        home = AirdeckHome(outer / "home")
        home.ensure()
        postgres._make_traversable(home.postgres_socket_dir.parent, home.root, postgres._ensure_system_user())
        assert mode(outer) == 0o711
        assert mode(home.root) == 0o701 and mode(home.run) == 0o701
        assert mode(home.secrets) == 0o700 and mode(home.logs) == 0o700
