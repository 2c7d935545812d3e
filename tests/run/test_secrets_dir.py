"""``--secrets-dir`` against what a folder can hold besides secret files (issue 22, finding 11).

The Kubernetes layout (``NAME -> ..data/NAME``, ``..data -> ..<timestamp>/``) keeps working; a FIFO,
a folder, a link loop, a link out of the folder, non-UTF-8 bytes and an oversized file are each
refused at once with the file's name and what to do, as one error line and exit 2 from the CLI.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from airdeck.config.loader import parse_config
from airdeck.errors import AirdeckError
from airdeck.run.entrypoint import prepare, read_mounted
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import GENERATED

from tests.cli.helpers import run

EXTERNAL = {"database": {"url": "postgresql://airflow:db-pw@db.example:5432/airflow"},
            "broker": {"url": "redis://:broker-pw@redis.example:6379/0"}}
MOUNTED = {"fernet_key": "mounted-fernet", "jwt_private_key": GENERATED["jwt_private_key"][0](),
           "api_secret_key": "mounted-key", "log_fetch_key": "mounted-log-key"}


def kubernetes_volume(folder: Path, values: dict[str, str], mode: int = 0o440) -> Path:
    """A Secret volume as the kubelet writes it: files in a timestamped folder, ``..data`` pointing at it,
    and one relative link per key through ``..data``."""
    stamp = folder / "..2026_12_07_18_00_00.123456789"
    stamp.mkdir(parents=True)
    for name, value in values.items():
        (stamp / name).write_text(value + "\n")
        (stamp / name).chmod(mode)
    (folder / "..data").symlink_to(stamp.name)
    for name in values:
        (folder / name).symlink_to(f"..data/{name}")
    return folder


def plain(folder: Path, values: dict[str, str], mode: int = 0o400) -> Path:
    folder.mkdir(exist_ok=True)
    for name, value in values.items():
        (folder / name).write_text(value)
        (folder / name).chmod(mode)
    return folder


def test_the_kubernetes_secret_volume_layout_is_read(tmp_path: Path) -> None:
    secrets = kubernetes_volume(tmp_path / "secrets", MOUNTED)
    assert read_mounted(secrets, "fernet_key") == "mounted-fernet"
    _, env = prepare(parse_config(EXTERNAL), AirdeckHome(tmp_path / "home"), "scheduler", target="kubernetes",
                     secrets_dir=secrets)
    assert "mounted-fernet" in Path(env["AIRFLOW_CONFIG"]).read_text()
    # the folder given through a link of its own, and links inside it to files inside it, are fine too
    (tmp_path / "alias").symlink_to(secrets)
    assert read_mounted(tmp_path / "alias", "api_secret_key") == "mounted-key"
    (secrets / "..data" / "other").write_text("x")
    (secrets / "..data" / "other").chmod(0o400)
    (secrets / "renamed").symlink_to("..data/other")
    assert read_mounted(secrets, "renamed") == "x"
    with pytest.raises(KeyError):
        read_mounted(secrets, "absent")


@pytest.mark.parametrize("mode", [0o640, 0o600, 0o400])
def test_a_link_out_of_the_folder_is_refused_whatever_the_targets_mode(tmp_path: Path, mode: int) -> None:
    outside = plain(tmp_path / "elsewhere", {"id_rsa": "not a secret of the platform"}, mode=mode)
    secrets = plain(tmp_path / "secrets", {})
    (secrets / "fernet_key").symlink_to(outside / "id_rsa")
    (secrets / "api_secret_key").symlink_to("../elsewhere/id_rsa")
    for name in ("fernet_key", "api_secret_key"):
        with pytest.raises(AirdeckError, match=f"{name} is a symbolic link that leaves .*secrets"):
            read_mounted(secrets, name)


@pytest.mark.timeout(20)
def test_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    secrets = plain(tmp_path / "secrets", {})
    os.mkfifo(secrets / "fernet_key", 0o600)
    with pytest.raises(AirdeckError, match=r"fernet_key is a FIFO \(named pipe\), not a file; mount each secret"):
        read_mounted(secrets, "fernet_key")


@pytest.mark.parametrize(("make", "expected"), [
    (lambda p: p.mkdir(mode=0o700), "is a folder, not a file"),
    (lambda p: p.symlink_to(p.name), "symbolic link loop"),
    (lambda p: (p.symlink_to(p.name + ".b"), p.with_name(p.name + ".b").symlink_to(p.name)), "symbolic link loop"),
    (lambda p: p.symlink_to("..data/missing"), "link to a file that does not exist"),
])
def test_folders_loops_and_dangling_links_name_the_file(tmp_path: Path, make: object, expected: str) -> None:
    secrets = plain(tmp_path / "secrets", {})
    make(secrets / "fernet_key")  # type: ignore[operator]
    with pytest.raises(AirdeckError, match=f"fernet_key.*{expected}"):
        read_mounted(secrets, "fernet_key")


@pytest.mark.parametrize("raw", [b"\xff\xfe\x00k", b"caf\xe9", b"\xc3"])
def test_non_utf8_bytes_are_an_error_not_a_traceback(tmp_path: Path, raw: bytes) -> None:
    secrets = plain(tmp_path / "secrets", {})
    (secrets / "fernet_key").write_bytes(raw)
    (secrets / "fernet_key").chmod(0o400)
    with pytest.raises(AirdeckError, match="fernet_key is not UTF-8 text"):
        read_mounted(secrets, "fernet_key")


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    secrets = plain(tmp_path / "secrets", {})
    with open(secrets / "fernet_key", "wb") as handle:  # sparse: no disk used, no memory either when refused
        handle.truncate(64 * 1024 * 1024)
    (secrets / "fernet_key").chmod(0o400)
    (secrets / "api_secret_key").write_bytes(b"k" * (2 << 20))
    (secrets / "api_secret_key").chmod(0o400)
    for name in ("fernet_key", "api_secret_key"):
        with pytest.raises(AirdeckError, match=f"{name} holds .*bytes, more than any secret"):
            read_mounted(secrets, name)


def test_the_cli_prints_one_line_and_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "airdeck.yaml").write_text(yaml.safe_dump(EXTERNAL))
    secrets = plain(tmp_path / "secrets", MOUNTED)
    os.chmod(secrets / "fernet_key", 0o600)
    (secrets / "fernet_key").write_bytes(b"\xff\xfe-not-text")
    ran = run(capsys, "--config", "airdeck.yaml", "--home", str(tmp_path / "home"), "run", "scheduler",
              "--target", "kubernetes", "--secrets-dir", str(secrets))
    assert ran.code == 2, ran.err
    assert ran.err.startswith("error: ") and ran.err.count("\n") == 1 and "Traceback" not in ran.err
    assert f"{secrets / 'fernet_key'} is not UTF-8 text" in ran.err
