"""A release's platform seen from inside one of its containers: what ``airdeck --target kubernetes``
runs there (``rbac sync``, ``dags status``, ``alerts test``) gets the same configuration and
secrets as ``airdeck run`` (the mounted airdeck.yaml and ``--secrets-dir``), with the one-off
commands' Airflow configuration rendered into the container's state folder."""

from __future__ import annotations

from pathlib import Path

from airdeck import concerns
from airdeck.config.model import AirdeckConfig
from airdeck.plan.endpoints import Target
from airdeck.run.entrypoint import ContainerRuntime, RunError, prepare, resolver_for
from airdeck.state.home import AirdeckHome


class InPodPlatform(ContainerRuntime):
    """The :class:`~airdeck.plan.concern.Runtime` of a command run inside a release's container, with what
    the local :class:`~airdeck.stack.orchestrator.Stack` also offers commands (``cli_env``, ``public_url``)."""

    @classmethod
    def of(cls, cfg: AirdeckConfig, home: AirdeckHome, release: str | None, secrets_dir: Path) -> InPodPlatform:
        if not release:
            raise RunError("--target in-pod needs --release (the chart's release prefix)")
        if not secrets_dir.is_dir():
            raise RunError(f"--secrets-dir {secrets_dir} is not a folder")
        target = Target.kubernetes(release)
        deployment = concerns.plan(cfg, home, target)
        resolve = resolver_for(cfg, home, target, secrets_dir)
        _component, env = prepare(cfg, home, "migrate", target="kubernetes", release=release, secrets_dir=secrets_dir)
        return cls(cfg, home, deployment, resolve, env)

    def cli_env(self) -> dict[str, str]:
        return dict(self._env)

    def public_url(self) -> str:
        return self.deployment.component("api-server").url or ""
