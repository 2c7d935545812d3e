"""The test harness's port allocator (tests/harness.py): ports that two test processes, the kernel's
outgoing connections and a busy neighbour cannot make collide. Real sockets, real processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from airdeck.config.loader import parse_config

from tests import harness
from tests.harness import REPO, ephemeral_range, free_port, port_block, write_config

DRAW = """
import json, sys
from tests.harness import free_port, free_ports
ports = [free_port(span=2) for _ in range(20)] + free_ports(40)
print(json.dumps(ports), flush=True)
sys.stdin.read()  # hold the reservations until the test has seen both processes' ports
"""


@contextmanager
def _drawing(worker: str) -> Iterator[subprocess.Popen[str]]:
    env = {**os.environ, "PYTEST_XDIST_WORKER": worker, "PYTEST_XDIST_WORKER_COUNT": "2"}
    proc = subprocess.Popen([sys.executable, "-c", DRAW], cwd=REPO, env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait(10)


def _draw_at_once(first: str, second: str) -> tuple[list[int], list[int]]:
    with _drawing(first) as a, _drawing(second) as b:
        assert a.stdout is not None and b.stdout is not None
        return json.loads(a.stdout.readline()), json.loads(b.stdout.readline())


def test_two_xdist_processes_draw_from_disjoint_blocks_outside_the_ephemeral_range() -> None:
    gw0, gw1 = _draw_at_once("gw0", "gw1")
    low, high = ephemeral_range()
    for ports, worker in ((gw0, "gw0"), (gw1, "gw1")):
        assert len(set(ports)) == len(ports)
        assert all(port in port_block(worker, 2) for port in ports)
        assert not any(low <= port <= high for port in ports)
    assert not set(gw0) & set(gw1)
    blocks = [set(port_block(worker, 2)) for worker in ("", "gw0", "gw1")]
    assert not blocks[0] & blocks[1] and not blocks[1] & blocks[2] and not blocks[0] & blocks[2]
    assert all(len(block) > 5000 for block in blocks)


def test_two_runs_with_the_same_worker_id_skip_each_others_ports() -> None:
    # Two test runs on one machine (two checkouts): both are gw0, the reservations keep them apart.
    first, second = _draw_at_once("gw0", "gw0")
    assert not set(first) & set(second)
    spans = [first[i] + 1 for i in range(20)]  # free_port(span=2) kept the successor for the first run
    assert not set(spans) & set(second)


def test_a_port_is_never_handed_out_twice_in_a_process() -> None:
    ports = [free_port() for _ in range(30)] + [free_port(span=3) for _ in range(5)]
    assert len(set(ports)) == len(ports)


@pytest.fixture
def quiet_block(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """This process draws from the block of xdist process gw7 of 8, which no test run here uses, from a
    place where 8 ports in a row are free: the ports the allocator tries next are known (another run's
    reservations in our own block would make it skip some)."""
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw7")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "8")
    block = port_block()
    # Start where 8 ports in a row are free now (an earlier run may have left one in TIME_WAIT).
    start = next(i for i in range(len(block) - 8) if block[i + 7] == block[i] + 7
                 and all(p not in harness._handed_out and harness._bindable(p) for p in block[i:i + 8]))
    monkeypatch.setattr(harness, "_next_index", start)
    return block


def test_busy_ports_and_busy_successors_are_skipped(quiet_block: list[int]) -> None:
    before = free_port()
    # The allocator goes up from there; occupy what it would hand out next, each in another way.
    listening = socket.socket()
    listening.bind(("127.0.0.1", before + 2))
    listening.listen()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", before + 4))
    try:
        got = free_port(span=2)  # before+1 is free but its successor is not; before+3's successor is UDP-busy
        assert got >= before + 5, (before, got)
        single = free_port()
        assert single not in (before + 2, before + 4) and single > got + 1
    finally:
        listening.close()
        udp.close()


def test_a_port_in_time_wait_is_skipped(quiet_block: list[int]) -> None:
    before = free_port()
    target = before + 1
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", target))
    server.listen()
    client = socket.create_connection(("127.0.0.1", target))
    accepted, _ = server.accept()
    accepted.close()  # the side that closes first keeps (target, client) in TIME_WAIT
    server.close()
    client.close()
    probe = socket.socket()
    try:
        probe.bind(("127.0.0.1", target))
        time_wait = False
    except OSError:
        time_wait = True
    finally:
        probe.close()
    assert time_wait, "the kernel left no TIME_WAIT on the port (tcp_tw_reuse does not apply to bind)"
    assert free_port() != target


def test_write_config_chooses_every_port_the_platform_opens(tmp_path: Path) -> None:
    data = yaml.safe_load(write_config(tmp_path, {"workers": {"replicas": 2}}).read_text())
    data.setdefault("alerts", {})["channels"] = {"team": {"type": "slack", "connection": "slack_alerts"}}  # dispatcher
    data["observability"]["prometheus"]["enabled"] = True
    cfg = parse_config(data)
    ports = [port for _, port in cfg.local_ports()] + [cfg.observability.statsd.port]
    keys = {key for key, _ in cfg.local_ports()}
    assert {"api_server.port", "scheduler.health_check_port", "triggerer.log_server_port",
            "database.embedded.port", "broker.embedded.port", "alerts.dispatcher.port",
            "observability.bridge.metrics_port", "observability.prometheus.port"} <= keys
    assert len(set(ports)) == len(ports)
    assert all(port in port_block() for port in ports), ports
    # The workers' log ports count up: the harness kept the ones after the first for them.
    first = cfg.workers.log_server_port
    assert all(free_port() not in range(first, first + 4) for _ in range(10))
