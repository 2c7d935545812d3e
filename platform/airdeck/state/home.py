"""The layout of $AIRDECK_HOME (default ./.airdeck)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from airdeck.errors import AirdeckError

DEFAULT_HOME = ".airdeck"

#: Characters a state folder's path may not hold: it is written into supervisord.conf (where ``%`` starts
#: an expansion and `` ;``/`` #`` a comment), airflow.cfg (where Airflow expands ``$NAME``) and
#: PostgreSQL's and Valkey's command lines; control characters would add lines to any of them.
_UNSAFE_PATH = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff%\"$;#]")


class HomePathError(AirdeckError):
    """$AIRDECK_HOME names a folder whose path the generated files cannot hold."""

    exit_code = 2


@dataclass(frozen=True)
class AirdeckHome:
    """Every path airdeck writes, under one root."""

    root: Path

    def __post_init__(self) -> None:
        bad = _UNSAFE_PATH.search(str(self.root))
        if bad is not None:
            raise HomePathError(
                f"the state folder {str(self.root)!r} ($AIRDECK_HOME or --home) holds {bad.group()!r}, which "
                "the generated configuration files cannot carry; choose a folder without % \" $ ; # or "
                "control characters")

    @classmethod
    def from_env(cls, explicit: str | os.PathLike[str] | None = None) -> AirdeckHome:
        value = explicit or os.environ.get("AIRDECK_HOME") or DEFAULT_HOME
        return cls(Path(value).expanduser().absolute())

    # Airflow
    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"

    @property
    def webserver_config(self) -> Path:
        return self.airflow_home / "webserver_config.py"

    def service_dir(self, service: str) -> Path:
        return self.root / "services" / service

    def service_config(self, service: str) -> Path:
        return self.service_dir(service) / "airflow.cfg"

    # Data of embedded servers
    @property
    def postgres_data(self) -> Path:
        return self.root / "data" / "postgres"

    @property
    def postgres_socket_dir(self) -> Path:
        return self.root / "run" / "postgres"

    @property
    def valkey_dir(self) -> Path:
        return self.root / "data" / "valkey"

    # Logs
    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def service_log(self, service: str) -> Path:
        return self.logs / f"{service}.log"

    @property
    def task_logs(self) -> Path:
        return self.logs / "airflow"

    # Supervision
    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def supervisor_conf(self) -> Path:
        return self.run / "supervisord.conf"

    @property
    def supervisor_socket(self) -> Path:
        return self.run / "supervisord.sock"

    @property
    def supervisor_pidfile(self) -> Path:
        return self.run / "supervisord.pid"

    @property
    def events_log(self) -> Path:
        return self.logs / "service-events.jsonl"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    def ensure(self) -> None:
        """Create the layout; private folders are 0700."""
        self.root.mkdir(parents=True, exist_ok=True)
        for folder in (self.airflow_home, self.logs, self.task_logs, self.root / "data"):
            folder.mkdir(parents=True, exist_ok=True)
        for private in (self.secrets, self.run, self.root / "services"):
            private.mkdir(parents=True, exist_ok=True)
            private.chmod(0o700)
