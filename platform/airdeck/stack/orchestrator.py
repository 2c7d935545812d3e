"""`airdeck up`, `down` and `status`: ordering and health gates on top of supervisord."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psutil
from rich.console import Console

from airdeck.auth.webserver_config import write_webserver_config
from airdeck.config.model import AirdeckConfig
from airdeck.config.render import (
    airflow_settings,
    broker_url,
    database_url,
    mask_url,
    service_names,
    write_service_config,
)
from airdeck.metrics import wiring as metrics_wiring
from airdeck.secrets import settings as secrets_hooks
from airdeck.secrets.vault import secret_store
from airdeck.stack import postgres, services, valkey
from airdeck.stack.errors import ServiceUnhealthyError, StackError
from airdeck.stack.ports import check_ports_free
from airdeck.stack.services import Service
from airdeck.stack.supervisor import PASSTHROUGH_ENV, Supervisor, render_config
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import SecretStore

LOG_TAIL_LINES = 25


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


class Stack:
    def __init__(self, cfg: AirdeckConfig, home: AirdeckHome, console: Console | None = None):
        self.cfg = cfg
        self.home = home
        self.console = console or Console(stderr=True)
        # secrets: the Fernet key, jwt_secret and secret_key come from Vault when secrets.vault.platform_secrets
        self.secrets: SecretStore = secret_store(cfg, home)
        self.supervisor = Supervisor(home)

    # ------------------------------------------------------------------ rendering
    def services(self) -> list[Service]:
        return services.build(self.cfg, self.home, self.secrets)

    def render(self) -> None:
        """Write every generated file: per-service airflow.cfg, webserver_config.py, valkey.conf, supervisord.conf."""
        self.home.ensure()
        for name in [*service_names(self.cfg), "cli"]:
            write_service_config(self.home.service_config(name),
                                 airflow_settings(self.cfg, self.home, self.secrets, name))
        write_webserver_config(self.cfg, self.home, self.secrets)
        if self.cfg.broker.url is None:
            valkey.write_config(self.home.valkey_dir / "valkey.conf", self.home.valkey_dir,
                                self.cfg.broker.embedded.port, self.secrets.get("broker_password"))
        programs = [svc.program for svc in self.services()]
        self.home.supervisor_conf.write_text(
            render_config(self.home, programs, stop_timeout=self.cfg.supervision.stop_timeout,
                          start_retries=self.cfg.supervision.start_retries), encoding="utf-8")

    def supervisor_env(self) -> dict[str, str]:
        env = {key: os.environ[key] for key in PASSTHROUGH_ENV if key in os.environ}
        env[services.STACK_MARKER] = str(self.home.root)
        return env

    def cli_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
        env.update(services.airflow_env(self.home, "cli"))
        return env

    # ------------------------------------------------------------------ up
    def up(self, with_prometheus: bool = False) -> list[ServiceStatus]:
        self.home.ensure()
        secrets_hooks.before_start(self)  # secrets: Vault reachable and signed in, TLS files usable
        metrics_wiring.before_start(self.cfg, self.home, with_prometheus)  # mapping file; --with-prometheus
        self.secrets.ensure_all()
        running = self.supervisor.is_running()
        if not running:
            self.cleanup_stale()
            check_ports_free(self.cfg.local_ports())
        self.check_external()
        self.render()
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
            all_services = self.services()
            self._start_wave([s for s in all_services if s.wave == 0])
            if self.cfg.database.url is None:
                postgres.ensure_database(self.cfg.database.embedded.port, self.secrets.get("database_password"))
            secrets_hooks.before_airflow(self)  # secrets: refuse a Fernet key that cannot decrypt stored values
            self.migrate()
            self.ensure_admin()
            for wave in sorted({s.wave for s in all_services if s.wave > 0}):
                self._start_wave([s for s in all_services if s.wave == wave])
        except BaseException:
            self.console.print("[red]start-up failed; stopping what was started[/]")
            self.down(quiet=True)
            raise
        return self.status()

    def check_external(self) -> None:
        if self.cfg.database.url is not None:
            url = database_url(self.cfg, self.secrets)
            postgres.check_url(url, mask_url(self.cfg.database.url.get_secret_value()))
        if self.cfg.broker.url is not None:
            url = broker_url(self.cfg, self.secrets)
            valkey.check_url(url, mask_url(url))

    def _start_wave(self, wave: list[Service]) -> None:
        if not wave:
            return
        for svc in wave:
            self.supervisor.start(svc.name)
        started = time.monotonic()
        pending = {svc.name: svc for svc in wave}
        deadline = started + self.cfg.supervision.start_timeout
        names = ", ".join(pending)
        with self.console.status(f"starting {names}") as spinner:
            while pending:
                for name, svc in list(pending.items()):
                    info = self.supervisor.info(name) or {}
                    state = info.get("statename", "UNKNOWN")
                    if state == "FATAL":
                        raise ServiceUnhealthyError(self._unhealthy_message(svc, f"exited repeatedly ({state})"))
                    if state == "RUNNING" and svc.check().healthy:
                        self.console.print(f"[green]✓[/] {name} healthy "
                                           f"({time.monotonic() - started:.1f}s, pid {info.get('pid')})")
                        del pending[name]
                if not pending:
                    break
                if time.monotonic() > deadline:
                    svc = next(iter(pending.values()))
                    raise ServiceUnhealthyError(self._unhealthy_message(
                        svc, f"not healthy after {self.cfg.supervision.start_timeout}s ({svc.check().detail})"))
                spinner.update(f"starting {', '.join(pending)} ({time.monotonic() - started:.0f}s)")
                time.sleep(1.0)

    def _unhealthy_message(self, svc: Service, why: str) -> str:
        log = self.home.service_log(svc.name)
        return (f"service {svc.name} {why}. Last lines of {log}:\n{tail(log)}\n"
                f"See the whole log with: airdeck logs {svc.name}")

    def migrate(self) -> None:
        """Run `airflow db migrate` only when the schema is behind."""
        airflow = services.airflow_bin()
        check = subprocess.run([airflow, "db", "check-migrations", "--migration-wait-timeout", "0"],
                               env=self.cli_env(), capture_output=True, text=True, check=False)
        if check.returncode == 0:
            self.console.print("[green]✓[/] database schema is current")
            return
        with self.console.status("migrating the metadata database (airflow db migrate)"):
            started = time.monotonic()
            result = subprocess.run([airflow, "db", "migrate"], env=self.cli_env(),
                                    capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError("airflow db migrate failed:\n" + "\n".join(
                (result.stdout + result.stderr).strip().splitlines()[-LOG_TAIL_LINES:]))
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
            self.console.print(f"[green]✓[/] created the admin account [bold]{admin.username}[/]")
            self.console.print(
                f"  its generated password, shown this once: [bold]{password}[/]\n"
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
        for svc in self.services():
            info = infos.get(svc.name, {})
            state = info.get("statename", "STOPPED") if running else "STOPPED"
            pid = info.get("pid") or None
            if state == "RUNNING":
                result = svc.check()
                healthy, detail = result.healthy, result.detail
            else:
                healthy, detail = False, info.get("spawnerr") or state.lower()
            out.append(ServiceStatus(svc.name, svc.kind, state, healthy, detail, pid if state == "RUNNING" else None,
                                     svc.url, restarts.get(svc.name, 0)))
        return out

    # ------------------------------------------------------------------ down
    def down(self, quiet: bool = False) -> int:
        """Stop every service (gracefully, then SIGKILL after stop_timeout) and supervisord.

        Returns the number of leftover processes that had to be killed."""
        if self.supervisor.is_running():
            by_wave: dict[int, list[str]] = {}
            for svc in self.services():
                by_wave.setdefault(svc.wave, []).append(svc.name)
            known = set(self.supervisor.all_info())
            for wave in sorted(by_wave, reverse=True):
                names = [n for n in by_wave[wave] if n in known]
                self._stop_all(names, quiet)
            self.supervisor.shutdown(timeout=self.cfg.supervision.stop_timeout + 15)
        killed = self.cleanup_stale(quiet=quiet)
        return killed

    def _stop_all(self, names: list[str], quiet: bool) -> None:
        for name in names:
            try:
                self.supervisor.rpc.stopProcess(name, False)
            except Exception:  # noqa: BLE001,S110 - not running is fine
                pass
        deadline = time.monotonic() + self.cfg.supervision.stop_timeout + 10
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
        service (and supervisord's own), the process groups those pids lead (supervisord starts every
        service as a group leader, so gunicorn workers, Celery pool and task processes are members),
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
                elif proc.environ().get(services.STACK_MARKER) == str(self.home.root):
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
            _terminate(leftovers, timeout=self.cfg.supervision.stop_timeout)
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
