"""The local Grafana (``airdeck up --with-grafana`` or ``observability.grafana.enabled``): a Grafana installed on
this machine, found on PATH or where its packages put it, run under supervision like every other component
and provisioned by airdeck.

airdeck does not bundle Grafana (no Grafana package exists on PyPI); :func:`grafana_install` finds one and
:func:`check_grafana` says in one line how to get one when there is none. Everything Grafana reads is
generated into the state folder at every start, from the files airdeck ships:

* ``grafana/grafana.ini`` (0600: it holds the admin password): loopback address and port, the state
  folder's data, log, plugin and provisioning paths, no sign-up, no anonymous access, no phoning home;
* ``grafana/provisioning/datasources/airdeck.yml``: ``grafana/provisioning/datasources/prometheus.yml``
  pointed at the bundled Prometheus (its port and scrape interval);
* ``grafana/provisioning/dashboards/airdeck.yml``: ``grafana/provisioning/dashboards/airdeck.yml`` pointed at
  the shipped dashboards (folder ``airdeck``).

The admin account is ``admin``; its password is the generated secret ``grafana_admin_password`` (the state
folder's secrets, like the Airflow admin's), which Grafana sets when it creates its database on first start.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from airdeck.config.base import prometheus_duration
from airdeck.config.model import AirdeckConfig
from airdeck.config.observability import ObservabilityFileError
from airdeck.plan.endpoints import Endpoints
from airdeck.plan.model import Component, FileSpec, Probe, SecretRef, placeholder
from airdeck.resources import ResourceNotFoundError, data_path
from airdeck.state.home import AirdeckHome

GRAFANA = "grafana"
ADMIN_USER = "admin"
PASSWORD_SECRET = "grafana_admin_password"  # noqa: S105 - the name of a generated secret
#: The folder the dashboards are provisioned into (the chart's grafana_folder annotation names the same).
FOLDER = "airdeck"
#: Grafana's executables, newest first: ``grafana`` (with the ``server`` subcommand, Grafana 10 and later)
#: and the older ``grafana-server``.
EXECUTABLES = ("grafana", "grafana-server")
#: Where Grafana's packages install it when it is not on PATH: the Debian/RPM packages (/usr/share/grafana
#: with /usr/sbin/grafana-server), a tarball unpacked under /usr/local or /opt, Homebrew.
INSTALL_DIRS = (Path("/usr/share/grafana"), Path("/usr/local/share/grafana"), Path("/opt/grafana"),
                Path("/opt/homebrew/opt/grafana/share/grafana"), Path("/usr/local/opt/grafana/share/grafana"))
SBIN = (Path("/usr/sbin/grafana-server"), Path("/usr/local/sbin/grafana-server"))
#: One line saying how to get Grafana (docs/observability.md gives the commands per system).
INSTALL_HINT = ("install Grafana (Debian/Ubuntu: Grafana's APT repository, then apt-get install grafana; "
                "Fedora/RHEL: dnf install grafana; macOS: brew install grafana; see docs/observability.md, "
                "\"Grafana on the laptop\") or start without --with-grafana")


@dataclass(frozen=True)
class GrafanaInstall:
    """A Grafana on this machine: the executable, how to start its server, and its home (``conf/defaults.ini``)."""

    binary: Path
    homepath: Path

    @property
    def server_argv(self) -> tuple[str, ...]:
        if self.binary.name == "grafana":
            return (str(self.binary), "server")
        return (str(self.binary),)


def _homepath(binary: Path) -> Path | None:
    """Grafana's home for ``binary``: the folder holding ``conf/defaults.ini`` (and ``public/``)."""
    resolved = binary.resolve()
    for candidate in (resolved.parent.parent, resolved.parent.parent / "share" / "grafana", *INSTALL_DIRS):
        if (candidate / "conf" / "defaults.ini").is_file():
            return candidate
    return None


def _candidates() -> list[Path]:
    found = [Path(p) for name in EXECUTABLES if (p := shutil.which(name))]
    found += [home / "bin" / name for home in INSTALL_DIRS for name in EXECUTABLES]
    found += list(SBIN)
    return [p for p in found if p.is_file()]


def grafana_install() -> GrafanaInstall | None:
    """The first Grafana found on PATH or in its packages' places, with its home; None if there is none."""
    for binary in _candidates():
        home = _homepath(binary)
        if home is not None:
            return GrafanaInstall(binary, home)
    return None


# ---------------------------------------------------------------------------------------- files
def grafana_folder(home: AirdeckHome) -> Path:
    return home.root / "grafana"


def grafana_data(home: AirdeckHome) -> Path:
    return home.root / "data" / "grafana"


def ini_path(home: AirdeckHome) -> Path:
    return grafana_folder(home) / "grafana.ini"


def provisioning(home: AirdeckHome) -> Path:
    return grafana_folder(home) / "provisioning"


def _shipped(relative: str) -> dict[str, Any]:
    try:
        path = data_path(relative)
    except ResourceNotFoundError as exc:
        raise ObservabilityFileError(f"{exc}; reinstall airdeck, or turn observability.grafana off") from None
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def dashboards_folder() -> Path:
    """The shipped dashboards (generated JSON), read in place by Grafana's file provider."""
    try:
        return data_path("grafana/dashboards")
    except ResourceNotFoundError as exc:
        raise ObservabilityFileError(f"{exc}; reinstall airdeck, or turn observability.grafana off") from None


def datasource_document(cfg: AirdeckConfig, endpoints: Endpoints) -> dict[str, Any]:
    """The shipped datasource provisioning, pointed at this stack's Prometheus."""
    document = _shipped("grafana/provisioning/datasources/prometheus.yml")
    (source,) = document["datasources"]
    source["url"] = endpoints.prometheus_url
    source.setdefault("jsonData", {})["timeInterval"] = prometheus_duration(
        cfg.observability.prometheus.scrape_interval)
    return document


def dashboards_document() -> dict[str, Any]:
    """The shipped dashboard provisioning, reading the shipped dashboards into the airdeck folder."""
    document = _shipped("grafana/provisioning/dashboards/airdeck.yml")
    (provider,) = document["providers"]
    provider["folder"] = FOLDER
    provider.setdefault("options", {})["path"] = str(dashboards_folder())
    return document


def _yaml(document: dict[str, Any], source: str) -> str:
    return (f"# Rendered by airdeck from {source}. Do not edit: it is rewritten at every start.\n"
            + yaml.safe_dump(document, sort_keys=False))


def ini_text(cfg: AirdeckConfig, home: AirdeckHome) -> str:
    """grafana.ini; the admin password is a placeholder the secret's value replaces (file mode 0600)."""
    port = cfg.observability.grafana.port
    sections = {
        "server": {"protocol": "http", "http_addr": "127.0.0.1", "http_port": str(port),
                   "root_url": f"http://127.0.0.1:{port}/"},
        "paths": {"data": str(grafana_data(home)), "logs": str(home.logs / GRAFANA),
                  "plugins": str(grafana_data(home) / "plugins"), "provisioning": str(provisioning(home))},
        "security": {"admin_user": ADMIN_USER, "admin_password": placeholder(PASSWORD_SECRET),
                     "disable_gravatar": "true"},
        "users": {"allow_sign_up": "false", "allow_org_create": "false"},
        "auth.anonymous": {"enabled": "false"},
        "analytics": {"reporting_enabled": "false", "check_for_updates": "false",
                      "check_for_plugin_updates": "false", "feedback_links_enabled": "false"},
        "news": {"news_feed_enabled": "false"},
        "log": {"mode": "console"},
    }
    lines = ["; Rendered by airdeck from airdeck.yaml (observability.grafana). Do not edit: it is rewritten at "
             "every start."]
    for section, values in sections.items():
        lines.append(f"\n[{section}]")
        lines += [f"{key} = {value}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def grafana_files(cfg: AirdeckConfig, endpoints: Endpoints, home: AirdeckHome) -> tuple[FileSpec, ...]:
    folder = provisioning(home)
    return (
        FileSpec(str(ini_path(home)), ini_text(cfg, home), secrets=(SecretRef(PASSWORD_SECRET),), mode=0o600),
        FileSpec(str(folder / "datasources" / "airdeck.yml"),
                 _yaml(datasource_document(cfg, endpoints), "grafana/provisioning/datasources/prometheus.yml")),
        FileSpec(str(folder / "dashboards" / "airdeck.yml"),
                 _yaml(dashboards_document(), "grafana/provisioning/dashboards/airdeck.yml")),
    )


# ---------------------------------------------------------------------------------------- component
def grafana_component(endpoints: Endpoints, home: AirdeckHome) -> Component:
    """Grafana with airdeck's provisioning: healthy when its ``/api/health`` answers 200; after Prometheus."""
    cfg = endpoints.cfg
    install = grafana_install()
    # Without a Grafana the plan still names the command (status, dry runs); `up` stops at check_grafana.
    argv = (*(install.server_argv if install else (EXECUTABLES[0], "server")),
            f"--homepath={install.homepath if install else INSTALL_DIRS[0]}", f"--config={ini_path(home)}")
    port = cfg.observability.grafana.port
    return Component(GRAFANA, "grafana", argv, depends_on=("prometheus",), start_secs=2,
                     files=grafana_files(cfg, endpoints, home),
                     ports=(("observability.grafana.port", port),),
                     probe=Probe("http", url=f"{endpoints.grafana_url}/api/health"), url=endpoints.grafana_url)


def check_grafana(home: AirdeckHome) -> None:
    """``airdeck up`` with Grafana: one is installed (else one line saying how to get it), its folders exist."""
    if grafana_install() is None:
        where = ", ".join([*EXECUTABLES, *(str(d / "bin") for d in INSTALL_DIRS[:1]), *(str(p) for p in SBIN[:1])])
        raise ObservabilityFileError(
            f"Grafana was asked for (--with-grafana or observability.grafana.enabled) but none was found "
            f"(looked for {where} on PATH and in Grafana's install folders): {INSTALL_HINT}.")
    for folder in (grafana_data(home), home.logs / GRAFANA):
        folder.mkdir(parents=True, exist_ok=True)
