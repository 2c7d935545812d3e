"""Fuzz target: a backup archive → :func:`airdeck.ops.archive.opened` (header, blocks, tar members, manifest).

The first byte chooses what the rest is: ``0`` a plain tar stream, sealed here with the real sealing code
and a key derived once (so the fuzzer reaches the member checks, as an attacker holding the passphrase
would); anything else, the archive file's bytes as they are (magic, header, key-derivation settings,
block framing). The only exception allowed is airdeck's own error; anything else is a crash. After each
input, nothing may be left in the folder the reader extracts into, and nothing may appear beside it.

Run: ``python tests/fuzz/fuzz_archive.py -max_total_time=30 CORPUS_DIR tests/fuzz/corpus/archive``.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["airdeck", "tarfile"]):
    from airdeck.errors import AirdeckError
    from airdeck.ops import archive

SECRET = archive.Secret.passphrase("fuzz passphrase", "fuzz")
SALT = bytes(archive.SALT)
KEYS = archive._keys(SECRET, SALT, archive.SCRYPT)  # once: scrypt is slow on purpose
HEADER = json.dumps({"format": archive.FORMAT, "kdf": {"name": "scrypt", **archive.SCRYPT, "salt": SALT.hex()},
                     "cipher": "AES-256-GCM", "block": archive.BLOCK, "key": "passphrase",
                     "check": KEYS[1].hex()}, sort_keys=True).encode()
# In the working folder (test_fuzz.py runs each fuzzer in a temporary one): libFuzzer ends the process
# without running exit handlers, so nothing could remove a folder made elsewhere.
PLACE = Path(tempfile.mkdtemp(prefix="airdeck-fuzz-archive-", dir=os.getcwd()))
WITHIN = PLACE / "within"
WITHIN.mkdir()
FILE = PLACE / "input.airdeck-backup"


def _cached_keys(secret: archive.Secret, salt: bytes, params: dict[str, int]) -> tuple[bytes, bytes]:
    assert secret == SECRET and salt == SALT and params == archive.SCRYPT
    return KEYS


archive._keys = _cached_keys


def test_one_input(data: bytes) -> None:
    if data[:1] == b"\0":
        with open(FILE, "wb") as out:
            out.write(archive.MAGIC + struct.pack(">I", len(HEADER)) + HEADER)
            sealer = archive._Sealer(out, KEYS[0], HEADER)
            sealer.write(data[1:])
            sealer.finish()
    else:
        FILE.write_bytes(data[1:])
    try:
        with archive.opened(FILE, SECRET, within=WITHIN) as (_header, folder):
            for item in folder.rglob("*"):
                assert item.is_dir() or item.relative_to(folder).as_posix() in archive.MEMBERS, item
    except AirdeckError as exc:
        str(exc)  # the message itself must render
    leftover = os.listdir(WITHIN)
    assert not leftover, leftover
    beside = sorted(os.listdir(PLACE))
    assert beside == ["input.airdeck-backup", "within"], beside


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
