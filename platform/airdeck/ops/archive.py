"""The encrypted backup archive: one file, readable only with its passphrase or key file.

Layout (all integers big-endian)::

    b"AIRDECK-BACKUP\\n"  (magic)
    u32 length, header    JSON, in the clear: format, KDF parameters and salt, key check value, and the
                          non-secret facts `airdeck backup --list` shows (created at, Airflow version,
                          schema revision). Authenticated: it is the associated data of every block.
    blocks                u32 length, AES-256-GCM ciphertext of up to 1 MiB of the tar stream

The key comes from scrypt (n=2^17, r=8, p=1, a random 16-byte salt per archive) over the passphrase
or the key file's bytes; HKDF splits it into the encryption key and a check value stored in the
header, so a wrong passphrase is told apart from a damaged archive. Block ``i`` is sealed with the
nonce ``i`` (96 bits; the key is unique to the archive) and the associated data ``header || i ||
last``, where ``last`` marks the final block: blocks cannot be reordered, dropped or moved to another
archive, and an archive cut short (no final block) is detected. Nothing is trusted, and nothing is
extracted where others can read it, before every block has been verified.

A reader holding the passphrase still treats the contents as hostile (an archive may come from
elsewhere): the header's key-derivation settings must be exactly the writer's, every size is bounded
before anything is allocated, the manifest comes first, and only the allow-listed regular files it
names are written (by this module, never by ``tarfile.extractall``), each checked against the
manifest's size before its first byte and its SHA-256 after.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import re
import secrets
import stat
import struct
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from airdeck.errors import AirdeckError
from airdeck.state.secrets import GENERATED

MAGIC = b"AIRDECK-BACKUP\n"
FORMAT = 1
BLOCK = 1 << 20
MAX_HEADER = 64 * 1024
MAX_MANIFEST = 1 << 20
SCRYPT = {"n": 1 << 17, "r": 8, "p": 1}
SALT = 16
#: The only members an archive may hold (what `airdeck backup` writes); anything else is refused.
MEMBERS = frozenset({"manifest.json", "database.dump", "config/airdeck.yaml", "config/roles.yaml",
                     *(f"secrets/{name}" for name in GENERATED)})
#: Bytes a key file must hold at least (a passphrase has no minimum: the user chose it).
MIN_KEY_FILE = 32


#: The first Python 3.11 whose tarfile has the fixes for CVE-2025-4517 and its siblings. airdeck's reader does
#: not rely on them (it writes only allow-listed regular files itself); an older one is warned about.
SAFE_TARFILE = (3, 11, 13)


def python_warning() -> str | None:
    """A warning when this Python's tarfile lacks the 2025 extraction fixes; None otherwise."""
    if sys.version_info[:3] >= SAFE_TARFILE:
        return None
    found = ".".join(str(n) for n in sys.version_info[:3])
    return (f"this Python ({found}) predates {'.'.join(map(str, SAFE_TARFILE))}, whose tarfile fixes CVE-2025-4517 "
            "and related extraction flaws. airdeck's restore does not rely on them (it writes only the "
            "allow-listed regular files itself), but upgrade Python to 3.11.13 or later")


class ArchiveError(AirdeckError):
    """A backup archive cannot be written or read; nothing was changed."""

    exit_code = 1


@dataclass(frozen=True)
class Secret:
    """What an archive is locked with: a passphrase or the bytes of a key file, and where it came from."""

    kind: str  # "passphrase" or "key-file"
    value: bytes
    source: str  # "AIRDECK_BACKUP_PASSPHRASE", "/path/to/file", "prompt" (never the value)

    @classmethod
    def passphrase(cls, text: str, source: str) -> Secret:
        value = text.rstrip("\r\n").encode("utf-8")
        if not value:
            raise ArchiveError(f"the backup passphrase from {source} is empty")
        return cls("passphrase", value, source)

    @classmethod
    def key_file(cls, path: Path) -> Secret:
        try:
            value = path.read_bytes()
        except OSError as exc:
            raise ArchiveError(f"cannot read the backup key file {path}: {exc.strerror}") from None
        if len(value) < MIN_KEY_FILE:
            raise ArchiveError(f"the backup key file {path} holds {len(value)} bytes; it needs at least "
                               f"{MIN_KEY_FILE} random bytes (make one with: head -c 64 /dev/urandom > {path})")
        return cls("key-file", value, str(path))


def _keys(secret: Secret, salt: bytes, params: dict[str, int]) -> tuple[bytes, bytes]:
    master = Scrypt(salt=salt, length=32, n=params["n"], r=params["r"], p=params["p"]).derive(secret.value)
    both = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=b"airdeck-backup v1").derive(master)
    return both[:32], both[32:]


def _aad(header: bytes, index: int, last: bool) -> bytes:
    return header + struct.pack(">QB", index, 1 if last else 0)


def _nonce(index: int) -> bytes:
    return struct.pack(">IQ", 0, index)


class _Sealer(io.RawIOBase):
    """A write-only stream that seals what it is given in blocks (tarfile writes into it)."""

    def __init__(self, out: IO[bytes], key: bytes, header: bytes):
        self._out, self._aead, self._header = out, AESGCM(key), header
        self._buffer = bytearray()
        self._index = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._buffer += data
        while len(self._buffer) > BLOCK:
            self._seal(bytes(self._buffer[:BLOCK]), last=False)
            del self._buffer[:BLOCK]
        return len(data)

    def _seal(self, plain: bytes, last: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._index), plain, _aad(self._header, self._index, last))
        self._out.write(struct.pack(">I", len(sealed)) + sealed)
        self._index += 1

    def finish(self) -> None:
        self._seal(bytes(self._buffer), last=True)
        self._buffer.clear()


def write_archive(path: Path, secret: Secret, info: dict[str, Any], members: dict[str, Path]) -> int:
    """Write ``members`` (name in the archive -> file) and ``info`` to a new 0600 archive; its size.

    Written to a temporary file next to ``path`` and renamed into place, so a crash leaves no
    half-written archive under the final name; an existing file is never overwritten."""
    salt = secrets.token_bytes(SALT)
    key, check = _keys(secret, salt, SCRYPT)
    header = json.dumps({"format": FORMAT, "kdf": {"name": "scrypt", **SCRYPT, "salt": salt.hex()},
                         "cipher": "AES-256-GCM", "block": BLOCK, "key": secret.kind, "check": check.hex(),
                         **info}, sort_keys=True).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(MAGIC + struct.pack(">I", len(header)) + header)
            sealer = _Sealer(out, key, header)
            with tarfile.open(fileobj=sealer, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
                for name, source in members.items():
                    entry = tar.gettarinfo(str(source), arcname=name)
                    entry.uid = entry.gid = 0
                    entry.uname = entry.gname = ""
                    entry.mode = 0o600
                    with open(source, "rb") as handle:
                        tar.addfile(entry, handle)
            sealer.finish()
            out.flush()
            os.fsync(out.fileno())
        if path.exists():
            raise ArchiveError(f"{path} exists already; choose another name")
        os.link(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.unlink()
    return path.stat().st_size


def read_header(path: Path) -> dict[str, Any]:
    """The clear header of an archive (not yet authenticated: that needs the passphrase)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError as exc:
        raise ArchiveError(f"cannot read {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ArchiveError(f"{path} is not a regular file")
        header, _ = _header(handle, path)
    return header


def _header(handle: IO[bytes], path: Path) -> tuple[dict[str, Any], bytes]:
    if handle.read(len(MAGIC)) != MAGIC:
        raise ArchiveError(f"{path} is not an airdeck backup (no airdeck backup header)")
    size_bytes = handle.read(4)
    if len(size_bytes) < 4:
        raise ArchiveError(f"{path} is truncated: it ends inside its header")
    (size,) = struct.unpack(">I", size_bytes)
    if size > MAX_HEADER:
        raise ArchiveError(f"{path} is damaged: its header claims {size} bytes")
    raw = handle.read(size)
    if len(raw) < size:
        raise ArchiveError(f"{path} is truncated: it ends inside its header")
    try:
        header = json.loads(raw)
        if not isinstance(header, dict):
            raise ValueError
    except ValueError:
        raise ArchiveError(f"{path} is damaged: its header is not readable") from None
    if header.get("format") != FORMAT:
        raise ArchiveError(f"{path} has backup format {header.get('format')!r}; this airdeck reads format {FORMAT}")
    return header, raw


class _Opener(io.RawIOBase):
    """A read-only stream of the verified plain text, block by block."""

    def __init__(self, handle: IO[bytes], key: bytes, header: bytes, path: Path):
        self._in, self._aead, self._header, self._path = handle, AESGCM(key), header, path
        self._index = 0
        self._buffer = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer and not self._done:
            self._next()
        count = min(len(target), len(self._buffer))
        target[:count] = self._buffer[:count]
        self._buffer = self._buffer[count:]
        return count

    def _next(self) -> None:
        at = self._in.tell()
        size_bytes = self._in.read(4)
        if len(size_bytes) < 4:
            raise ArchiveError(f"{self._path} is truncated: it ends after {at} bytes, before its last block")
        (size,) = struct.unpack(">I", size_bytes)
        if size > BLOCK + 16:
            raise ArchiveError(f"{self._path} is damaged at byte {at}: a block claims {size} bytes")
        sealed = self._in.read(size)
        if len(sealed) < size:
            raise ArchiveError(f"{self._path} is truncated: it ends inside block {self._index} (byte {at})")
        for last in (False, True):
            try:
                plain = self._aead.decrypt(_nonce(self._index), sealed, _aad(self._header, self._index, last))
            except InvalidTag:
                continue
            self._buffer = plain
            self._index += 1
            if last:
                self._done = True
                if self._in.read(1):
                    raise ArchiveError(f"{self._path} is damaged: data follows its last block")
            return
        raise ArchiveError(f"{self._path} is damaged: block {self._index} (byte {at}) fails its integrity check")

    def drain(self) -> None:
        while not self._done:
            self._next()
        if self._buffer.strip(b"\0"):
            raise ArchiveError(f"{self._path} is damaged: unexpected data at its end")


def _check_kdf(header: dict[str, Any], path: Path) -> tuple[dict[str, int], bytes]:
    """The writer's key-derivation settings, exactly; anything else is refused before any work is done
    (an archive's header is read before its passphrase is checked, so its numbers must not set the cost)."""
    kdf = header.get("kdf")
    try:
        if not isinstance(kdf, dict) or kdf.get("name") != "scrypt":
            raise ValueError
        params = {k: kdf[k] for k in SCRYPT}
        salt = bytes.fromhex(kdf["salt"]) if isinstance(kdf["salt"], str) else b""
    except (KeyError, TypeError, ValueError):
        raise ArchiveError(f"{path} is damaged: its key derivation parameters are not usable") from None
    if params != SCRYPT or any(type(v) is not int for v in params.values()) or len(salt) != SALT:
        raise ArchiveError(f"{path} is refused: its key derivation settings (scrypt n={params.get('n')!r}, "
                           f"r={params.get('r')!r}, p={params.get('p')!r}, {len(salt)}-byte salt) are not the ones "
                           f"airdeck writes (n={SCRYPT['n']}, r={SCRYPT['r']}, p={SCRYPT['p']}, {SALT}-byte salt); "
                           "nothing was changed")
    if header.get("cipher") != "AES-256-GCM" or header.get("block") != BLOCK:
        raise ArchiveError(f"{path} is refused: its cipher or block size is not the one airdeck writes; "
                           "nothing was changed")
    return params, salt


_HEX64 = re.compile(r"[0-9a-f]{64}")


def _refuse(path: Path, name: str, why: str) -> ArchiveError:
    shown = name.encode("unicode_escape").decode("ascii")[:200]
    return ArchiveError(f"{path} is refused: its member {shown!r} {why}; nothing was changed")


def _is_sparse(member: tarfile.TarInfo) -> bool:
    return member.issparse() or any(key.startswith("GNU.sparse") for key in member.pax_headers)


def _read_manifest(path: Path, tar: tarfile.TarFile,
                   member: tarfile.TarInfo | None) -> tuple[dict[str, dict[str, Any]], bytes]:
    """The first member must be the manifest: a small regular file listing allow-listed names."""
    if member is None or member.name != "manifest.json":
        raise ArchiveError(f"{path} is damaged: its first member is not manifest.json")
    if not member.isreg() or _is_sparse(member):
        raise _refuse(path, member.name, "is not a regular file")
    if member.size > MAX_MANIFEST:
        raise _refuse(path, member.name, f"claims {member.size} bytes (at most {MAX_MANIFEST})")
    handle = tar.extractfile(member)
    data = handle.read(MAX_MANIFEST + 1) if handle is not None else b""
    try:
        manifest = json.loads(data)
        files = manifest["files"]
        if not isinstance(files, dict):
            raise TypeError
        for name, facts in files.items():
            if not isinstance(facts, dict) or not _HEX64.fullmatch(str(facts.get("sha256"))) \
                    or type(facts.get("bytes")) is not int or facts["bytes"] < 0:
                raise TypeError(name)
    except (ValueError, KeyError, TypeError):
        raise ArchiveError(f"{path} is damaged: its manifest is missing or unreadable") from None
    for name in files:
        if name not in MEMBERS:
            raise _refuse(path, name, "is not a file airdeck backs up (manifest.json lists it)")
    return files, data


def _extract(path: Path, tar: tarfile.TarFile, folder: Path, limit: int) -> None:
    """Write only the manifest's allow-listed regular files, each checked against the manifest (name, type,
    size) before its first byte is written and against its SHA-256 after; never a link, device, FIFO,
    folder of the archive's own or sparse member. No tarfile filter is relied on (CVE-2025-4517)."""
    files, manifest = _read_manifest(path, tar, tar.next())
    fd = os.open(folder / "manifest.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(manifest)
    total = 0
    written: set[str] = set()
    while (member := tar.next()) is not None:
        name = member.name
        if name not in files:
            raise _refuse(path, name, "is not listed in its manifest")
        if name in written:
            raise _refuse(path, name, "appears twice")
        if not member.isreg() or _is_sparse(member):
            kind = ("a sparse file" if _is_sparse(member) else "a link" if member.issym() or member.islnk() else
                    "a folder" if member.isdir() else "a device or FIFO" if member.isdev() else "not a regular file")
            raise _refuse(path, name, f"is {kind}; an airdeck backup holds regular files only")
        expected = files[name]["bytes"]
        if member.size != expected:
            raise _refuse(path, name, f"claims {member.size} bytes, its manifest {expected}")
        total += member.size
        if total > limit:
            raise _refuse(path, name, f"makes the contents {total} bytes, more than the archive's {limit}")
        tarfile.data_filter(member, str(folder))  # a second layer only: the checks above decide
        target = folder / name
        if target.parent != folder:
            target.parent.mkdir(mode=0o700, exist_ok=True)
        digest = hashlib.sha256()
        source = tar.extractfile(member)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out:
            left = member.size
            while left > 0 and source is not None:
                chunk = source.read(min(left, BLOCK))
                if not chunk:
                    raise ArchiveError(f"{path} is damaged: {name} ends early")
                digest.update(chunk)
                out.write(chunk)
                left -= len(chunk)
        if not hmac.compare_digest(digest.hexdigest(), files[name]["sha256"]):
            raise ArchiveError(f"{path} is damaged: the checksum of {name} does not match its manifest")
        written.add(name)
    missing = sorted(set(files) - written)
    if missing:
        raise ArchiveError(f"{path} is damaged: {', '.join(missing)} is missing")


@contextmanager
def opened(path: Path, secret: Secret, within: Path | None = None) -> Iterator[tuple[dict[str, Any], Path]]:
    """Verify the whole archive and extract it to a private (0700) temporary folder; yield (header, folder).

    The header's key-derivation settings must be the writer's; every block is authenticated, and every
    member is checked against the allow-list and the manifest (which comes first) before it is written,
    so a wrong passphrase, a damaged, truncated or crafted archive raises :class:`ArchiveError` before
    the caller touches anything. ``within`` is where the temporary folder is made (default: the system's
    temporary folder); it is removed afterwards. The folder holds ``manifest.json`` as the archive has
    it, verified."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError as exc:
        raise ArchiveError(f"cannot read {path}: {exc.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise ArchiveError(f"{path} is not a regular file; nothing was changed")
    handle = os.fdopen(fd, "rb")
    with handle, tempfile.TemporaryDirectory(prefix="airdeck-restore-", dir=within) as tmp:
        header, raw = _header(handle, path)
        params, salt = _check_kdf(header, path)
        key, check = _keys(secret, salt, params)
        if not hmac.compare_digest(check.hex(), str(header.get("check", ""))):
            kind = header.get("key")
            hint = (" (it was locked with a key file: pass --key-file)" if kind == "key-file" and
                    secret.kind != "key-file" else
                    " (it was locked with a passphrase: pass --passphrase-file or AIRDECK_BACKUP_PASSPHRASE)"
                    if kind == "passphrase" and secret.kind != "passphrase" else "")
            raise ArchiveError(f"wrong {secret.kind.replace('-', ' ')} for {path} (from {secret.source}){hint}; "
                               "nothing was changed")
        folder = Path(tmp)
        folder.chmod(0o700)
        stream = _Opener(handle, key, raw, path)
        reader = io.BufferedReader(stream, buffer_size=BLOCK)
        try:
            with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
                _extract(path, tar, folder, info.st_size)
            stream.drain()
        except (tarfile.TarError, ValueError, EOFError, OverflowError) as exc:
            # tarfile parses some headers (a sparse map, a PAX record) with ValueError on bad input
            raise ArchiveError(f"{path} is damaged: its contents are not readable ({exc})") from None
        yield header, folder


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(BLOCK), b""):
            digest.update(chunk)
    return digest.hexdigest()
