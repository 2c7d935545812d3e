"""How observability plugs into the platform, without booting it.

- ``[metrics]`` of every service points at the bridge with the options Airflow 3.3.2 reads
  (names checked against Airflow's own config.yml), ``[traces]`` follows ``tracing.otlp_endpoint``.
- The OTLP environment selects Airflow's HTTP exporter (its default is gRPC).
- The bridge is started before every Airflow component (they depend on it) with a real ``/-/healthy`` check.
- ``--with-prometheus``: the rendered Prometheus config passes ``promtool check config`` with the
  configured ports and absolute rule paths; a missing binary or mapping fails before anything starts.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from airdeck import concerns
from airdeck.config.model import AirdeckConfig
from airdeck.config.observability import ObservabilityFileError
from airdeck.metrics import wiring
from airdeck.plan.build import component_names
from airdeck.plan.endpoints import Endpoints, Target
from airdeck.plan.model import Component
from airdeck.stack import health
from airdeck.stack.orchestrator import effective_config
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import SecretStore

from tests.plan_support import settings_of as airflow_settings

REPO = Path(__file__).resolve().parents[2]


def _config(**observability: object) -> AirdeckConfig:
    return AirdeckConfig.model_validate({"observability": observability})


def _home(tmp_path: Path) -> AirdeckHome:
    home = AirdeckHome(tmp_path / "home")
    home.ensure()
    return home


def _components(cfg: AirdeckConfig, home: AirdeckHome) -> dict[str, Component]:
    return {c.name: c for c in concerns.plan(cfg, home).components}


class _Runtime:
    """The part of a target's Runtime the metrics checks use."""

    def __init__(self, cfg: AirdeckConfig, home: AirdeckHome):
        self.cfg, self.home = cfg, home
        self.said: list[str] = []

    def say(self, message: str) -> None:
        self.said.append(message)


def _airflow_options() -> dict[str, set[str]]:
    import airflow

    template = Path(airflow.__file__).parent / "config_templates" / "config.yml"
    document = yaml.safe_load(template.read_text())
    return {section: set(document[section]["options"]) for section in ("metrics", "traces")}


def test_every_service_sends_statsd_to_the_bridge(tmp_path: Path) -> None:
    cfg = _config(statsd={"port": 19125})
    home = _home(tmp_path)
    secrets = SecretStore(home.secrets)
    secrets.ensure_all()
    known = _airflow_options()
    for service in [*component_names(cfg), "cli"]:
        settings = airflow_settings(cfg, home, secrets, service)
        metrics = settings["metrics"]
        assert metrics["statsd_on"] == "True"
        assert (metrics["statsd_host"], metrics["statsd_port"]) == ("127.0.0.1", "19125")
        assert metrics["statsd_prefix"] == "airflow"
        assert metrics["statsd_influxdb_enabled"] == "True"
        assert {"job_id", "run_id", "dagrun_id"} <= set(metrics["statsd_disabled_tags"].split(","))
        assert set(metrics) <= known["metrics"], set(metrics) - known["metrics"]
        assert set(settings["traces"]) <= known["traces"]
        assert settings["traces"]["otel_on"] == "False"


def test_bridge_disabled_turns_statsd_off(tmp_path: Path) -> None:
    cfg = _config(bridge={"enabled": False})
    home = _home(tmp_path)
    local = Endpoints(cfg, Target.local())
    assert wiring.airflow_settings(cfg, local, "scheduler")["metrics"] == {"statsd_on": "False"}
    assert wiring.BRIDGE not in _components(cfg, home)
    assert "metrics-bridge" not in _components(cfg, home)["api-server"].depends_on


def test_tracing_turns_on_otel_with_the_http_exporter(tmp_path: Path) -> None:
    cfg = _config(tracing={"otlp_endpoint": "http://127.0.0.1:4318/"})
    home = _home(tmp_path)
    local = Endpoints(cfg, Target.local())
    assert wiring.airflow_settings(cfg, local, "worker-1")["traces"] == {"otel_on": "True"}
    assert wiring.airflow_settings(cfg, local, "cli")["traces"] == {"otel_on": "False"}
    env = wiring.otel_env(cfg, "worker-1")
    assert env["OTEL_TRACES_EXPORTER"] == "otlp_proto_http"  # Airflow's default "otlp" is gRPC
    assert env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] == "http://127.0.0.1:4318/v1/traces"
    from importlib.metadata import entry_points

    assert entry_points(group="opentelemetry_traces_exporter", name=env["OTEL_TRACES_EXPORTER"])
    for name, comp in _components(cfg, home).items():
        if name in component_names(cfg):
            assert comp.env["OTEL_TRACES_EXPORTER"] == "otlp_proto_http", name
    assert "OTEL_TRACES_EXPORTER" not in (concerns.plan(cfg, home).cli or comp).env
    grpc = wiring.otel_env(_config(tracing={"otlp_endpoint": "http://collector:4317", "protocol": "grpc"}), "x")
    assert grpc["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] == "http://collector:4317"
    assert grpc["OTEL_TRACES_EXPORTER"] == "otlp_proto_grpc"


def test_bad_values_are_rejected() -> None:
    from pydantic import ValidationError

    for bad in ({"tracing": {"otlp_endpoint": "127.0.0.1:4318"}}, {"prometheus": {"scrape_interval": "5 sec"}},
                {"prometheus": {"alertmanagers": ["http://am:9093"]}}, {"bridge": {"metrics_port": 0}}):
        with pytest.raises(ValidationError):
            _config(**bad)
    with pytest.raises(ValidationError, match="port 9102"):
        AirdeckConfig.model_validate({"api_server": {"port": 9102}})


def test_bridge_starts_in_wave_zero_before_airflow(tmp_path: Path) -> None:
    cfg = _config(statsd={"port": 19125}, bridge={"metrics_port": 19102})
    home = _home(tmp_path)
    deployment = concerns.plan(cfg, home)
    waves = deployment.waves()
    assert wiring.BRIDGE in [c.name for c in waves[0]]
    assert all(c.name not in component_names(cfg) for c in waves[0])
    assert wiring.BRIDGE in deployment.component("api-server").depends_on
    bridge = deployment.component(wiring.BRIDGE)
    argv = list(bridge.argv)
    assert argv[1:3] == ["-m", "airdeck.metrics.cli"]
    assert argv[argv.index("--statsd-listen") + 1] == "127.0.0.1:19125"
    assert argv[argv.index("--web-listen") + 1] == "127.0.0.1:19102"
    assert Path(argv[argv.index("--mapping") + 1]) == REPO / "prometheus" / "statsd-mapping.yml"
    assert ("observability.bridge.metrics_port", 19102) in cfg.local_ports()
    assert bridge.probe is not None
    assert not health.check(bridge.probe, str).healthy  # nothing listens yet: the check really asks /-/healthy
    assert wiring.PROMETHEUS not in deployment.names()


def test_bridge_health_check_against_a_running_bridge(tmp_path: Path) -> None:
    import socket
    import time

    from tests.harness import free_port

    web, udp = free_port(), free_port()
    cfg = _config(statsd={"port": udp}, bridge={"metrics_port": web})
    proc = subprocess.Popen(wiring.bridge_argv(cfg))
    try:
        probe = wiring.bridge_component(Endpoints(cfg, Target.local())).probe
        assert probe is not None

        def check() -> health.Health:
            return health.check(probe, str)

        deadline = time.monotonic() + 30
        while not check().healthy and time.monotonic() < deadline:
            time.sleep(0.2)
        assert check().healthy, check().detail
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"airflow.scheduler_heartbeat:1|c", ("127.0.0.1", udp))
        import httpx

        for _ in range(50):
            text = httpx.get(f"http://127.0.0.1:{web}/metrics").text
            if "airflow_scheduler_heartbeat_total 1" in text:
                break
            time.sleep(0.1)
        assert "airflow_scheduler_heartbeat_total 1.0" in text or "airflow_scheduler_heartbeat_total 1" in text
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0


def test_with_prometheus_renders_a_valid_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _config(bridge={"metrics_port": 19102},
                  prometheus={"port": 19090, "scrape_interval": "2s", "evaluation_interval": "2s"})
    home = _home(tmp_path)
    monkeypatch.setattr(wiring, "prometheus_binary", lambda: Path("/usr/bin/prometheus"))
    running = effective_config(cfg, {"with_prometheus": True})  # what `up --with-prometheus` applies
    assert running.observability.prometheus.enabled and not cfg.observability.prometheus.enabled
    wiring.check_files(_Runtime(running, home))  # type: ignore[arg-type]
    prom = _components(running, home)[wiring.PROMETHEUS]
    path = wiring.prometheus_config_path(home)
    (spec,) = prom.files
    assert spec.path == str(path) and not spec.secrets
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(spec.content)
    document = yaml.safe_load(path.read_text())
    assert document["global"]["scrape_interval"] == "2s"
    assert document["global"]["scrape_timeout"] == "2s"  # never longer than the interval
    jobs = {job["job_name"]: job["static_configs"][0]["targets"] for job in document["scrape_configs"]}
    assert jobs == {"airdeck-statsd": ["127.0.0.1:19102"], "prometheus": ["127.0.0.1:19090"]}
    assert "alerting" not in document  # no Alertmanager configured
    for pattern in document["rule_files"]:
        assert Path(pattern).is_absolute() and list(Path(pattern).parent.glob(Path(pattern).name))
    assert not prom.depends_on and wiring.PROMETHEUS in _components(running, home)["api-server"].depends_on
    assert f"--config.file={path}" in prom.argv
    assert "--web.listen-address=127.0.0.1:19090" in prom.argv
    assert ("observability.prometheus.port", 19090) in running.local_ports()
    assert prom.ports == (("observability.prometheus.port", 19090),)

    promtool = shutil.which("promtool")
    if promtool is not None:  # CI installs it (Debian package prometheus)
        result = subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr

    # `status`/`down` in another process (flag not given, not in airdeck.yaml) see Prometheus through the
    # options the running platform was started with; a plain `up` drops it again
    later = _config(bridge={"metrics_port": 19102})
    assert wiring.PROMETHEUS in _components(effective_config(later, {"with_prometheus": True}), home)
    assert wiring.PROMETHEUS not in _components(effective_config(later, {"with_prometheus": False}), home)



def test_with_prometheus_alertmanagers(tmp_path: Path) -> None:
    cfg = _config(prometheus={"alertmanagers": ["127.0.0.1:9093"]})
    document = wiring.render_prometheus_config(cfg)
    assert document["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:9093"]


def test_with_prometheus_without_binary_fails_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wiring, "prometheus_binary", lambda: None)
    with pytest.raises(ObservabilityFileError, match="apt-get install prometheus"):
        wiring.check_files(_Runtime(effective_config(_config(), {"with_prometheus": True}),  # type: ignore[arg-type]
                                    _home(tmp_path)))


def test_missing_mapping_fails_with_the_key(tmp_path: Path) -> None:
    cfg = _config(bridge={"mapping": str(tmp_path / "nope.yml")})
    with pytest.raises(ObservabilityFileError, match="observability.bridge.mapping"):
        wiring.check_files(_Runtime(cfg, _home(tmp_path)))  # type: ignore[arg-type]


def test_cli_registers_metrics_bridge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    from airdeck.cli.main import main

    monkeypatch.setenv("AIRDECK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AIRDECK_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["metrics-bridge", "--check-config"]) == 0
    assert "statsd-mapping.yml: OK" in capsys.readouterr().out


def test_airflow_statsd_client_is_installed() -> None:
    """Without the ``statsd`` package Airflow logs one error and sends nothing (NoStatsLogger)."""
    from airflow._shared.observability.metrics.statsd_logger import get_statsd_logger
    from statsd import StatsClient

    logger = get_statsd_logger(stats_class=StatsClient, host="127.0.0.1", port=9, prefix="airflow",
                               influxdb_tags_enabled=True, statsd_disabled_tags=wiring.DISABLED_TAGS,
                               statsd_influxdb_enabled=True)
    assert type(logger).__name__ == "SafeStatsdLogger"


def test_bundled_prometheus_scrapes_the_alert_dispatcher_when_alerts_are_on(tmp_path: Path) -> None:
    """The dispatcher's /metrics is where the alert-pipeline rules look (job airdeck-alerts)."""
    from airdeck.config.loader import parse_config

    with_alerts = parse_config({"alerts": {"channels": {"ops": {"type": "slack", "connection": "slack_ops"}},
                                           "dispatcher": {"port": 19465}}})
    jobs = {j["job_name"]: j for j in wiring.render_prometheus_config(with_alerts)["scrape_configs"]}
    assert jobs[wiring.ALERTS_JOB]["static_configs"] == [{"targets": ["127.0.0.1:19465"]}]
    rules = (Path(wiring.__file__).resolve().parents[3] / "prometheus" / "rules" / "alerts.yml").read_text()
    assert 'job="airdeck-alerts"' in rules
    without = {j["job_name"] for j in wiring.render_prometheus_config(_config())["scrape_configs"]}
    assert wiring.ALERTS_JOB not in without, "no dispatcher, no target that is always down"
