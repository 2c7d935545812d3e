"""Turn plan data into file text, and file specs into files.

* :func:`airflow_cfg` is the ``airflow.cfg`` of one component as a :class:`FileSpec`: non-secret
  settings as they are, secret settings as placeholders a target fills in (the file is then 0600).
* :func:`materialise` writes a spec with its secrets resolved (the only function here with I/O; the
  targets call it, building a plan never does).
* :func:`masked_config` is what ``airdeck config render`` shows: the settings with secrets masked.
"""

from __future__ import annotations

import configparser
import io
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from airdeck.config.airflow_options import masked as mask_sensitive
from airdeck.errors import AirdeckError
from airdeck.plan.model import Component, FileSpec, SecretRef, SecretSetting, Settings, placeholder
from airdeck.state.secrets import write_private

HEADER = "# Rendered by airdeck from airdeck.yaml. Do not edit: it is rewritten at every start.\n"


class RenderError(AirdeckError):
    exit_code = 2


def to_ini(settings: Mapping[str, Mapping[str, str]]) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    for section, options in settings.items():
        parser[section] = {key: value.replace("%", "%%") for key, value in options.items()}
    buffer = io.StringIO()
    buffer.write(HEADER)
    parser.write(buffer)
    return buffer.getvalue()


def with_secrets(settings: Settings, secret_settings: list[SecretSetting] | tuple[SecretSetting, ...],
                 value: Callable[[SecretRef], str]) -> Settings:
    """A copy of ``settings`` with each secret setting filled in by ``value(ref)``."""
    out = {section: dict(options) for section, options in settings.items()}
    for item in secret_settings:
        out.setdefault(item.section, {})[item.key] = value(item.secret)
    return out


def airflow_cfg(path: str, settings: Settings, secret_settings: list[SecretSetting] | tuple[SecretSetting, ...]
                ) -> FileSpec:
    """The airflow.cfg of one component; secrets stay placeholders until a target materialises it."""
    text = to_ini(with_secrets(settings, secret_settings,
                               lambda ref: ref.apply(placeholder(ref.name))))
    refs = tuple(sorted({s.secret.name for s in secret_settings}))
    return FileSpec(path, text, secrets=tuple(SecretRef(name) for name in refs), quote="ini", mode=0o600)


def fill(spec: FileSpec, resolve: Callable[[str], str]) -> str:
    """The spec's content with every secret placeholder replaced by its value."""
    text = spec.content
    for ref in spec.secrets:
        value = resolve(ref.name)
        if spec.quote == "json":
            value = json.dumps(value)[1:-1]
        elif spec.quote == "ini":
            if "\n" in value or "\r" in value:
                raise RenderError(f"secret {ref.name!r} contains a line break and cannot go into {spec.path}")
            value = value.replace("%", "%%")
        elif spec.quote == "valkey":
            value = valkey_quoted_body(value)
        text = text.replace(placeholder(ref.name), value)
    return text


def valkey_quoted_body(value: str) -> str:
    """``value`` as the body of a double-quoted valkey.conf argument: printable ASCII as it is, ``"`` and
    ``\\`` escaped, every other byte (line breaks, control characters, UTF-8) as ``\\xHH``, which valkey's
    argument splitter (``sdssplitargs``) reads back byte for byte. Nothing in it can end the argument or
    the line, so a password cannot add a directive."""
    out = []
    for byte in value.encode("utf-8"):
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out)


def materialise(spec: FileSpec, resolve: Callable[[str], str], root: Path | None = None) -> Path:
    """Write ``spec`` (under ``root`` when given, for a remapped file system). Files holding secrets
    are written 0600, atomically; a missing parent folder is created 0700."""
    path = Path(spec.path)
    if root is not None:
        path = root / path.relative_to(path.anchor)
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    text = fill(spec, resolve)
    if spec.secrets or spec.mode & 0o077 == 0:
        write_private(path, text)
        if spec.mode not in (0o600,):
            os.chmod(path, spec.mode)
        if spec.owner is not None:
            _give(path, spec.owner)
        return path
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return path
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, spec.mode)
    tmp.replace(path)
    return path


def _give(path: Path, owner: str) -> None:
    """Hand a private file and its own folder to the user that reads it (the target runs as root)."""
    import pwd

    try:
        entry = pwd.getpwnam(owner)
    except KeyError:
        raise RenderError(f"{path} is for the user {owner!r}, which does not exist") from None
    for item in (path.parent, path):
        os.chown(item, entry.pw_uid, entry.pw_gid)


def masked_settings(component: Component, masked: Callable[[str], str]) -> Settings:
    """The component's Airflow settings with every secret shown masked: the secret settings, and every
    option Airflow counts as sensitive given in ``airflow.extra_config``."""
    return with_secrets(mask_sensitive(component.settings), component.secret_settings,
                        lambda ref: ref.apply(masked(ref.name)))
