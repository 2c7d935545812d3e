"""Correctly sealed archives with hostile contents, built the way an attacker holding the passphrase would:
the real sealing code, any tar members (links, FIFOs, sparse files, unlisted names), any header."""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import struct
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airdeck.ops import archive
from airdeck.ops.archive import Secret


@dataclass
class Member:
    name: str
    data: bytes = b""
    kind: bytes = tarfile.REGTYPE
    link: str = ""
    size: int | None = None  # a claimed size other than len(data) (a PAX record)
    pax: dict[str, str] = field(default_factory=dict)


def manifest_for(members: list[Member], extra: dict[str, Any] | None = None) -> Member:
    files = {m.name: {"sha256": hashlib.sha256(m.data).hexdigest(), "bytes": len(m.data)} for m in members}
    return Member("manifest.json", json.dumps({"files": files, **(extra or {})}).encode())


def seal(path: Path, secret: Secret, members: list[Member], kdf: dict[str, Any] | None = None,
         info: dict[str, Any] | None = None) -> Path:
    """Write ``members`` (in order) as a sealed archive; ``kdf`` overrides the header's scrypt settings
    (the key is then derived with the writer's, so only the header lies)."""
    salt = secrets.token_bytes(archive.SALT)
    key, check = archive._keys(secret, salt, archive.SCRYPT)
    header = json.dumps({"format": archive.FORMAT, "kdf": {"name": "scrypt", **archive.SCRYPT, "salt": salt.hex(),
                                                           **(kdf or {})},
                         "cipher": "AES-256-GCM", "block": archive.BLOCK, "key": secret.kind, "check": check.hex(),
                         **(info or {})}, sort_keys=True).encode()
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for m in members:
            entry = tarfile.TarInfo(m.name)
            entry.type = m.kind
            entry.linkname = m.link
            entry.mode = 0o600
            entry.pax_headers = dict(m.pax) | ({"size": str(m.size)} if m.size is not None else {})
            entry.size = len(m.data) if m.kind == tarfile.REGTYPE else 0
            tar.addfile(entry, io.BytesIO(m.data) if m.kind == tarfile.REGTYPE else None)
    stream = plain.getvalue()
    with open(path, "wb") as out:
        out.write(archive.MAGIC + struct.pack(">I", len(header)) + header)
        sealer = archive._Sealer(out, key, header)
        sealer.write(stream)
        sealer.finish()
    return path

