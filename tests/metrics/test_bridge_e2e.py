"""End to end: real UDP datagrams in, real HTTP scrapes out; the CLI as a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from bridge_helpers import parse_exposition, sample, types_of

from tests.harness import free_ports

MAPPING = """
defaults:
  observer_type: histogram
  histogram_options: {buckets: [0.1, 1, 10, 60]}
mappings:
- match: airflow.ti.finish
  name: airflow_task_finish_total
- match: airflow.task.duration
  name: airflow_task_duration_seconds
- match: airflow.pool.open_slots
  name: airflow_pool_open_slots
- match: airflow.scheduler_heartbeat
  name: airflow_scheduler_heartbeat_total
- match: "."
  match_type: regex
  name: dropped
  action: drop
"""


def test_airflow_style_traffic_becomes_series(live_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = live_bridge(MAPPING)
    bridge.send(
        "airflow.ti.finish,dag_id=etl,task_id=grp.load,state=success:1|c\n"
        "airflow.ti.finish,dag_id=etl,task_id=grp.load,state=success:1|c\n"
        "airflow.task.duration,dag_id=etl,task_id=grp.load:1500|ms\n"
        "airflow.pool.open_slots,pool_name=default_pool:128|g\n"
        "airflow.scheduler_heartbeat:1|c\n"
        "airflow.ti.finish.etl.grp.load.success:1|c"
    )
    samples = bridge.wait_for("statsd_exporter_lines_total", 6)
    assert sample(samples, "airflow_task_finish_total", dag_id="etl", task_id="grp.load", state="success") == 2
    assert sample(samples, "airflow_task_duration_seconds_bucket", dag_id="etl", task_id="grp.load", le="1") == 0
    assert sample(samples, "airflow_task_duration_seconds_bucket", dag_id="etl", task_id="grp.load", le="10") == 1
    assert sample(samples, "airflow_task_duration_seconds_sum", dag_id="etl", task_id="grp.load") == 1.5
    assert sample(samples, "airflow_pool_open_slots", pool_name="default_pool") == 128
    assert sample(samples, "airflow_scheduler_heartbeat_total") == 1
    assert sample(samples, "statsd_exporter_events_actions_total", action="drop") == 1
    assert sample(samples, "statsd_exporter_udp_packets_total") == 1
    assert sample(samples, "statsd_exporter_udp_packet_drops_total") == 0
    text = bridge.scrape()
    assert types_of(text)["airflow_task_finish_total"] == "counter"
    assert types_of(text)["airflow_task_duration_seconds"] == "histogram"


def test_many_datagrams_are_all_counted(live_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = live_bridge(MAPPING, udp_rcvbuf=4 * 1024 * 1024)
    for i in range(200):
        bridge.send(f"airflow.ti.finish,dag_id=d{i % 10},task_id=t,state=success:1|c")
        if i % 50 == 49:
            time.sleep(0.01)  # keep far below any buffer limit: this tests counting, not speed
    samples = bridge.wait_for("statsd_exporter_udp_packets_total", 200)
    total = sum(v for (name, _), v in samples.items() if name == "airflow_task_finish_total")
    assert total == 200


def test_health_index_and_unknown_paths(live_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = live_bridge()
    assert bridge.get("/-/healthy") == (200, "OK\n")
    assert bridge.get("/")[0] == 200
    assert bridge.get("/nope")[0] == 404


HOSTILE = [
    bytes(range(256)),
    os.urandom(4096),
    b"\x00\x00\x00",
    b"x" * 65000,
    b"a:" + b"1|c:" * 8000,
    b"name:1|c|#" + b"k:v," * 5000,
    b"n:1|c|#,,,:,::,#,#:",
    b"n:NaN|c\nn:Inf|g\nn:-Inf|ms\nn:1e400|c\nn:nan|h",
    b"n:1|c|@0\nn:1|ms|@1e-300\nn:1|h|@-1",
    b"\n\n\n\n",
    b"[[[]]]:1|c\n]:1|c\n[:1|g",
    "üñí.çødé,tâg=vålue:1|c".encode(),
    b"\xed\xa0\x80:1|c",
    b"a" * 300 + b".b:1|c",
]


def test_hostile_datagrams_are_counted_and_do_not_crash(live_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = live_bridge(MAPPING)
    for payload in HOSTILE:
        bridge.send(payload)
    bridge.send("airflow.scheduler_heartbeat:1|c")
    samples = bridge.wait_for("statsd_exporter_udp_packets_total", len(HOSTILE) + 1)
    assert bridge.get("/-/healthy")[0] == 200
    assert sample(samples, "airflow_scheduler_heartbeat_total") == 1
    errors = sum(v for (name, _), v in samples.items() if name == "statsd_exporter_sample_errors_total")
    assert errors >= 5
    assert (sample(samples, "statsd_exporter_tag_errors_total") or 0) > 0


def test_unmapped_traffic_without_mapping_file(live_bridge) -> None:  # type: ignore[no-untyped-def]
    bridge = live_bridge()
    bridge.send("some.metric,env=prod:3|g\nrt:10|ms")
    samples = bridge.wait_for("statsd_exporter_lines_total", 2)
    assert sample(samples, "some_metric", env="prod") == 3
    assert sample(samples, "rt_count") == 1
    assert sample(samples, "statsd_exporter_events_unmapped_total") == 2


# -- the CLI as a process ----------------------------------------------------------------------


def _run_cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airdeck.metrics.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


BAD_FILES = {
    "malformed yaml": ("mappings:\n- match: [a\n", "not valid YAML"),
    "unknown key": ("mappings:\n- match: a.b\n  name: a\n  nmae: b\n", 'unknown key "nmae"'),
    "deprecated timer_type": ("mappings:\n- match: a.b\n  name: a\n  timer_type: histogram\n", 'key "timer_type"'),
    "bad regex": ("mappings:\n- match: a(b\n  match_type: regex\n  name: a\n", "invalid regex"),
}


@pytest.mark.parametrize("content,message", list(BAD_FILES.values()), ids=list(BAD_FILES))
def test_cli_refuses_bad_mapping_files(tmp_path: Path, content: str, message: str) -> None:
    mapping = tmp_path / "statsd-mapping.yml"
    mapping.write_text(content)
    result = _run_cli("--mapping", str(mapping), "--statsd-listen", "127.0.0.1:0", "--web-listen", "127.0.0.1:0")
    assert result.returncode == 2
    assert str(mapping) in result.stderr and message in result.stderr
    assert "Traceback" not in result.stderr
    check = _run_cli("--check-config", "--mapping", str(mapping))
    assert check.returncode == 2 and message in check.stderr


def test_cli_missing_mapping_file(tmp_path: Path) -> None:
    result = _run_cli("--mapping", str(tmp_path / "absent.yml"), "--statsd-listen", "127.0.0.1:0")
    assert result.returncode == 2
    assert "mapping file not found" in result.stderr and "absent.yml" in result.stderr


def test_cli_check_config_ok(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yml"
    mapping.write_text(MAPPING)
    result = _run_cli("--check-config", "--mapping", str(mapping))
    assert result.returncode == 0 and "OK, 5 mappings" in result.stdout


def test_cli_bind_failure_names_the_address(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        result = _run_cli("--statsd-listen", f"127.0.0.1:{port}", "--web-listen", "127.0.0.1:0")
    assert result.returncode == 1
    assert f"udp://127.0.0.1:{port}" in result.stderr and "already in use" in result.stderr
    result = _run_cli("--statsd-listen", "nonsense")
    assert result.returncode == 1 and "HOST:PORT" in result.stderr


def test_cli_bad_flags_exit_2() -> None:
    assert _run_cli("--ttl-default", "soon").returncode == 2
    assert _run_cli("--udp-rcvbuf", "-5").returncode == 2


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:  # noqa: S310
        return response.read().decode()


def _wait_until(predicate, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def test_cli_serves_reloads_on_sighup_and_keeps_old_mapping_on_bad_file(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yml"
    mapping.write_text("mappings:\n- match: a\n  name: first_total\n")
    udp_port, web_port = free_ports(2)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airdeck.metrics.cli",
            "--mapping",
            str(mapping),
            "--statsd-listen",
            f"127.0.0.1:{udp_port}",
            "--web-listen",
            f"127.0.0.1:{web_port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:

        def up() -> bool:
            try:
                return "statsd_exporter_loaded_mappings 1" in _scrape(web_port)
            except OSError:
                return proc.poll() is not None

        _wait_until(up)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""

        def send_and_see(name: str) -> None:
            def seen() -> bool:
                sender.sendto(b"a:1|c", ("127.0.0.1", udp_port))
                return f"\n{name} " in _scrape(web_port)

            _wait_until(seen)

        send_and_see("first_total")
        mapping.write_text("mappings:\n- match: a\n  name: second_total\n")
        proc.send_signal(signal.SIGHUP)
        _wait_until(lambda: 'statsd_exporter_config_reloads_total{outcome="success"} 1' in _scrape(web_port))
        send_and_see("second_total")

        mapping.write_text("mappings:\n- match: a\n  name: third\n  timer_type: summary\n")
        proc.send_signal(signal.SIGHUP)
        _wait_until(lambda: 'statsd_exporter_config_reloads_total{outcome="failure"} 1' in _scrape(web_port))
        before = parse_exposition(_scrape(web_port))
        send_and_see("second_total")
        after = parse_exposition(_scrape(web_port))
        assert (sample(after, "second_total") or 0) > (sample(before, "second_total") or 0)
        assert sample(after, "third") is None
    finally:
        sender.close()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 0
    assert "keeping the previous mapping" in stderr and "timer_type" in stderr
