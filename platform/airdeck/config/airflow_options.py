"""The Airflow options whose values are secrets, and which of them airdeck itself sets.

The list is Airflow's own, read from the installed Airflow (never copied): every option its config
template (``airflow/config_templates/config.yml``) and each installed provider's configuration (its
``get_provider_info``) mark ``sensitive: true``, their deprecated names (Airflow's ``deprecated_options``),
and every option whose name Airflow's secrets masker would hide for a Variable or a connection extra
(``DEFAULT_SENSITIVE_FIELDS``: ``password``, ``secret``, ``dsn``, ``token``, …). To this airdeck adds the
options of providers it does not install whose values are credentials (:data:`EXTRA_SENSITIVE`).
Airflow's files are parsed, not imported: importing Airflow creates folders and costs seconds.

``config render`` masks these, ``run/applied.json`` keeps only keyed digests of them, ``up --dry-run``
names them without their values; ``airflow.extra_config`` refuses the ones airdeck manages, naming the
airdeck.yaml key to use instead.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import hmac
import importlib.metadata
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

MASK = "***"


@dataclass(frozen=True)
class SecretOption:
    """An Airflow option holding a secret that airdeck sets itself; ``managed_by`` says through what."""

    section: str
    key: str
    managed_by: str


MANAGED_OPTION_LIST = (
    SecretOption("core", "fernet_key", "airdeck (a generated key; rotate with `airdeck fernet rotate`)"),
    SecretOption("api_auth", "jwt_secret", "airdeck (a generated secret)"),
    SecretOption("api", "secret_key", "airdeck (a generated secret)"),
    SecretOption("database", "sql_alchemy_conn", "database.url"),
    SecretOption("celery", "broker_url", "broker.url"),
    SecretOption("celery", "result_backend", "database.url"),
)

#: (section, key) → what sets it, for the secret options airdeck sets itself.
MANAGED_OPTIONS = {(o.section, o.key): o.managed_by for o in MANAGED_OPTION_LIST}

#: Credentials in options of providers airdeck does not install (so their provider info is not here to
#: read), and the backend kwargs Airflow masks by hand (``AirflowConfigParser.mask_secrets``).
EXTRA_SENSITIVE = frozenset({
    ("openlineage", "transport"),
    ("openlineage", "config_path"),
    ("secrets", "backend_kwargs"),
    ("workers", "secrets_backend_kwargs"),
})


def _package_file(relative: str) -> Path | None:
    """A file of the installed ``airflow`` package, found without importing it."""
    for dist in ("apache-airflow-core", "apache-airflow"):
        try:
            path = Path(str(importlib.metadata.distribution(dist).locate_file(relative)))
        except importlib.metadata.PackageNotFoundError:
            continue
        if path.is_file():
            return path
    return None


def _literal(path: Path | None, name: str) -> Any:
    """The literal value assigned to ``name`` (module or class level) in a Python file, or None."""
    if path is None:
        return None
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        target = node.target if isinstance(node, ast.AnnAssign) else (
            node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None)
        value = getattr(node, "value", None)
        if isinstance(target, ast.Name) and target.id == name and value is not None:
            if isinstance(value, ast.Call) and value.args:  # frozenset({...}), set([...])
                value = value.args[0]
            return ast.literal_eval(value)
    return None


def _returned_dict(path: Path) -> dict[str, Any]:
    """What a generated ``get_provider_info()`` returns (a dict literal)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef) and node.name == "get_provider_info":
            for inner in ast.walk(node):
                if isinstance(inner, ast.Return) and inner.value is not None:
                    value = ast.literal_eval(inner.value)
                    return value if isinstance(value, dict) else {}
    return {}


def _marked(description: Mapping[str, Any]) -> set[tuple[str, str]]:
    """The options a config description (config.yml, a provider's ``config``) marks sensitive."""
    out = set()
    for section, body in description.items():
        options = body.get("options") if isinstance(body, dict) else None
        for key, item in (options or {}).items():
            if isinstance(item, dict) and item.get("sensitive") is True:
                out.add((str(section).lower(), str(key).lower()))
    return out


def _provider_descriptions() -> Iterable[Mapping[str, Any]]:
    for entry in importlib.metadata.entry_points(group="apache_airflow_provider"):
        if entry.dist is None:
            continue
        path = Path(str(entry.dist.locate_file(entry.module.replace(".", "/") + ".py")))
        if path.is_file():
            yield _returned_dict(path).get("config") or {}


@functools.cache
def airflow_sensitive_options() -> frozenset[tuple[str, str]]:
    """Every (section, key) the installed Airflow and its providers mark sensitive, with deprecated names."""
    marked: set[tuple[str, str]] = set()
    template = _package_file("airflow/config_templates/config.yml")
    if template is not None:
        marked |= _marked(yaml.safe_load(template.read_text(encoding="utf-8")) or {})
    for description in _provider_descriptions():
        marked |= _marked(description)
    deprecated = _literal(_package_file("airflow/_shared/configuration/parser.py"), "deprecated_options") or {}
    for new, old in deprecated.items():
        if (new[0].lower(), new[1].lower()) in marked:
            marked.add((old[0].lower(), old[1].lower()))
    return frozenset(marked)


@functools.cache
def sensitive_names() -> frozenset[str]:
    """The name fragments Airflow's secrets masker hides (``DEFAULT_SENSITIVE_FIELDS``)."""
    path = _package_file("airflow/_shared/secrets_masker/secrets_masker.py")
    names = _literal(path, "DEFAULT_SENSITIVE_FIELDS")
    # Without Airflow's list (an Airflow that moved it), the words every version of it has held.
    return frozenset(names) if names else frozenset({"password", "passwd", "secret", "token", "private_key", "dsn"})


def is_sensitive(section: str, key: str) -> bool:
    """Whether the value of ``[section] key`` is a secret (Airflow's marks, its masker's names, airdeck's)."""
    pair = (section.strip().lower(), key.strip().lower())
    if pair in airflow_sensitive_options() or pair in EXTRA_SENSITIVE or pair in MANAGED_OPTIONS:
        return True
    normalised = re.sub(r"\W+", "_", pair[1])
    return any(name in normalised for name in sensitive_names())


def masked(settings: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """A copy of ``settings`` with the value of every sensitive option replaced by ``***``."""
    return {section: {key: (MASK if is_sensitive(section, key) else value) for key, value in options.items()}
            for section, options in settings.items()}


def digested(settings: Mapping[str, Mapping[str, str]], key: bytes) -> dict[str, dict[str, str]]:
    """A copy of ``settings`` with each sensitive value replaced by ``***`` and a keyed digest of it, so a
    change of the secret can be told without the secret being kept."""
    def shown(section: str, name: str, value: str) -> str:
        if not is_sensitive(section, name):
            return value
        return f"{MASK}{hmac.new(key, value.encode('utf-8'), hashlib.sha256).hexdigest()[:16]}"

    return {section: {name: shown(section, name, value) for name, value in options.items()}
            for section, options in settings.items()}
