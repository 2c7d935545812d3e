"""The backup archive format: round trip, wrong passphrase or key, truncation, damage, reordering."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest
from airdeck.ops import archive
from airdeck.ops.archive import ArchiveError, Secret
from hypothesis import given, settings
from hypothesis import strategies as st

PASS = Secret.passphrase("s3cret passphrase", "test")


def _write(tmp_path: Path, payload: bytes, secret: Secret = PASS, name: str = "a.airdeck-backup") -> Path:
    source = tmp_path / "payload.bin"
    source.write_bytes(payload)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"files": {"database.dump": {"sha256": archive.sha256(source),
                                                                "bytes": len(payload)}}}))
    target = tmp_path / name
    archive.write_archive(target, secret, {"airflow_version": "3.3.2"},
                          {"manifest.json": manifest, "database.dump": source})
    return target


def _read(path: Path, secret: Secret = PASS) -> bytes:
    with archive.opened(path, secret) as (_header, folder):
        return (folder / "database.dump").read_bytes()


def test_round_trip_private_and_header_in_clear(tmp_path: Path) -> None:
    payload = os.urandom(archive.BLOCK * 2 + 123)
    path = _write(tmp_path, payload)
    assert path.stat().st_mode & 0o777 == 0o600
    assert _read(path) == payload
    header = archive.read_header(path)
    assert header["airflow_version"] == "3.3.2" and header["kdf"]["name"] == "scrypt"
    assert b"s3cret" not in path.read_bytes()


def test_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    path = _write(tmp_path, b"x")
    with pytest.raises(ArchiveError, match="exists already"):
        _write(tmp_path, b"y")
    assert _read(path) == b"x"
    assert not list(tmp_path.glob(".*.part"))


def test_wrong_passphrase_and_wrong_kind(tmp_path: Path) -> None:
    path = _write(tmp_path, b"data")
    with pytest.raises(ArchiveError, match="wrong passphrase"):
        _read(path, Secret.passphrase("other", "test"))
    key = tmp_path / "key"
    key.write_bytes(os.urandom(64))
    with pytest.raises(ArchiveError, match="locked with a passphrase"):
        _read(path, Secret.key_file(key))


def test_key_file(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_bytes(os.urandom(64))
    path = _write(tmp_path, b"payload", Secret.key_file(key))
    assert _read(path, Secret.key_file(key)) == b"payload"
    short = tmp_path / "short"
    short.write_bytes(b"12345")
    with pytest.raises(ArchiveError, match="at least 32"):
        Secret.key_file(short)


def test_truncated_at_a_block_boundary_is_detected(tmp_path: Path) -> None:
    payload = os.urandom(archive.BLOCK * 3)
    path = _write(tmp_path, payload)
    data = path.read_bytes()
    # Cut right after the first block: every remaining block verifies, the last one is missing.
    (size,) = struct.unpack(">I", data[len(archive.MAGIC):len(archive.MAGIC) + 4])
    start = len(archive.MAGIC) + 4 + size
    (first,) = struct.unpack(">I", data[start:start + 4])
    path.write_bytes(data[:start + 4 + first])
    with pytest.raises(ArchiveError, match="truncated"):
        _read(path)


def test_swapped_blocks_are_detected(tmp_path: Path) -> None:
    path = _write(tmp_path, os.urandom(archive.BLOCK * 2 + 10))
    data = path.read_bytes()
    (size,) = struct.unpack(">I", data[len(archive.MAGIC):len(archive.MAGIC) + 4])
    start = len(archive.MAGIC) + 4 + size
    blocks = []
    at = start
    while at < len(data):
        (n,) = struct.unpack(">I", data[at:at + 4])
        blocks.append(data[at:at + 4 + n])
        at += 4 + n
    blocks[0], blocks[1] = blocks[1], blocks[0]
    path.write_bytes(data[:start] + b"".join(blocks))
    with pytest.raises(ArchiveError, match="damaged"):
        _read(path)


def test_not_an_archive(tmp_path: Path) -> None:
    path = tmp_path / "x.airdeck-backup"
    path.write_bytes(b"PK\x03\x04 not ours")
    with pytest.raises(ArchiveError, match="not an airdeck backup"):
        archive.read_header(path)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=7))
def test_any_flipped_bit_or_cut_is_refused(tmp_path_factory: pytest.TempPathFactory, where: int, bit: int) -> None:
    tmp = tmp_path_factory.mktemp("flip")
    payload = b"metadata " * 30000
    path = _write(tmp, payload)
    data = bytearray(path.read_bytes())
    index = where % len(data)
    data[index] ^= 1 << bit
    path.write_bytes(bytes(data))
    with pytest.raises(ArchiveError):
        _read(path)
    path.write_bytes(bytes(data[:index]))
    with pytest.raises(ArchiveError):
        _read(path)
