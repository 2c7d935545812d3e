"""The deployment plan as data: what each component runs, needs and exposes. No I/O, no secret values.

A :class:`Deployment` is built by :func:`airdeck.plan.build.plan` from the configuration and a
:class:`~airdeck.plan.endpoints.Target`; targets (the supervisord stack, the container entrypoint
``airdeck run``) apply it. Secrets appear only as :class:`SecretRef` names; a target resolves them
when it materialises a component's files (0600).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

#: Airflow settings as ``{section: {key: value}}``.
Settings = dict[str, dict[str, str]]

ProbeKind = Literal["api-health", "heartbeat", "scheduler", "http", "postgres", "valkey", "celery-ping", "tcp"]


@dataclass(frozen=True)
class SecretRef:
    """A secret by name (``fernet_key``, ``database_url``, …), optionally inside a template.

    ``template`` holds ``{}`` where the value goes (``db+{}`` for Celery's result backend)."""

    name: str
    template: str = "{}"

    def apply(self, value: str) -> str:
        return self.template.replace("{}", value)


@dataclass(frozen=True)
class SecretSetting:
    """An Airflow setting whose value is (or holds) a secret: written only into 0600 files."""

    section: str
    key: str
    secret: SecretRef


@dataclass(frozen=True)
class Probe:
    """How a target judges a component healthy. ``url`` is the address to ask (from the endpoints),
    ``detail`` the component-specific part (heartbeat component, Celery node, health port)."""

    kind: ProbeKind
    url: str = ""
    detail: str = ""
    secret: SecretRef | None = None  # e.g. the broker URL a Celery ping goes through
    ca_file: str | None = None  # CA that verifies an https url (tls.enabled)


@dataclass(frozen=True)
class FileSpec:
    """A file a component needs, with its content.

    ``secrets`` names the secrets substituted for ``@@secret:NAME@@`` placeholders in ``content``
    (``quote="json"`` escapes each value as a JSON string body, ``"ini"`` doubles ``%`` as
    configparser wants, ``"valkey"`` escapes it for a double-quoted argument of valkey.conf); a file with
    secrets is written 0600."""

    path: str
    content: str
    secrets: tuple[SecretRef, ...] = ()
    quote: Literal["raw", "json", "ini", "valkey"] = "raw"
    mode: int = 0o644
    owner: str | None = None  # the user that reads it, when not the one airdeck runs as (file and folder chown-ed)


def placeholder(name: str) -> str:
    """The marker a secret's value replaces in a :class:`FileSpec`'s content."""
    return f"@@secret:{name}@@"


@dataclass(frozen=True)
class Component:
    """One process of the platform."""

    name: str  # "api-server", "worker-1", "postgres", …
    kind: str  # "api-server", "worker", "database", "metrics", …
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)  # non-secret environment
    depends_on: tuple[str, ...] = ()  # components that must be healthy first
    airflow: bool = False  # an Airflow process: gets an airflow.cfg from settings + secret_settings
    settings: Settings = field(default_factory=dict)  # non-secret Airflow settings
    secret_settings: tuple[SecretSetting, ...] = ()
    files: tuple[FileSpec, ...] = ()
    ports: tuple[tuple[str, int], ...] = ()  # (key that sets it, TCP port) it listens on
    bind_host: str = "127.0.0.1"  # the address those ports are bound to
    probe: Probe | None = None
    url: str | None = None  # shown by `airdeck status`
    directory: str | None = None  # working directory
    user: str | None = None  # run as this user (the embedded PostgreSQL under root)
    stop_signal: str = "TERM"
    start_secs: int = 5  # seconds it must stay up to count as started (supervisord's startsecs)

    def secret_names(self) -> list[str]:
        names = [s.secret.name for s in self.secret_settings]
        names += [ref.name for spec in self.files for ref in spec.secrets]
        if self.probe is not None and self.probe.secret is not None:
            names.append(self.probe.secret.name)
        return sorted(set(names))


@dataclass(frozen=True)
class Deployment:
    """Every component of the platform for one target, in dependency order.

    ``cli`` is the Airflow configuration of one-off commands (``airflow db migrate``, ``airdeck airflow``):
    never started, but materialised like the others."""

    target: str
    components: tuple[Component, ...]
    files: tuple[FileSpec, ...] = ()  # shared files (every component may read them)
    cli: Component | None = None
    #: The folder of the workers' own copy of the interpreter (built by ``stack.runtime``), when they run
    #: as their own user and cannot reach the one airdeck runs with; else None.
    worker_runtime: str | None = None

    def component(self, name: str) -> Component:
        for comp in self.components:
            if comp.name == name:
                return comp
        raise KeyError(name)

    def names(self) -> list[str]:
        return [c.name for c in self.components]

    def waves(self) -> list[list[Component]]:
        """Components grouped so that each group depends only on earlier groups (start order)."""
        placed: dict[str, int] = {}
        pending = list(self.components)
        known = {c.name for c in self.components}
        while pending:
            progressed = False
            for comp in list(pending):
                deps = [d for d in comp.depends_on if d in known]
                if all(d in placed for d in deps):
                    placed[comp.name] = 1 + max((placed[d] for d in deps), default=-1)
                    pending.remove(comp)
                    progressed = True
            if not progressed:
                raise ValueError("dependency cycle among " + ", ".join(c.name for c in pending))
        waves: list[list[Component]] = [[] for _ in range(max(placed.values(), default=-1) + 1)]
        for comp in self.components:
            waves[placed[comp.name]].append(comp)
        return waves
