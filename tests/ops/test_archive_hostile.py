"""Correctly sealed but hostile archives (issue 22, findings 1 and 5): only allow-listed regular files the
manifest names are ever written, nothing outside a private folder, and no header number sets the cost."""

from __future__ import annotations

import os
import stat
import tarfile
import time
from pathlib import Path

import pytest
from airdeck.ops import archive
from airdeck.ops.archive import ArchiveError, Secret
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ops.crafted import Member, manifest_for, seal

PASS = Secret.passphrase("s3cret passphrase", "test")
DUMP = Member("database.dump", b"PGDMP" + os.urandom(2000))
FERNET = Member("secrets/fernet_key", b"k" * 44)


def _open(path: Path, within: Path) -> list[str]:
    with archive.opened(path, PASS, within=within) as (_header, folder):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir())


def _everything(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def test_a_well_formed_archive_opens_privately(tmp_path: Path) -> None:
    path = seal(tmp_path / "a.airdeck-backup", PASS, [manifest_for([DUMP, FERNET]), DUMP, FERNET])
    within = tmp_path / "w"
    within.mkdir()
    assert _open(path, within) == ["database.dump", "manifest.json", "secrets/fernet_key"]
    assert not list(within.iterdir())


@pytest.mark.parametrize(("member", "says"), [
    (Member("secrets/fernet_key", kind=tarfile.SYMTYPE, link="../database.dump"), "fernet_key.*is a link"),
    (Member("secrets/fernet_key", kind=tarfile.LNKTYPE, link="database.dump"), "fernet_key.*is a link"),
    (Member("secrets/fernet_key", kind=tarfile.FIFOTYPE), "fernet_key.*a device or FIFO"),
    (Member("secrets/fernet_key", kind=tarfile.CHRTYPE), "fernet_key.*a device or FIFO"),
    (Member("secrets/fernet_key", kind=tarfile.DIRTYPE), "fernet_key.*is a folder"),
    (Member("secrets/fernet_key", b"x" * 10, pax={"GNU.sparse.map": "0,10", "GNU.sparse.size": str(8 << 40)}),
     "fernet_key.*sparse"),
    (Member("secrets/fernet_key", b"x" * 10, pax={"GNU.sparse.major": "1", "GNU.sparse.minor": "0",
                                                  "GNU.sparse.name": "secrets/fernet_key",
                                                  "GNU.sparse.realsize": str(8 << 40)}),
     "damaged: its contents are not readable"),  # tarfile reads this map from the data: it fails there
])
def test_links_devices_fifos_folders_and_sparse_members_are_refused(tmp_path: Path, member: Member,
                                                                     says: str) -> None:
    """Even pointing inside the folder (which tarfile's data filter lets through)."""
    listed = manifest_for([DUMP, Member("secrets/fernet_key", b"")])
    path = seal(tmp_path / "a.airdeck-backup", PASS, [listed, DUMP, member])
    within = tmp_path / "w"
    within.mkdir()
    with pytest.raises(ArchiveError, match=says):
        _open(path, within)
    assert not list(within.iterdir())


def test_a_member_the_manifest_does_not_list_is_never_written(tmp_path: Path) -> None:
    extra = Member("secrets/jwt_secret", b"planted")
    path = seal(tmp_path / "a.airdeck-backup", PASS, [manifest_for([DUMP]), DUMP, extra])
    with pytest.raises(ArchiveError, match="jwt_secret.*not listed in its manifest"):
        _open(path, tmp_path)


@pytest.mark.parametrize("name", ["../outside", "/etc/cron.d/x", "run/airdeck.pid", "secrets/../../x",
                                  "secrets/unknown", "config/other.yaml", "database.dump/x"])
def test_names_outside_the_allow_list_are_refused_from_the_manifest(tmp_path: Path, name: str) -> None:
    rogue = Member(name, b"x")
    path = seal(tmp_path / "a.airdeck-backup", PASS, [manifest_for([DUMP, rogue]), DUMP, rogue])
    with pytest.raises(ArchiveError, match="not a file airdeck backs up"):
        _open(path, tmp_path)
    assert _everything(tmp_path) == {"a.airdeck-backup"}


def test_the_manifest_must_come_first_and_sizes_must_match_it(tmp_path: Path) -> None:
    path = seal(tmp_path / "a.airdeck-backup", PASS, [DUMP, manifest_for([DUMP])])
    with pytest.raises(ArchiveError, match="first member is not manifest.json"):
        _open(path, tmp_path)
    lying = Member("database.dump", DUMP.data + b"more")
    path = seal(tmp_path / "b.airdeck-backup", PASS, [manifest_for([DUMP]), lying])
    with pytest.raises(ArchiveError, match="claims 2009 bytes, its manifest 2005"):
        _open(path, tmp_path)
    twice = seal(tmp_path / "c.airdeck-backup", PASS, [manifest_for([DUMP]), DUMP, DUMP])
    with pytest.raises(ArchiveError, match="appears twice"):
        _open(twice, tmp_path)


def test_a_member_claiming_more_than_the_archive_holds_is_refused_at_once(tmp_path: Path) -> None:
    """8 TiB claimed in a few kilobytes: refused before any byte is read or written (it took hours)."""
    huge = Member("database.dump", DUMP.data, size=8 << 40)
    listed = Member("manifest.json", (b'{"files": {"database.dump": {"sha256": "%s", "bytes": %d}}}'
                                      % (b"0" * 64, 8 << 40)))
    path = seal(tmp_path / "a.airdeck-backup", PASS, [listed, huge])
    started = time.monotonic()
    with pytest.raises(ArchiveError, match="more than the archive's"):
        _open(path, tmp_path)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("kdf", [{"n": 1 << 22}, {"r": 64}, {"p": 16}, {"n": 1 << 10}, {"p": True},
                                 {"salt": "00"}, {"name": "argon2"}, {"n": "131072"}])
def test_key_derivation_settings_other_than_the_writers_are_refused_before_any_work(
        tmp_path: Path, kdf: dict[str, object]) -> None:
    """170 bytes of header made restore use 4.3 GB and 27 s; now nothing is derived."""
    path = seal(tmp_path / "a.airdeck-backup", PASS, [manifest_for([DUMP]), DUMP], kdf=kdf)
    started = time.monotonic()
    with pytest.raises(ArchiveError, match="key derivation"):
        _open(path, tmp_path)
    assert time.monotonic() - started < 0.2  # one scrypt at the writer's settings takes longer


def test_a_fifo_in_place_of_the_archive_is_not_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "a.airdeck-backup"
    os.mkfifo(fifo)
    with pytest.raises(ArchiveError, match="not a regular file"):
        _open(fifo, tmp_path)


_names = st.sampled_from(sorted(archive.MEMBERS) + ["../x", "/tmp/x", "secrets/../../y", "a/../../z", "x",
                                                    "secrets", "config", ".", "manifest.json/.."])
_kinds = st.sampled_from([tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE, tarfile.DIRTYPE,
                          tarfile.CHRTYPE, tarfile.BLKTYPE])
_links = st.sampled_from(["", "/etc/passwd", "..", "../../..", "database.dump", "secrets", "/"])
_members = st.lists(st.builds(Member, _names, st.binary(max_size=64), _kinds, _links), max_size=6)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(members=_members, listed=st.lists(st.integers(0, 5), max_size=6), manifest_first=st.booleans())
def test_whatever_the_members_nothing_lands_outside_the_private_folder(
        tmp_path_factory: pytest.TempPathFactory, members: list[Member], listed: list[int],
        manifest_first: bool) -> None:
    root = tmp_path_factory.mktemp("prop")
    within = root / "within"
    within.mkdir()
    chosen = [members[i] for i in listed if i < len(members)]
    manifest = manifest_for(chosen)
    ordered = [manifest, *members] if manifest_first else [*members, manifest]
    path = seal(root / "a.airdeck-backup", PASS, ordered)
    before = _everything(root)
    try:
        with archive.opened(path, PASS, within=within) as (_header, folder):
            for item in folder.rglob("*"):
                info = item.lstat()
                assert stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode), item
                rel = item.relative_to(folder).as_posix()
                assert stat.S_ISDIR(info.st_mode) or rel in archive.MEMBERS, rel
    except ArchiveError:
        pass
    assert _everything(root) == before  # nothing outside; the private folder is gone again
    assert not list(within.iterdir())


def test_the_command_names_the_member_and_changes_nothing(tmp_path: Path) -> None:
    """`airdeck restore` on a crafted archive: exit 1, one message naming the member, no traceback."""
    import subprocess
    import sys

    rogue = Member("secrets/fernet_key", kind=tarfile.SYMTYPE, link="../database.dump")  # inside: the filter allows it
    path = seal(tmp_path / "a.airdeck-backup", PASS, [manifest_for([DUMP, Member("secrets/fernet_key")]), DUMP,
                                                      rogue])
    home = tmp_path / "home"
    env = {**os.environ, "AIRDECK_BACKUP_PASSPHRASE": "s3cret passphrase"}
    done = subprocess.run([sys.executable, "-m", "airdeck.cli.main", "--home", str(home), "--config",
                           str(tmp_path / "airdeck.yaml"), "restore", str(path), "--yes"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "'secrets/fernet_key' is a link" in done.stderr and "Traceback" not in done.stderr
    assert not home.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["a.airdeck-backup"]
