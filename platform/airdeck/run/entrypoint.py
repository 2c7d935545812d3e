"""``airdeck run COMPONENT``: one component of the plan, rendered from mounted files, then exec'd.

This is the entrypoint of every Airflow and airdeck container of the Helm chart, and works the same
on one machine (``--target local``). It builds the same plan as ``airdeck up``, keeps the one
component, writes the files it needs (its ``airflow.cfg``, ``webserver_config.py``, the cluster
policies, …) with the secrets read from ``--secrets-dir`` (one file per secret, named as the secret:
``fernet_key``, ``jwt_secret``, ``api_secret_key``, ``database_url``, ``broker_url``, …), then replaces
itself with the component's process: signals reach Airflow directly and its exit code is the
container's.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path

from airdeck import concerns
from airdeck.config.model import AirdeckConfig
from airdeck.errors import AirdeckError
from airdeck.plan.concern import SecretSource
from airdeck.plan.endpoints import Target
from airdeck.plan.model import Component, Deployment, FileSpec
from airdeck.plan.render import materialise
from airdeck.plan.secrets import MissingSecretError, SecretResolver
from airdeck.state.home import AirdeckHome

TARGETS = ("local", "kubernetes")


class RunError(AirdeckError):
    exit_code = 2


def read_mounted(folder: Path, name: str) -> str:
    """A mounted secret file; KeyError when absent. Refused when anyone may read it (o+r)."""
    path = folder / name
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        raise KeyError(name) from None
    if mode & 0o007:
        raise RunError(f"{path} has mode {mode:04o}; a secret file must not be readable by others "
                       "(mount it with defaultMode 0400 or 0440)")
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise RunError(f"{path} is empty; the secret {name!r} must hold a value")
    return value


def _external_only(sources: Mapping[str, SecretSource]) -> dict[str, SecretSource]:
    """On Kubernetes there is no embedded server: the URLs come from airdeck.yaml or a mounted file."""
    out = dict(sources)
    for name, key in (("database_url", "database"), ("broker_url", "broker")):
        derive = sources[name]

        def external(cfg: AirdeckConfig, home: AirdeckHome, lookup: Callable[[str], str],
                     derive: SecretSource = derive, name: str = name, key: str = key) -> str:
            if getattr(cfg, key).url is None:
                raise MissingSecretError(f"{name}: set {key}.url in airdeck.yaml or mount the secret file "
                                         f"{name} (there is no embedded {key} on Kubernetes)")
            return derive(cfg, home, lookup)

        out[name] = external
    return out


def resolver_for(cfg: AirdeckConfig, home: AirdeckHome, target: Target, secrets_dir: Path | None) -> SecretResolver:
    store = concerns.local_store(cfg, home)
    if secrets_dir is None:
        return concerns.resolver(cfg, home, store, generate=target.kind == "local")
    folder = secrets_dir

    def base(name: str) -> str:
        try:
            return read_mounted(folder, name)
        except KeyError:
            if type(store).__name__ == "VaultSecretStore" and name in ("fernet_key", "jwt_secret", "api_secret_key"):
                return store.get(name)  # secrets.vault.platform_secrets: read from Vault
            raise

    sources = concerns.secret_sources()
    if target.kind == "kubernetes":
        sources = _external_only(sources)
    return SecretResolver(cfg, home, base, sources, where=str(folder), generates=False)


def select(deployment: Deployment, name: str) -> Component:
    try:
        return deployment.component(name)
    except KeyError:
        raise RunError(f"unknown component {name!r} for this target; components: "
                       f"{', '.join(deployment.names())}") from None


def prepare(cfg: AirdeckConfig, home: AirdeckHome, name: str, *, target: str = "local", release: str | None = None,
            secrets_dir: Path | None = None) -> tuple[Component, dict[str, str]]:
    """Render everything component ``name`` needs; returns it and the environment to exec it with."""
    if target not in TARGETS:
        raise RunError(f"--target must be one of {', '.join(TARGETS)}, not {target!r}")
    where = Target.kubernetes(release or "airdeck") if target == "kubernetes" else Target.local()
    deployment = concerns.plan(cfg, home, where)
    component = select(deployment, name)
    if secrets_dir is not None and not secrets_dir.is_dir():
        raise RunError(f"--secrets-dir {secrets_dir} is not a folder")
    resolve = resolver_for(cfg, home, where, secrets_dir)
    specs: list[FileSpec] = [*deployment.files, *component.files]
    if deployment.cli is not None and component.env.get("AIRFLOW_CONFIG") != str(home.service_config(name)):
        specs += deployment.cli.files  # components that use the one-off commands' configuration
    for directory in (home.logs, home.task_logs):
        directory.mkdir(parents=True, exist_ok=True)
    for spec in specs:
        materialise(spec, resolve)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env.update(component.env)
    return component, env


def run_component(cfg: AirdeckConfig, home: AirdeckHome, name: str, *, target: str = "local",
                  release: str | None = None, secrets_dir: Path | None = None) -> int:
    """Render component ``name`` and replace this process with it (returns only if exec fails)."""
    component, env = prepare(cfg, home, name, target=target, release=release, secrets_dir=secrets_dir)
    if component.directory:
        os.chdir(component.directory)
    try:
        os.execvpe(component.argv[0], list(component.argv), env)
    except OSError as exc:
        raise RunError(f"cannot start {name}: {component.argv[0]}: {exc.strerror or exc}") from None
    return 1  # not reached: exec replaced this process
