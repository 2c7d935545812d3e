"""The local target: applies the deployment plan under supervisord (``airdeck up``, ``down``, ``status``).

Components start in dependency order (each wave once the one before is healthy); the metadata
database is migrated and the admin account ensured before the first Airflow component. The Stack
is also the :class:`~airdeck.plan.concern.Runtime` concerns use at run time (preflight checks,
Fernet rotation).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.markup import escape

from airdeck import concerns
from airdeck.config.base import format_duration
from airdeck.config.model import AirdeckConfig
from airdeck.plan.build import airflow_bin
from airdeck.plan.model import Component, Deployment
from airdeck.plan.render import materialise
from airdeck.plan.secrets import SecretResolver, mask_url
from airdeck.stack import health, postgres, valkey
from airdeck.stack.errors import ServiceUnhealthyError, StackError
from airdeck.stack.ports import check_ports_free
from airdeck.stack.supervisor import PASSTHROUGH_ENV, Program, Supervisor, render_config
from airdeck.state.home import AirdeckHome

LOG_TAIL_LINES = 25
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
    if not options.get("with_prometheus") or cfg.observability.prometheus.enabled:
        return cfg
    copy = cfg.model_copy(deep=True)
    copy.observability.prometheus.enabled = True
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
        self.console.print(f"[green]✓[/] {escape(message)}")

    def airflow_cli(self, *args: str) -> tuple[int, str]:
        result = subprocess.run([airflow_bin(), *args], env=self.cli_env(), capture_output=True, text=True,
                                check=False)
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
        resolve = concerns.resolver(self.cfg, self.home, self.secrets, generate=True)
        deployment = self.deployment
        specs = [*deployment.files, *(deployment.cli.files if deployment.cli else ())]
        specs += [spec for comp in deployment.components for spec in comp.files]
        for spec in specs:
            materialise(spec, resolve)
        self.home.supervisor_conf.write_text(
            render_config(self.home, self.programs(), stop_timeout=self._stop_timeout,
                          start_retries=self.cfg.supervision.start_retries), encoding="utf-8")

    def supervisor_env(self) -> dict[str, str]:
        env = {key: os.environ[key] for key in PASSTHROUGH_ENV if key in os.environ}
        # Airflow's environment tier of connections (e.g. logging.connection): every component resolves
        # them as one-off commands do. Inherited through supervisord's environment, never written to a file.
        env.update({key: value for key, value in os.environ.items() if key.startswith("AIRFLOW_CONN_")})
        env[STACK_MARKER] = str(self.home.root)
        return env

    def cli_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
        if self.deployment.cli is not None:
            env.update(self.deployment.cli.env)
        return env

    # ------------------------------------------------------------------ up
    def up(self, with_prometheus: bool = False) -> list[ServiceStatus]:
        options = {"with_prometheus": with_prometheus}
        self._apply(options)
        self.home.ensure()
        for check in concerns.preflight("before_start"):  # Vault, certificates, webserver_config.py, mapping
            check(self)
        self.secrets.ensure_all()
        running = self.supervisor.is_running()
        if not running:
            self.cleanup_stale()
            self.check_ports()
        self.check_external()
        self.render()
        with open(_options_path(self.home), "w", encoding="utf-8") as handle:
            json.dump(options, handle)
        if self.cfg.database.url is None:
            created = postgres.prepare(self.home.postgres_data, self.home.postgres_socket_dir,
                                       self.secrets.get("database_password"))
            if created:
                self.console.print("[green]✓[/] initialised the embedded PostgreSQL cluster")
        if running:
            self.supervisor.reload()
        else:
            self._rotate_events()
            self.supervisor.start_daemon(self.supervisor_env())
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
        return self.status()

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
        if not wave:
            return
        for comp in wave:
            self.supervisor.start(comp.name)
        started = time.monotonic()
        pending = {comp.name: comp for comp in wave}
        deadline = started + self.cfg.supervision.start_timeout.total_seconds()
        with self.console.status(f"starting {', '.join(pending)}") as spinner:
            while pending:
                for name, comp in list(pending.items()):
                    info = self.supervisor.info(name) or {}
                    state = info.get("statename", "UNKNOWN")
                    if state == "FATAL":
                        raise ServiceUnhealthyError(self._unhealthy_message(comp, f"exited repeatedly ({state})"))
                    if state == "RUNNING" and self.check(comp).healthy:
                        self.console.print(f"[green]✓[/] {name} healthy "
                                           f"({time.monotonic() - started:.1f}s, pid {info.get('pid')})")
                        del pending[name]
                if not pending:
                    break
                if time.monotonic() > deadline:
                    comp = next(iter(pending.values()))
                    raise ServiceUnhealthyError(self._unhealthy_message(
                        comp, f"not healthy after {format_duration(self.cfg.supervision.start_timeout)} "
                        f"({self.check(comp).detail})"))
                spinner.update(f"starting {', '.join(pending)} ({time.monotonic() - started:.0f}s)")
                time.sleep(1.0)

    def _unhealthy_message(self, comp: Component, why: str) -> str:
        log = self.home.service_log(comp.name)
        return (f"service {comp.name} {why}. Last lines of {log}:\n{tail(log)}\n"
                f"See the whole log with: airdeck logs {comp.name}")

    def migrate(self) -> None:
        """Run `airflow db migrate` only when the schema is behind."""
        code, _ = self.airflow_cli("db", "check-migrations", "--migration-wait-timeout", "0")
        if code == 0:
            self.console.print("[green]✓[/] database schema is current")
            return
        with self.console.status("migrating the metadata database (airflow db migrate)"):
            started = time.monotonic()
            code, output = self.airflow_cli("db", "migrate")
        if code != 0:
            raise StackError("airflow db migrate failed:\n" + "\n".join(
                output.strip().splitlines()[-LOG_TAIL_LINES:]))
        self.console.print(f"[green]✓[/] migrated the metadata database ({time.monotonic() - started:.1f}s)")

    def ensure_admin(self) -> None:
        admin = self.cfg.admin
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

    def status(self) -> list[ServiceStatus]:
        running = self.supervisor.is_running()
        infos = self.supervisor.all_info() if running else {}
        restarts = self._restarts() if running else {}
        out = []
        for comp in self.deployment.components:
            info = infos.get(comp.name, {})
            state = info.get("statename", "STOPPED") if running else "STOPPED"
            pid = info.get("pid") or None
            if state == "RUNNING":
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

        Three nets, because one is not enough: the pid files the event listener keeps for each
        component (and supervisord's own), the process groups those pids lead (supervisord starts every
        component as a group leader, so gunicorn workers, Celery pool and task processes are members),
        and the ``AIRDECK_STACK`` marker in the environment (unreadable for processes that rewrite
        their title over it, as valkey, gunicorn and Airflow's log server do)."""
        me = os.getpid()
        found: dict[int, psutil.Process] = {}
        leaders: set[int] = set()
        pidfiles = list(self.home.run.glob("*.pid")) if self.home.run.exists() else []
        for pidfile in pidfiles:
            proc = _process_from_pidfile(pidfile)
            if proc is not None and proc.pid != me:
                found[proc.pid] = proc
                leaders.add(proc.pid)
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
        for pidfile in self.home.run.glob("*.pid") if self.home.run.exists() else []:
            pidfile.unlink(missing_ok=True)
        self.home.supervisor_socket.unlink(missing_ok=True)
        return len(leftovers)


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
    procs = list(procs)
    for proc in procs:
        try:
            proc.send_signal(signal.SIGTERM)
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=5)
