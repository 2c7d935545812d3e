"""``airdeck up --with-grafana``: the plan, the provisioning files, the absent-Grafana path, the process start.

No Grafana package is reachable on the machines that run these tests (none on PyPI, Debian's archive has
none), so no real Grafana runs here. What is checked instead:

* the plan: a ``grafana`` component after Prometheus, on its own port from the model, probed on
  ``/api/health``, started as ``grafana server --homepath=… --config=…`` (or ``grafana-server``);
* the files it is given, written the way ``airdeck up`` writes them: grafana.ini (0600, it holds the admin
  password; parsed as INI), the datasource and dashboard provisioning YAML against the keys Grafana's
  provisioning reads (apiVersion 1; ``datasources``; ``providers`` of type ``file``), the datasource pointing
  at the bundled Prometheus and of the type the dashboards' datasource variable asks for, the provider
  reading the shipped dashboards into the ``airdeck`` folder;
* without a Grafana: one line saying how to get one, and ``airdeck up --with-grafana`` exits non-zero
  before starting anything;
* the start: ``FAKE_GRAFANA`` below **stands in for Grafana** (a small Python program named ``grafana`` that
  refuses to start unless it is given ``server``, an existing ``--homepath`` with ``conf/defaults.ini`` and
  a readable ``--config`` holding the admin password and whose provisioning folder holds both files, then
  creates ``grafana.db`` in the data folder as Grafana does and answers ``/api/health``); it shows that the
  planned command line starts and that the health probe sees it, and (stack test, under supervisord with the
  whole platform) that ``airdeck up --with-grafana`` supervises it, shows the admin password once and
  ``airdeck credentials`` again; not that Grafana accepts the files.
"""

from __future__ import annotations

import configparser
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from airdeck import concerns
from airdeck.config.model import AirdeckConfig
from airdeck.config.observability import ObservabilityFileError
from airdeck.metrics import grafana, wiring
from airdeck.plan.model import Component
from airdeck.plan.render import materialise
from airdeck.resources import data_path
from airdeck.stack import health
from airdeck.stack.orchestrator import effective_config
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import SecretStore

from tests.cli.helpers import run
from tests.harness import free_port

#: The keys Grafana's provisioning reads (docs: administration/provisioning): anything else is ignored by
#: Grafana, so a typo would pass silently; this test refuses it.
DATASOURCE_KEYS = {"name", "type", "uid", "access", "url", "isDefault", "editable", "jsonData", "orgId", "version",
                   "basicAuth", "basicAuthUser", "withCredentials", "secureJsonData", "user", "database"}
PROVIDER_KEYS = {"name", "orgId", "folder", "folderUid", "type", "disableDeletion", "updateIntervalSeconds",
                 "allowUiUpdates", "options"}


def _config(**observability: object) -> AirdeckConfig:
    return AirdeckConfig.model_validate({"observability": observability})


def _home(tmp_path: Path) -> AirdeckHome:
    home = AirdeckHome(tmp_path / "home")
    home.ensure()
    return home


def _fake_install(tmp_path: Path) -> grafana.GrafanaInstall:
    homepath = tmp_path / "share" / "grafana"
    (homepath / "conf").mkdir(parents=True)
    (homepath / "conf" / "defaults.ini").write_text("; stand-in\n")
    binary = homepath / "bin" / "grafana"
    binary.parent.mkdir()
    binary.write_text(f"#!{sys.executable}\n{FAKE_GRAFANA}")
    binary.chmod(0o755)
    return grafana.GrafanaInstall(binary, homepath)


def _grafana(cfg: AirdeckConfig, home: AirdeckHome) -> Component:
    return {c.name: c for c in concerns.plan(cfg, home).components}[grafana.GRAFANA]


def _write(cfg: AirdeckConfig, comp: Component, home: AirdeckHome) -> None:
    """Write the component's files as `airdeck up` does (secrets from the state folder's store)."""
    resolve = concerns.resolver(cfg, home, SecretStore(home.secrets), generate=True)
    for spec in comp.files:
        materialise(spec, resolve)


def test_with_grafana_plans_grafana_after_prometheus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install = _fake_install(tmp_path)
    monkeypatch.setattr(grafana, "grafana_install", lambda: install)
    home = _home(tmp_path)
    given = _config(grafana={"port": 13000}, prometheus={"port": 19090})
    running = effective_config(given, {"with_grafana": True})  # what `up --with-grafana` applies
    assert not given.observability.grafana.enabled
    assert running.observability.grafana.enabled and running.observability.prometheus.enabled
    components = {c.name: c for c in concerns.plan(running, home).components}
    comp = components[grafana.GRAFANA]
    assert wiring.PROMETHEUS in components and comp.depends_on == (wiring.PROMETHEUS,)
    assert comp.ports == (("observability.grafana.port", 13000),)
    assert comp.probe is not None and comp.probe.url == "http://127.0.0.1:13000/api/health"
    assert comp.argv == (str(install.binary), "server", f"--homepath={install.homepath}",
                         f"--config={grafana.ini_path(home)}")
    (ini, _, _) = comp.files
    assert ini.mode == 0o600 and [r.name for r in ini.secrets] == [grafana.PASSWORD_SECRET]
    # a plain `up` (no flag, not in airdeck.yaml) has no Grafana; the key turns it on as the flag does
    assert grafana.GRAFANA not in {c.name for c in concerns.plan(effective_config(given, {}), home).components}
    assert grafana.GRAFANA in {c.name for c in concerns.plan(_config(grafana={"enabled": True}), home).components}


def test_a_grafana_port_taken_by_another_key_is_refused() -> None:
    from airdeck.config.errors import ConfigError

    with pytest.raises(ConfigError) as raised:
        effective_config(_config(grafana={"port": 9102}), {"with_grafana": True})
    assert "observability.grafana.port" in str(raised.value) and "9102" in str(raised.value)


def test_the_legacy_grafana_server_binary_runs_without_subcommand(tmp_path: Path) -> None:
    install = grafana.GrafanaInstall(tmp_path / "sbin" / "grafana-server", tmp_path)
    assert install.server_argv == (str(tmp_path / "sbin" / "grafana-server"),)


def test_provisioning_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grafana, "grafana_install", lambda: _fake_install(tmp_path))
    home = _home(tmp_path)
    cfg = _config(grafana={"enabled": True, "port": 13000}, prometheus={"port": 19090, "scrape_interval": "5s"})
    comp = _grafana(cfg, home)
    _write(cfg, comp, home)
    password = SecretStore(home.secrets).read(grafana.PASSWORD_SECRET)

    ini = grafana.ini_path(home)
    assert stat.S_IMODE(ini.stat().st_mode) == 0o600
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(ini.read_text())
    assert parser["security"]["admin_user"] == "admin" and parser["security"]["admin_password"] == password
    assert parser["server"]["http_addr"] == "127.0.0.1" and parser["server"]["http_port"] == "13000"
    assert parser["users"]["allow_sign_up"] == "false" and parser["auth.anonymous"]["enabled"] == "false"
    for key in ("data", "logs", "plugins", "provisioning"):
        assert Path(parser["paths"][key]).is_relative_to(home.root), key
    assert Path(parser["paths"]["provisioning"]) == grafana.provisioning(home)
    assert password not in "".join(" ".join(comp.argv) + json.dumps(dict(comp.env)))

    sources = yaml.safe_load((grafana.provisioning(home) / "datasources" / "airdeck.yml").read_text())
    assert sources["apiVersion"] == 1
    (source,) = sources["datasources"]
    assert set(source) <= DATASOURCE_KEYS, set(source) - DATASOURCE_KEYS
    assert source["url"] == "http://127.0.0.1:19090" and source["access"] == "proxy" and source["isDefault"]
    assert source["jsonData"]["timeInterval"] == "5s"
    dashboards = sorted(data_path("grafana/dashboards").glob("*.json"))
    assert len(dashboards) >= 5
    for path in dashboards:  # each dashboard's datasource variable picks a datasource of this type
        variables = json.loads(path.read_text())["templating"]["list"]
        assert [v["query"] for v in variables if v["type"] == "datasource"] == [source["type"]], path.name

    providers = yaml.safe_load((grafana.provisioning(home) / "dashboards" / "airdeck.yml").read_text())
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert set(provider) <= PROVIDER_KEYS, set(provider) - PROVIDER_KEYS
    assert provider["type"] == "file" and provider["folder"] == grafana.FOLDER == "airdeck"
    assert sorted(Path(provider["options"]["path"]).glob("*.json")) == dashboards
    assert provider["options"].get("foldersFromFilesStructure") is False  # the folder is the provider's
    for spec in comp.files[1:]:  # the provisioning files hold no secret
        assert not spec.secrets and password not in Path(spec.path).read_text()


def test_without_grafana_one_line_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grafana, "INSTALL_DIRS", (tmp_path / "none",))
    monkeypatch.setattr(grafana, "SBIN", (tmp_path / "none" / "grafana-server",))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert grafana.grafana_install() is None
    with pytest.raises(ObservabilityFileError) as raised:
        grafana.check_grafana(_home(tmp_path))
    message = str(raised.value)
    assert "\n" not in message
    assert "brew install grafana" in message and "apt-get install grafana" in message
    assert "--with-grafana" in message


def test_up_with_grafana_without_grafana_exits_non_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(grafana, "grafana_install", lambda: None)
    monkeypatch.setenv("AIRDECK_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    ran = run(capsys, "up", "--with-grafana", "--detach")
    assert ran.code != 0
    assert "Grafana was asked for" in ran.err and "Traceback" not in ran.err
    assert len([line for line in ran.err.splitlines() if "Grafana" in line]) == 1, ran.err
    assert not (tmp_path / "home" / "run" / "supervisord.pid").exists()  # nothing was started


FAKE_GRAFANA = r'''
import configparser, http.server, pathlib, sys
args = sys.argv[1:]
if not args or args[0] != "server":
    sys.exit("stand-in for Grafana: expected the server subcommand, got %r" % args)
opts = dict(a[2:].split("=", 1) for a in args[1:])
if not (pathlib.Path(opts["homepath"]) / "conf" / "defaults.ini").is_file():
    sys.exit("stand-in for Grafana: no conf/defaults.ini under --homepath")
ini = configparser.ConfigParser(interpolation=None)
ini.read_string(pathlib.Path(opts["config"]).read_text())
prov = pathlib.Path(ini["paths"]["provisioning"])
for f in ("datasources/airdeck.yml", "dashboards/airdeck.yml"):
    if not (prov / f).is_file():
        sys.exit("stand-in for Grafana: missing provisioning file " + f)
if not ini["security"]["admin_password"] or "@@" in ini["security"]["admin_password"]:
    sys.exit("stand-in for Grafana: no admin password")
pathlib.Path(ini["paths"]["data"], "grafana.db").touch()  # Grafana creates its database (and admin) at start
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path == "/api/health"
        self.send_response(200 if ok else 404)
        self.end_headers()
        self.wfile.write(b'{"database": "ok"}' if ok else b"")
    def log_message(self, *a):
        pass
http.server.HTTPServer((ini["server"]["http_addr"], int(ini["server"]["http_port"])), H).serve_forever()
'''


def test_the_planned_command_starts_and_the_probe_sees_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install = _fake_install(tmp_path)
    monkeypatch.setattr(grafana, "grafana_install", lambda: install)
    home = _home(tmp_path)
    cfg = _config(grafana={"enabled": True, "port": free_port()})
    comp = _grafana(cfg, home)
    _write(cfg, comp, home)
    grafana.check_grafana(home)
    proc = subprocess.Popen(comp.argv, env={**os.environ, **comp.env}, stderr=subprocess.PIPE, text=True)
    try:
        assert comp.probe is not None
        deadline = time.monotonic() + 30
        result: Any = health.check(comp.probe, str)
        while not result.healthy and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            result = health.check(comp.probe, str)
        assert result.healthy, (result.detail, proc.poll(), proc.stderr.read() if proc.poll() is not None else "")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.stack
@pytest.mark.timeout(1800)
def test_up_with_grafana_supervises_it_and_shows_the_password_once(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.harness import Stack, new_home, remove_home, write_config

    install = _fake_install(tmp_path)  # stands in for Grafana (see the module docstring)
    monkeypatch.setenv("PATH", f"{install.binary.parent}{os.pathsep}{os.environ['PATH']}")
    port = free_port()
    stack = Stack(new_home(), write_config(tmp_path, {"observability": {"grafana": {"port": port}}}))
    try:
        first = stack.airdeck("up", "--detach", "--with-grafana")
        password = (stack.home / "secrets" / grafana.PASSWORD_SECRET).read_text().strip()
        shown = first.stdout + first.stderr
        assert f"Grafana: http://127.0.0.1:{port}" in shown and password in shown
        services = {s["name"]: s for s in json.loads(stack.airdeck("status", "--json").stdout)["services"]}
        assert services["grafana"]["health"] == "healthy" and services["prometheus"]["health"] == "healthy"
        assert stack.credentials()["grafana"] == {"url": f"http://127.0.0.1:{port}", "username": "admin",
                                                  "password": password}
        again = stack.airdeck("up", "--detach", "--with-grafana")
        assert password not in again.stdout + again.stderr  # shown once, when Grafana created its account
        assert stat.S_IMODE((stack.home / "grafana" / "grafana.ini").stat().st_mode) == 0o600
    finally:
        stack.airdeck("down", check=False, timeout=300)
        remove_home(stack.home)
