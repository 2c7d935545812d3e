"""How observability plugs into the platform, without booting it.

- ``[metrics]`` of every service points at the bridge with the options Airflow 3.3.2 reads
  (names checked against Airflow's own config.yml), ``[traces]`` follows ``tracing.otlp_endpoint``.
- The OTLP environment selects Airflow's HTTP exporter (its default is gRPC).
- The bridge is a wave-0 service (before every Airflow service) with a real ``/-/healthy`` check.
- ``--with-prometheus``: the rendered Prometheus config passes ``promtool check config`` with the
  configured ports and absolute rule paths; a missing binary or mapping fails before anything starts.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from airdeck.config.model import AirdeckConfig
from airdeck.config.observability import ObservabilityFileError
from airdeck.config.render import airflow_settings, service_names
from airdeck.metrics import wiring
from airdeck.stack.services import build
from airdeck.state.home import AirdeckHome
from airdeck.state.secrets import SecretStore

REPO = Path(__file__).resolve().parents[2]


def _config(**observability: object) -> AirdeckConfig:
    return AirdeckConfig.model_validate({"observability": observability})


def _home(tmp_path: Path) -> AirdeckHome:
    home = AirdeckHome(tmp_path / "home")
    home.ensure()
    return home


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
    for service in [*service_names(cfg), "cli"]:
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
    assert wiring.airflow_settings(cfg, home, "scheduler")["metrics"] == {"statsd_on": "False"}
    assert not any(s.name == wiring.BRIDGE for s in build(cfg, home, SecretStore(home.secrets)))


def test_tracing_turns_on_otel_with_the_http_exporter(tmp_path: Path) -> None:
    cfg = _config(tracing={"otlp_endpoint": "http://127.0.0.1:4318/"})
    home = _home(tmp_path)
    assert wiring.airflow_settings(cfg, home, "worker-1")["traces"] == {"otel_on": "True"}
    assert wiring.airflow_settings(cfg, home, "cli")["traces"] == {"otel_on": "False"}
    env = wiring.otel_env(cfg, "worker-1")
    assert env["OTEL_TRACES_EXPORTER"] == "otlp_proto_http"  # Airflow's default "otlp" is gRPC
    assert env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] == "http://127.0.0.1:4318/v1/traces"
    from importlib.metadata import entry_points

    assert entry_points(group="opentelemetry_traces_exporter", name=env["OTEL_TRACES_EXPORTER"])
    secrets = SecretStore(home.secrets)
    secrets.ensure_all()
    for svc in build(cfg, home, secrets):
        if svc.name in service_names(cfg):
            assert svc.program.env["OTEL_TRACES_EXPORTER"] == "otlp_proto_http", svc.name
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
    secrets = SecretStore(home.secrets)
    secrets.ensure_all()
    services = build(cfg, home, secrets)
    bridge = next(s for s in services if s.name == wiring.BRIDGE)
    assert bridge.wave == 0
    assert all(s.wave > 0 for s in services if s.name in service_names(cfg))
    argv = bridge.program.argv
    assert argv[1:3] == ["-m", "airdeck.metrics.cli"]
    assert argv[argv.index("--statsd-listen") + 1] == "127.0.0.1:19125"
    assert argv[argv.index("--web-listen") + 1] == "127.0.0.1:19102"
    assert Path(argv[argv.index("--mapping") + 1]) == REPO / "prometheus" / "statsd-mapping.yml"
    assert ("observability.bridge.metrics_port", 19102) in cfg.local_ports()
    assert not bridge.check().healthy  # nothing listens yet: the check really asks /-/healthy
    assert not any(s.name == wiring.PROMETHEUS for s in services)


def test_bridge_health_check_against_a_running_bridge(tmp_path: Path) -> None:
    import socket
    import time

    from tests.harness import free_port, free_udp_port

    web, udp = free_port(), free_udp_port()
    cfg = _config(statsd={"port": udp}, bridge={"metrics_port": web})
    proc = subprocess.Popen(wiring.bridge_argv(cfg))
    try:
        check = wiring.bridge_service(cfg, 0, {}).check
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
    wiring.before_start(cfg, home, with_prometheus=True)
    assert cfg.observability.prometheus.enabled
    path = wiring.prometheus_config_path(home)
    document = yaml.safe_load(path.read_text())
    assert document["global"]["scrape_interval"] == "2s"
    assert document["global"]["scrape_timeout"] == "2s"  # never longer than the interval
    jobs = {job["job_name"]: job["static_configs"][0]["targets"] for job in document["scrape_configs"]}
    assert jobs == {"airdeck-statsd": ["127.0.0.1:19102"], "prometheus": ["127.0.0.1:19090"]}
    assert "alerting" not in document  # no Alertmanager configured
    for pattern in document["rule_files"]:
        assert Path(pattern).is_absolute() and list(Path(pattern).parent.glob(Path(pattern).name))
    services = build(cfg, home, SecretStore(home.secrets))
    prom = next(s for s in services if s.name == wiring.PROMETHEUS)
    assert prom.wave == 0 and f"--config.file={path}" in prom.program.argv
    assert "--web.listen-address=127.0.0.1:19090" in prom.program.argv
    assert ("observability.prometheus.port", 19090) in cfg.local_ports()

    promtool = shutil.which("promtool")
    if promtool is not None:  # CI installs it (Debian package prometheus)
        result = subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr

    # `status`/`down` in another process (flag not given, not in airdeck.yaml) still see Prometheus
    later = _config(bridge={"metrics_port": 19102})
    assert any(s.name == wiring.PROMETHEUS for s in build(later, home, SecretStore(home.secrets)))
    # a plain `up` drops it again
    wiring.before_start(later, home, with_prometheus=False)
    assert not any(s.name == wiring.PROMETHEUS for s in build(later, home, SecretStore(home.secrets)))



def test_with_prometheus_alertmanagers(tmp_path: Path) -> None:
    cfg = _config(prometheus={"alertmanagers": ["127.0.0.1:9093"]})
    document = wiring.render_prometheus_config(cfg)
    assert document["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:9093"]


def test_with_prometheus_without_binary_fails_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wiring, "prometheus_binary", lambda: None)
    with pytest.raises(ObservabilityFileError, match="apt-get install prometheus"):
        wiring.before_start(_config(), _home(tmp_path), with_prometheus=True)


def test_missing_mapping_fails_with_the_key(tmp_path: Path) -> None:
    cfg = _config(bridge={"mapping": str(tmp_path / "nope.yml")})
    with pytest.raises(ObservabilityFileError, match="observability.bridge.mapping"):
        wiring.before_start(cfg, _home(tmp_path), with_prometheus=False)


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
