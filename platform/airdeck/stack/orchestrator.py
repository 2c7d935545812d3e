"""The local target: applies the deployment plan under supervisord (``airdeck up``, ``down``, ``status``).

Components start in dependency order (each wave once the one before is healthy); the metadata
database is migrated and the admin account ensured before the first Airflow component. The Stack
is also the :class:`~airdeck.plan.concern.Runtime` concerns use at run time (preflight checks,
Fernet rotation).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.markup import escape

from airdeck import concerns
from airdeck.config.base import format_duration
from airdeck.config.errors import ConfigError, ConfigIssue
from airdeck.config.model import AirdeckConfig
from airdeck.metrics import grafana
from airdeck.plan.build import airflow_bin
from airdeck.plan.model import Component, Deployment
from airdeck.plan.render import materialise
from airdeck.plan.secrets import SecretResolver, mask_url
from airdeck.stack import applied, health, postgres, schema, sessions, valkey, warm, workers
from airdeck.stack.applied import Change, Fingerprint
from airdeck.stack.errors import ServiceUnhealthyError, StackError
from airdeck.stack.ports import check_ports_free
from airdeck.stack.supervisor import Program, Supervisor, render_config
from airdeck.state import record
from airdeck.state.childenv import airflow_env
from airdeck.state.home import AirdeckHome
from airdeck.terminal import inert

LOG_TAIL_LINES = 25
#: supervisord states of a component that is (trying to be) up.
UP_STATES = ("RUNNING", "STARTING", "BACKOFF")
#: supervisord's own event listener: not a component of the plan.
EVENT_LISTENER = "airdeck-events"
#: Marker put in the environment of every supervised process, to find orphans of a crashed run.
STACK_MARKER = "AIRDECK_STACK"


@dataclass
class ServiceStatus:
    name: str
    kind: str
    state: str
    healthy: bool
    health: str
    pid: int | None
    url: str | None
    restarts: int

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "state": self.state,
                "health": "healthy" if self.healthy else "unhealthy", "detail": self.health,
                "pid": self.pid, "url": self.url, "restarts": self.restarts}


def tail(path: os.PathLike[str] | str, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            data = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return "(no log yet)"
    return "\n".join(data.splitlines()[-lines:])


def _options_path(home: AirdeckHome) -> str:
    return str(home.run / "up-options.json")


def read_options(home: AirdeckHome) -> dict[str, Any]:
    """The options the running platform was started with (``up --with-prometheus``); {} if none."""
    try:
        with open(_options_path(home), encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def effective_config(cfg: AirdeckConfig, options: dict[str, Any]) -> AirdeckConfig:
    """``cfg`` with the ``up`` options applied (a copy: the loaded configuration is never changed)."""
    obs = cfg.observability
    prometheus = options.get("with_prometheus") and not obs.prometheus.enabled
    grafana = options.get("with_grafana") and not obs.grafana.enabled
    if not prometheus and not grafana:
        return cfg
    copy = cfg.model_copy(deep=True)
    copy.observability.prometheus.enabled = True  # Grafana's datasource
    if grafana:
        copy.observability.grafana.enabled = True
    # The model checked its ports with these off; `up --with-prometheus/--with-grafana` adds them.
    problem = copy.port_collision()
    if problem:
        flag, key = (("--with-grafana", "observability.grafana.port") if grafana and "grafana" in problem
                     else ("--with-prometheus", "observability.prometheus.port"))
        raise ConfigError(f"airdeck up {flag}", [ConfigIssue(key, problem)])
    return copy


class Stack:
    """The platform on this machine, in one $AIRDECK_HOME."""

    def __init__(self, cfg: AirdeckConfig, home: AirdeckHome, console: Console | None = None):
        self.home = home
        self.console = console or Console(stderr=True)
        self.supervisor = Supervisor(home)
        self._given = cfg
        # The platform as it runs: with the options of the last `up` (e.g. --with-prometheus).
        self._apply(read_options(home))

    def _apply(self, options: dict[str, Any]) -> None:
        self.cfg = effective_config(self._given, options)
        # Fernet key, jwt_secret and secret_key come from Vault when secrets.vault.platform_secrets is on.
        self.secrets = concerns.local_store(self.cfg, self.home)
        self._deployment: Deployment | None = None
        self._resolver: SecretResolver | None = None

    # ------------------------------------------------------------------ the plan
    @property
    def deployment(self) -> Deployment:
        if self._deployment is None:
            self._deployment = concerns.plan(self.cfg, self.home)
        return self._deployment

    @property
    def _stop_timeout(self) -> int:
        """Seconds a component gets to stop gracefully before SIGKILL (supervisord's stopwaitsecs)."""
        return int(self.cfg.supervision.stop_timeout.total_seconds())

    def component_names(self) -> list[str]:
        return self.deployment.names()

    def airflow_components(self) -> list[str]:
        return [c.name for c in self.deployment.components if c.airflow]

    def public_url(self) -> str:
        return self.deployment.component("api-server").url or ""

    def grafana_url(self) -> str:
        """The local Grafana's URL (observability.grafana)."""
        return f"http://127.0.0.1:{self.cfg.observability.grafana.port}"

    # ------------------------------------------------------------------ Runtime
    def secret(self, name: str) -> str:
        """A secret's value; read-only commands (status) never generate one."""
        if self._resolver is None:
            self._resolver = concerns.resolver(self.cfg, self.home, self.secrets, generate=False)
        return self._resolver(name)

    def forget_secrets(self) -> None:
        self._resolver = None
        forget = getattr(self.secrets, "forget", None)
        if forget is not None:
            forget()

    def say(self, message: str) -> None:
        self.console.print(f"[green]✓[/] {escape(inert(message))}")

    def warn(self, message: str) -> None:
        self.console.print(f"[yellow]![/] {escape(inert(message))}")

    def airflow_cli(self, *args: str, extra_env: Mapping[str, str] | None = None) -> tuple[int, str]:
        result = subprocess.run([airflow_bin(), *args], env={**self.cli_env(), **(extra_env or {})},
                                capture_output=True, text=True, check=False)
        return result.returncode, result.stdout + result.stderr

    def restart(self, components: list[str]) -> None:
        """Render afresh, stop the named running components, start them again in order, health-gated."""
        self.forget_secrets()
        self.render()
        if not self.supervisor.is_running():
            return
        wanted = set(components)
        infos = self.supervisor.all_info()
        running = {n for n in wanted if infos.get(n, {}).get("statename") in ("RUNNING", "STARTING", "BACKOFF")}
        waves = [[c for c in wave if c.name in running] for wave in self.deployment.waves()]
        for wave in reversed(waves):
            self._stop_all([c.name for c in wave], quiet=True)
        self.say(f"restarting {len(running)} components: {', '.join(sorted(running))}")
        for wave in waves:
            self._start_wave(wave)
        self._record(running)

    # ------------------------------------------------------------------ rendering
    def programs(self) -> list[Program]:
        marker = {STACK_MARKER: str(self.home.root)}
        out = []
        for index, wave in enumerate(self.deployment.waves()):
            for comp in wave:
                out.append(Program(comp.name, list(comp.argv), {**comp.env, **marker},
                                   directory=Path(comp.directory) if comp.directory else None,
                                   user=comp.user, stop_signal=comp.stop_signal, start_secs=comp.start_secs,
                                   priority=100 * (index + 1)))
        return out

    def render(self) -> None:
        """Write every file of the plan (secrets resolved, 0600 where they hold one) and supervisord.conf."""
        self.home.ensure()
        workers.prepare(self.deployment, self.home, self.warn, self.cfg.workers.run_as_root_reason)
        resolve = concerns.resolver(self.cfg, self.home, self.secrets, generate=True)
        deployment = self.deployment
        specs = [*deployment.files, *(deployment.cli.files if deployment.cli else ())]
        specs += [spec for comp in deployment.components for spec in comp.files]
        for spec in specs:
            materialise(spec, resolve)
        self.home.supervisor_conf.write_text(
            render_config(self.home, self.programs(), stop_timeout=self._stop_timeout,
                          start_retries=self.cfg.supervision.start_retries), encoding="utf-8")
        self.home.supervisor_conf.chmod(0o600)  # what runs as whom: for the stack's own user only

    def supervisor_env(self) -> dict[str, str]:
        # The allow-list of every child (airdeck.state.childenv) with Airflow's environment tier of
        # connections (e.g. logging.connection): every component resolves them as one-off commands do.
        # Inherited through supervisord's environment, never written to a file.
        return airflow_env({STACK_MARKER: str(self.home.root)})

    def cli_env(self) -> dict[str, str]:
        """The environment of a one-off Airflow command: the services' allow-list, the CLI component's own."""
        return airflow_env(self.deployment.cli.env if self.deployment.cli is not None else None)

    # ------------------------------------------------------------------ up
    def up(self, with_prometheus: bool = False, with_grafana: bool = False) -> list[ServiceStatus]:
        """Start the platform; on a running one, apply the configuration (see :meth:`apply`)."""
        options = {"with_prometheus": with_prometheus, "with_grafana": with_grafana}
        self._apply(options)
        statuses = self._up(options)
        self._announce_grafana()
        return statuses

    def _announce_grafana(self) -> None:
        """Grafana's generated admin password, shown once: when Grafana has just created its account."""
        if not self.cfg.observability.grafana.enabled:
            return
        marker = grafana.grafana_data(self.home) / "airdeck-admin-shown"
        if marker.exists() or not (grafana.grafana_data(self.home) / "grafana.db").exists():
            return
        marker.touch()
        password = self.secrets.get(grafana.PASSWORD_SECRET)
        self.console.print(
            f"[green]✓[/] Grafana: {self.grafana_url()}  (user {grafana.ADMIN_USER}; "
            f"dashboards in folder {grafana.FOLDER})\n"
            f"  its generated password, shown this once: [bold]{escape(password)}[/]\n"
            "  (retrieve it later with: airdeck credentials)")

    def _up(self, options: dict[str, Any]) -> list[ServiceStatus]:
        self.home.ensure()
        for check in concerns.preflight("before_start"):  # Vault, certificates, webserver_config.py, mapping
            check(self)
        self.secrets.ensure_all()
        running = self.supervisor.is_running()
        if running:
            recorded = record.read(self.home)
            installed = record.installed_airflow()
            if recorded is not None and recorded.get("airflow_version") != installed:
                raise StackError(
                    f"the running platform was migrated by Airflow {recorded.get('airflow_version')} and this airdeck "
                    f"runs Airflow {installed}; restarting its services on this version needs `airdeck upgrade` "
                    "(backup, DAG check, one migration, ordered restart). Nothing was changed.")
            self.check_external()
            self.apply(self.changes(), options)
            return self.status()
        self.cleanup_stale()
        self.check_ports()
        self.check_external()
        self.render()
        self._write_options(options)
        self._prepare_servers()
        self._rotate_events()
        applied.forget(self.home)
        self.supervisor.start_daemon(self.supervisor_env())
        daemon = self.supervisor.pid()
        if daemon is not None:
            sessions.record(self.home.run, daemon, "supervisord")  # every component starts in its session
        try:
            prepared = False
            for wave in self.deployment.waves():
                if not prepared and any(c.airflow for c in wave):
                    self._prepare_airflow()
                    prepared = True
                self._start_wave(wave)
        except BaseException:
            self.console.print("[red]start-up failed; stopping what was started[/]")
            self.down(quiet=True)
            raise
        self._record(self.component_names())
        return self.status()

    def _write_options(self, options: dict[str, Any]) -> None:
        with open(_options_path(self.home), "w", encoding="utf-8") as handle:
            json.dump(options, handle)

    def _prepare_servers(self) -> None:
        if self.cfg.database.url is None:
            created = postgres.prepare(self.home.postgres_data, self.home.postgres_socket_dir,
                                       self.secrets.get("database_password"), within=self.home.root)
            if created:
                self.console.print("[green]✓[/] initialised the embedded PostgreSQL cluster")

    # ------------------------------------------------------------------ changes to a running platform
    def _fingerprints(self, generate: bool) -> dict[str, Fingerprint]:
        resolve = concerns.resolver(self.cfg, self.home, self.secrets, generate=generate)
        return applied.fingerprints(self.deployment, self.home, resolve)

    def _record(self, names: Iterable[str]) -> None:
        """Remember the plan ``names`` now run with (the others keep their recorded one)."""
        new = self._fingerprints(generate=False)
        record = applied.read(self.home) or {}
        record = {name: fp for name, fp in record.items() if name in new}
        for name in names:
            if name in new:
                record[name] = new[name]
        applied.write(self.home, record)

    def changes(self, restart: Iterable[str] = ()) -> list[Change]:
        """What ``up`` (or ``restart`` of the named components) would do to the platform as it runs.

        Writes nothing and generates no secret."""
        if not self.supervisor.is_running():
            return [Change(c.name, "start", ["the platform is not running"]) for c in self.deployment.components]
        infos = {n: i for n, i in self.supervisor.all_info().items() if n != EVENT_LISTENER}
        explicit = set(restart)
        old = applied.read(self.home)
        new = self._fingerprints(generate=False) if old is not None and not explicit else {}
        out = []
        for comp in self.deployment.components:
            state = infos.get(comp.name, {}).get("statename")
            if state not in UP_STATES:
                if explicit and comp.name not in explicit:
                    out.append(Change(comp.name, "keep", [f"not running ({(state or 'not started').lower()})"]))
                else:
                    out.append(Change(comp.name, "start", [f"not running ({(state or 'not started').lower()})"]))
            elif explicit:
                out.append(Change(comp.name, "restart" if comp.name in explicit else "keep",
                                  ["asked for"] if comp.name in explicit else []))
            elif old is None or comp.name not in old:
                out.append(Change(comp.name, "keep", [
                    f"no record of the configuration it was started with; `airdeck restart {comp.name}` applies "
                    "the current one"]))
            else:
                why = applied.differences(old[comp.name], new[comp.name])
                out.append(Change(comp.name, "restart" if why else "keep", why))
        for name, info in infos.items():
            if name not in self.deployment.names() and info.get("statename") in UP_STATES:
                out.append(Change(name, "stop", ["no longer in the configuration"]))
        return out

    def planned_changes(self, with_prometheus: bool = False, with_grafana: bool = False) -> list[Change]:
        """What ``airdeck up`` with these options would do now (``up --dry-run``); writes nothing."""
        self._apply({"with_prometheus": with_prometheus, "with_grafana": with_grafana})
        return self.changes()

    def apply(self, changes: list[Change], options: dict[str, Any] | None = None, reconcile: bool = True) -> None:
        """Apply ``changes`` to the running platform, wave by wave, each component health-gated.

        Only the components named ``restart``, ``start`` or ``stop`` are touched (``reconcile=False``:
        components that left the configuration keep running, as ``airdeck restart SERVICE`` wants).
        A restarted component that does not become healthy is put back on its previous files and
        command and started again;
        one this call started is stopped again; components that depend on a failed one are left as
        they are. Raises :class:`StackError` naming what failed once everything else is done."""
        actions = {c.name: c for c in changes}
        todo = [c for c in changes if c.action != "keep"]
        if not todo:
            self.render()  # files match the configuration (e.g. a comment-only change); nothing restarts
            if options is not None:
                self._write_options(options)
            self.say("the running platform already matches the configuration; nothing to restart")
            return
        for change in todo:
            self.console.print(f"  {change.action} {escape(change.name)}: {escape('; '.join(change.why))}")
        restarting = {c.name for c in todo if c.action == "restart"}
        backup = self._backup(restarting)
        backup["record"] = applied.read(self.home) or {}
        self.render()
        if options is not None:
            self._write_options(options)
        self._prepare_servers()
        added, changed, removed = self.supervisor.rpc.reloadConfig()[0]
        for name in removed if reconcile else ():  # no longer in the configuration
            if name != EVENT_LISTENER:
                self.supervisor.stop(name)
                self.supervisor.rpc.removeProcessGroup(name)
                self.say(f"stopped {name} (no longer in the configuration)")
        for name in added if reconcile else ():
            self.supervisor.rpc.addProcessGroup(name)
        swap = set(changed)
        failed: dict[str, str] = {}
        outcome: list[str] = []
        prepared = False
        for wave in self.deployment.waves():
            names = [c.name for c in wave if actions.get(c.name) and actions[c.name].action in ("restart", "start")]
            blocked = [n for n in names if set(self._requires(n)) & set(failed)]
            for name in blocked:
                outcome.append(f"{name} was not {actions[name].action}ed: it depends on "
                               f"{', '.join(sorted(set(self._requires(name)) & set(failed)))}")
                failed[name] = "blocked"
            names = [n for n in names if n not in blocked]
            if not names:
                continue
            comps = [c for c in wave if c.name in names]
            if not prepared and any(c.airflow for c in comps):
                self._prepare_airflow()
                prepared = True
            stopping = [n for n in names if actions[n].action == "restart"]
            self._stop_all(stopping, quiet=True)
            for name in names:
                if name in swap:  # its command or environment changed: supervisord takes the new program
                    self.supervisor.rpc.removeProcessGroup(name)
                    self.supervisor.rpc.addProcessGroup(name)
            failures = self._gate(comps, verb="restarting" if stopping else "starting")
            self._record(n for n in names if n not in failures)
            for name, why in failures.items():
                failed[name] = why
                if actions[name].action == "restart":
                    outcome.append(self._roll_back(name, why, backup))
                else:
                    self._stop_all([name], quiet=True)
                    outcome.append(f"{why}\n{name} was stopped again (this command had started it)")
        if failed:
            raise StackError(
                "the configuration was not fully applied:\n" + "\n".join(outcome)
                + "\nEverything else keeps running. Fix airdeck.yaml and run `airdeck up` again.")

    def _requires(self, name: str) -> list[str]:
        """Every component ``name`` depends on, directly or not."""
        out: list[str] = []
        queue = list(self.deployment.component(name).depends_on)
        while queue:
            dep = queue.pop()
            if dep not in out and dep in self.deployment.names():
                out.append(dep)
                queue += list(self.deployment.component(dep).depends_on)
        return out

    def _backup(self, names: set[str]) -> dict[str, Any]:
        """The files and supervisord program of ``names`` as they are now, to put back after a failure."""
        files: dict[str, dict[str, tuple[bytes, int]]] = {}
        for name in names:
            files[name] = {}
            for spec in self.deployment.component(name).files:
                try:
                    with open(spec.path, "rb") as handle:
                        files[name][spec.path] = (handle.read(), os.stat(spec.path).st_mode & 0o777)
                except OSError:
                    continue
        try:
            conf = self.home.supervisor_conf.read_text(encoding="utf-8")
        except OSError:
            conf = ""
        return {"files": files, "conf": conf}

    def _roll_back(self, name: str, why: str, backup: dict[str, Any]) -> str:
        """Put ``name`` back on the files and program it ran with, and start it again."""
        for path, (data, mode) in backup["files"].get(name, {}).items():
            tmp = f"{path}.airdeck-rollback"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            try:
                os.fchmod(fd, mode)
                os.write(fd, data)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        old_block = program_block(backup["conf"], name)
        if old_block is not None:
            conf = self.home.supervisor_conf.read_text(encoding="utf-8")
            new_block = program_block(conf, name)
            if new_block is not None and new_block != old_block:
                self.home.supervisor_conf.write_text(conf.replace(new_block, old_block), encoding="utf-8")
                self.supervisor.rpc.reloadConfig()
                self.supervisor.stop(name)
                self.supervisor.rpc.removeProcessGroup(name)
                self.supervisor.rpc.addProcessGroup(name)
        self.console.print(f"[yellow]![/] {escape(name)} failed with the new configuration; "
                           "putting it back on its previous one")
        comp = self.deployment.component(name)
        before = backup["record"].get(name)
        probe = before.health_check() if before is not None else None
        if probe is not None or before is not None:
            comp = replace(comp, probe=probe)  # judged by the health check it ran with before
        again = self._gate([comp], verb="rolling back")
        if again:
            return (f"{why}\n{name} was put back on its previous configuration but did not become healthy "
                    f"either: {again[name]}")
        return f"{why}\n{name} was put back on its previous configuration and is healthy again"

    def restart_services(self, names: list[str]) -> None:
        """``airdeck restart [SERVICE…]``: restart these running components (all when none is named),
        with the configuration as it is now, in dependency order, each health-gated."""
        if not self.supervisor.is_running():
            raise StackError(f"the platform in {self.home.root} is not running; start it with `airdeck up`")
        known = self.component_names()
        for check in concerns.preflight("before_start"):
            check(self)
        changes = self.changes(restart=names or known)
        self.apply([c for c in changes if c.action == "restart"], reconcile=False)

    def _prepare_airflow(self) -> None:
        """Once the servers answer: the database exists, the Fernet key fits, the schema is current,
        the admin account exists."""
        if self.cfg.database.url is None:
            postgres.ensure_database(self.cfg.database.embedded.port, self.secrets.get("database_password"))
        for check in concerns.preflight("before_airflow"):  # a Fernet key that cannot decrypt stops here
            check(self)
        self.migrate()
        self.ensure_admin()

    def check_ports(self) -> None:
        for comp in self.deployment.components:
            check_ports_free(list(comp.ports), comp.bind_host)

    def check_external(self) -> None:
        if self.cfg.database.url is not None:
            url = self.secret("database_url")  # the driver named; shown as the user wrote it
            postgres.check_url(url, mask_url(self.cfg.database.url.get_secret_value()))
        if self.cfg.broker.url is not None:
            url = self.secret("broker_url")
            valkey.check_url(url, mask_url(url))

    def check(self, comp: Component) -> health.Health:
        if comp.probe is None:
            return health.Health(True, "no health check")
        return health.check(comp.probe, self.secret)

    def _start_wave(self, wave: list[Component]) -> None:
        failures = self._gate(wave, first_only=True)
        if failures:
            raise ServiceUnhealthyError(next(iter(failures.values())))

    def _gate(self, wave: list[Component], verb: str = "starting", first_only: bool = False) -> dict[str, str]:
        """Start ``wave`` and wait until each is healthy; {name: why} of those that are not."""
        failures: dict[str, str] = {}
        if not wave:
            return failures
        for comp in wave:
            self.supervisor.start(comp.name)
        started = time.monotonic()
        pending = {comp.name: comp for comp in wave}
        deadline = started + self.cfg.supervision.start_timeout.total_seconds()
        with self.console.status(f"{verb} {', '.join(pending)}") as spinner:
            while pending:
                for name, comp in list(pending.items()):
                    info = self.supervisor.info(name) or {}
                    state = info.get("statename", "UNKNOWN")
                    if state == "FATAL":
                        failures[name] = self._unhealthy_message(comp, f"exited repeatedly ({state})")
                        del pending[name]
                        if first_only:
                            return failures
                    elif state == "RUNNING" and self.check(comp).healthy:
                        self.console.print(f"[green]✓[/] {name} healthy "
                                           f"({time.monotonic() - started:.1f}s, pid {info.get('pid')})")
                        del pending[name]
                if not pending:
                    break
                if time.monotonic() > deadline:
                    for name, comp in pending.items():
                        failures[name] = self._unhealthy_message(
                            comp, f"not healthy after {format_duration(self.cfg.supervision.start_timeout)} "
                            f"({self.check(comp).detail})")
                        if first_only:
                            return failures
                    break
                spinner.update(f"{verb} {', '.join(pending)} ({time.monotonic() - started:.0f}s)")
                time.sleep(1.0)
        return failures

    def _unhealthy_message(self, comp: Component, why: str) -> str:
        log = self.home.service_log(comp.name)
        return (f"service {comp.name} {why}. Last lines of {log}:\n{tail(log)}\n"
                f"See the whole log with: airdeck logs {comp.name}")

    def migrate(self, upgrade: bool = False, migrate_env: Mapping[str, str] | None = None) -> None:
        """Run `airflow db migrate` only when the schema is behind (a warm start proves it with one query),
        and record the Airflow version.

        A database last migrated by another Airflow version is migrated only by `airdeck upgrade`
        (``upgrade=True``), which takes a backup first; ``migrate_env`` goes to `airflow db migrate` only."""
        installed = record.installed_airflow()
        recorded = record.read(self.home)
        url = self.secret("database_url")
        if warm.schema_verified(self.home, url):
            self.console.print("[green]✓[/] database schema is current")
            if recorded is None or recorded.get("airflow_version") != installed:
                record.write(self.home, installed, schema.head(), "started" if recorded else "created")
            return
        warm.forget_schema(self.home)
        code, _ = self.airflow_cli("db", "check-migrations", "--migration-wait-timeout", "0")
        if code == 0:
            warm.record_schema(self.home, url)
            self.console.print("[green]✓[/] database schema is current")
            if recorded is None or recorded.get("airflow_version") != installed:
                record.write(self.home, installed, schema.head(), "started" if recorded else "created")
            return
        if recorded is not None and recorded.get("airflow_version") != installed and not upgrade:
            raise StackError(
                f"the metadata database was last migrated by Airflow {recorded.get('airflow_version')} and this "
                f"airdeck runs Airflow {installed}: its schema must be upgraded. Run `airdeck upgrade` (it takes a "
                "backup first, checks the DAGs, migrates once and verifies the platform). Nothing was changed.")
        with self.console.status("migrating the metadata database (airflow db migrate)"):
            started = time.monotonic()
            code, output = self.airflow_cli("db", "migrate", extra_env=migrate_env)
        if code != 0:
            raise StackError("airflow db migrate failed:\n" + "\n".join(
                output.strip().splitlines()[-LOG_TAIL_LINES:]))
        warm.record_schema(self.home, url)
        self.console.print(f"[green]✓[/] migrated the metadata database ({time.monotonic() - started:.1f}s)")
        record.write(self.home, installed, schema.head(), "migrated" if recorded else "created")

    def ensure_admin(self) -> None:
        admin = self.cfg.admin
        if warm.admin_exists(self.secret("database_url"), admin.username):
            return
        password = self.secrets.get("admin_password")
        result = subprocess.run(
            [sys.executable, "-m", "airdeck.stack.admin_user",
             admin.username, admin.email, admin.first_name, admin.last_name],
            input=password, env=self.cli_env(), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError("could not create the admin account:\n" + result.stderr.strip()[-1500:])
        if result.stdout.strip().endswith("created"):
            self.console.print(f"[green]✓[/] created the admin account [bold]{escape(admin.username)}[/]")
            self.console.print(
                f"  its generated password, shown this once: [bold]{escape(password)}[/]\n"
                "  (retrieve it later with: airdeck credentials)")

    # ------------------------------------------------------------------ status
    def _restarts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        try:
            lines = self.home.events_log.read_text(encoding="utf-8").splitlines()
        except OSError:
            return counts
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("state") == "STARTING" and event.get("from") in ("EXITED", "BACKOFF"):
                counts[event["service"]] = counts.get(event["service"], 0) + 1
        return counts

    def _rotate_events(self) -> None:
        if self.home.events_log.exists():
            self.home.events_log.replace(self.home.events_log.with_suffix(".jsonl.1"))

    def workers_as_root(self) -> bool:
        """Whether the local workers run as root (allowed by workers.run_as_root_reason, see stack.workers)."""
        return workers.isolation_warning(self.deployment, self.home) is not None

    def status(self) -> list[ServiceStatus]:
        running = self.supervisor.is_running()
        infos = self.supervisor.all_info() if running else {}
        restarts = self._restarts() if running else {}
        # A service runs the plan it was last started with: judge it by that health check (a change
        # not applied yet, e.g. one rolled back, must not make a running service look unhealthy).
        record = (applied.read(self.home) or {}) if running else {}
        out = []
        for comp in self.deployment.components:
            info = infos.get(comp.name, {})
            state = info.get("statename", "STOPPED") if running else "STOPPED"
            pid = info.get("pid") or None
            if state == "RUNNING":
                started = record.get(comp.name)
                if started is not None and started.probe is not None:
                    comp = replace(comp, probe=started.health_check())
                result = self.check(comp)
                healthy, detail = result.healthy, result.detail
            else:
                healthy, detail = False, info.get("spawnerr") or state.lower()
            out.append(ServiceStatus(comp.name, comp.kind, state, healthy, detail,
                                     pid if state == "RUNNING" else None, comp.url, restarts.get(comp.name, 0)))
        return out

    # ------------------------------------------------------------------ down
    def down(self, quiet: bool = False) -> int:
        """Stop every component (gracefully, then SIGKILL after stop_timeout) and supervisord.

        Returns the number of leftover processes that had to be killed."""
        if self.supervisor.is_running():
            known = set(self.supervisor.all_info())
            for wave in reversed(self.deployment.waves()):
                self._stop_all([c.name for c in wave if c.name in known], quiet)
            self.supervisor.shutdown(timeout=self._stop_timeout + 15)
        applied.forget(self.home)
        return self.cleanup_stale(quiet=quiet)

    def _stop_all(self, names: list[str], quiet: bool) -> None:
        for name in names:
            try:
                self.supervisor.rpc.stopProcess(name, False)
            except Exception:  # noqa: BLE001,S110 - not running is fine
                pass
        deadline = time.monotonic() + self._stop_timeout + 10
        while time.monotonic() < deadline:
            states = {n: (self.supervisor.info(n) or {}).get("statename") for n in names}
            if all(s in ("STOPPED", "EXITED", "FATAL", None) for s in states.values()):
                break
            time.sleep(0.3)
        if not quiet and names:
            self.console.print(f"[green]✓[/] stopped {', '.join(names)}")

    def stack_processes(self) -> list[psutil.Process]:
        """Processes of this $AIRDECK_HOME that are still alive.

        Four nets, because one is not enough: the pid files the event listener keeps for each
        component (and supervisord's own), the process groups those pids lead (supervisord starts every
        component as a group leader, so gunicorn workers and Celery pool processes are members), every
        session and process group a component or supervisord ever had (:mod:`airdeck.stack.sessions`:
        task runners in groups of their own, orphaned when their worker was killed), and the
        ``AIRDECK_STACK`` marker in the environment (unreadable for processes that rewrite their title
        over it, as valkey, gunicorn and Airflow's log server do)."""
        me = os.getpid()
        found: dict[int, psutil.Process] = {}
        leaders: set[int] = set()
        pidfiles = list(self.home.run.glob("*.pid")) if self.home.run.exists() else []
        for pidfile in pidfiles:
            proc = _process_from_pidfile(pidfile)
            if proc is not None and proc.pid != me:
                found[proc.pid] = proc
                leaders.add(proc.pid)
        for proc in sessions.members(self.home.run):
            found.setdefault(proc.pid, proc)
        for proc in psutil.process_iter(["pid"]):
            if proc.pid == me or proc.pid in found:
                continue
            try:
                if leaders and os.getpgid(proc.pid) in leaders:
                    found[proc.pid] = proc
                elif proc.environ().get(STACK_MARKER) == str(self.home.root):
                    found[proc.pid] = proc
            except (psutil.Error, OSError):
                continue
        for proc in list(found.values()):
            try:
                for child in proc.children(recursive=True):
                    if child.pid != me:
                        found.setdefault(child.pid, child)
            except psutil.Error:
                continue
        return list(found.values())

    def cleanup_stale(self, quiet: bool = False) -> int:
        """Kill processes left by a run that did not stop cleanly; remove stale pid files and sockets."""
        leftovers = self.stack_processes()
        if leftovers:
            _terminate(leftovers, timeout=self._stop_timeout)
            if not quiet:
                self.console.print(f"[yellow]![/] cleaned up {len(leftovers)} process(es) left by an earlier run")
        if self.home.run.exists() and not sessions.members(self.home.run):
            sessions.forget(self.home.run)  # nothing is left in them: their numbers may be reused from now on
        for pidfile in self.home.run.glob("*.pid") if self.home.run.exists() else []:
            pidfile.unlink(missing_ok=True)
        self.home.supervisor_socket.unlink(missing_ok=True)
        return len(leftovers)


def program_block(conf: str, name: str) -> str | None:
    """The ``[program:NAME]`` section of a supervisord.conf text, up to the blank line that ends it."""
    start = conf.find(f"[program:{name}]\n")
    if start < 0:
        return None
    end = conf.find("\n\n", start)
    return conf[start:] if end < 0 else conf[start:end + 1]


def _process_from_pidfile(pidfile: os.PathLike[str]) -> psutil.Process | None:
    """The live process a pid file names, unless the pid was reused since the file was written."""
    try:
        pid = int(open(pidfile, encoding="ascii").read().strip())  # noqa: SIM115
        written = os.stat(pidfile).st_mtime
        proc = psutil.Process(pid)
        if proc.create_time() > written + 2:
            return None  # a newer process got the same pid
        return proc
    except (OSError, ValueError, psutil.Error):
        return None


def _terminate(procs: Iterable[psutil.Process], timeout: float) -> None:
    sessions.end(procs, grace=timeout)
