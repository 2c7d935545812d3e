"""Load airdeck.yaml into :class:`AirdeckConfig`, turning every failure into a :class:`ConfigError`."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from airdeck.config.errors import ConfigError, ConfigIssue
from airdeck.config.model import AirdeckConfig

DEFAULT_FILE = "airdeck.yaml"
MAX_FILE_BYTES = 1024 * 1024
#: Deepest nesting of mappings and lists accepted; airdeck.yaml itself needs fewer than ten levels.
MAX_DEPTH = 64


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that rejects a key given twice in one mapping, and nesting deeper than
    :data:`MAX_DEPTH` (PyYAML's parser is recursive: a file nested a thousand levels deep would
    otherwise end in RecursionError)."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        depth = getattr(self, "_airdeck_depth", 0)
        if depth >= MAX_DEPTH:
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep", mark)
        self._airdeck_depth = depth + 1
        try:
            return super().compose_node(parent, index)  # type: ignore[no-untyped-call,no-any-return]
        finally:
            self._airdeck_depth = depth


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                "found a key that is a mapping or a list; keys are plain names", key_node.start_mark) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                f"found duplicate key {key!r} (first given on line {seen[key].start_mark.line + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The file to read: the explicit one, else $AIRDECK_CONFIG, else ./airdeck.yaml if present."""
    if explicit is not None:
        return Path(explicit)
    env = os.environ.get("AIRDECK_CONFIG")
    if env:
        return Path(env)
    default = Path(DEFAULT_FILE)
    return default if default.exists() else None


def load_config(path: str | os.PathLike[str] | None = None) -> AirdeckConfig:
    """Read and validate the configuration; with no file, the embedded defaults."""
    resolved = config_path(path)
    if resolved is None:
        return AirdeckConfig()
    source = str(resolved)
    data = _read_yaml(resolved, source)
    cfg = parse_config(data, source)
    cfg._source = resolved.absolute()
    return cfg


def _read_yaml(path: Path, source: str) -> Any:
    if not path.exists():
        raise ConfigError(source, [ConfigIssue("", "file not found",
                                               "create it, or omit --config to use the embedded defaults")])
    if path.is_dir():
        raise ConfigError(source, [ConfigIssue("", "is a directory, not a YAML file")])
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(source, [ConfigIssue("", f"cannot be read: {exc.strerror}")]) from None
    return read_yaml_bytes(raw, source)


def read_yaml_bytes(raw: bytes, source: str = "<config>") -> Any:
    """The YAML document in ``raw`` (the bytes of an airdeck.yaml); any problem is a :class:`ConfigError`."""
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(source, [ConfigIssue("", f"is {len(raw)} bytes; the limit is {MAX_FILE_BYTES}")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(source, [ConfigIssue("", f"is not UTF-8 text (byte {exc.start})")]) from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        hint = "" if isinstance(exc, yaml.constructor.ConstructorError | yaml.composer.ComposerError) \
            else "fix the syntax; YAML indents with spaces, not tabs"
        raise ConfigError(source, [ConfigIssue("", f"malformed YAML: {where}{problem}", hint)]) from None


def parse_config(data: Any, source: str = "<config>") -> AirdeckConfig:
    """Validate already-parsed YAML data."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ConfigError(source, [ConfigIssue("", f"the top level must be a mapping of keys, not {kind}")])
    try:
        return AirdeckConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, [_issue(error) for error in exc.errors()]) from None


def _issue(error: Any) -> ConfigIssue:
    loc = [str(part) for part in error["loc"]]
    path = ".".join(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        return ConfigIssue(path, "unknown key", _closest_key_hint(loc))
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    if kind == "missing":
        return ConfigIssue(path, "is required")
    given = error.get("input")
    # URLs are not echoed: one may carry a password (user:password@host) wherever it was written.
    if (kind not in ("model_type",) and isinstance(given, str | int | float | bool) and "url" not in path
            and "://" not in str(given)):
        message = f"{message} (got {given!r})"
    return ConfigIssue(path, message)


def _closest_key_hint(loc: list[str]) -> str:
    model: type[BaseModel] | None = AirdeckConfig
    for part in loc[:-1]:
        if model is None:
            break
        field = model.model_fields.get(part)
        annotation = field.annotation if field else None
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    if model is None:
        return ""
    valid = sorted(model.model_fields)
    close = difflib.get_close_matches(loc[-1], valid, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return "valid keys here: " + ", ".join(valid)
