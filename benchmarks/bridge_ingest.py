"""Metrics-bridge ingest benchmark (loopback only, bounded in count and time).

Measures, for ``airdeck metrics-bridge`` running as its own process:

1. sustained StatsD ingest: datagrams are paced at increasing rates for a few seconds each; a step
   passes when every line sent was counted by the bridge (``statsd_exporter_lines_total``) and the
   kernel dropped nothing (``statsd_exporter_udp_packet_drops_total``); the highest passing rate is
   the zero-loss rate. Done for 1 line per datagram (Airflow's StatsD client) and 20 lines per
   datagram (pipelining clients);
2. CPU seconds per 1000 lines in the bridge process at that rate;
3. latency and size of a ``/metrics`` scrape holding 10,000 counter/gauge series (and, separately,
   1,000 histogram series);
4. the same sustained test against a trivial UDP reader (a recv loop that only counts), the
   ceiling for any Python receiver on this machine.

Usage: ``.venv/bin/python benchmarks/bridge_ingest.py [--quick]``. Runs in well under 60 s.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

MAPPING = """
defaults:
  observer_type: histogram
  histogram_options: {buckets: [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600]}
mappings:
- match: airflow.ti.finish
  name: airflow_task_finish_total
- match: airflow.task.duration
  name: airflow_task_duration_seconds
- match: airflow.pool.open_slots
  name: airflow_pool_open_slots
  ttl: 5m
- match: bench.counter
  name: bench_counter_total
- match: bench.gauge
  name: bench_gauge
- match: bench.hist
  name: bench_hist_seconds
- match: "."
  match_type: regex
  name: dropped
  action: drop
"""

TRIVIAL_READER = r"""
import signal, socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(sys.argv[1]))
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
count = 0
lines = 0
def report(*_):
    print(count, lines, flush=True)
signal.signal(signal.SIGUSR1, report)
while True:
    try:
        data = sock.recv(65535)
    except InterruptedError:
        continue
    count += 1
    lines += data.count(b"\n") + 1
"""

RCVBUF = 4 * 1024 * 1024


def airflow_lines(n: int) -> list[bytes]:
    out = []
    for i in range(n):
        dag, task = f"dag_{i % 50}", f"group.task_{i % 20}"
        kind = i % 4
        if kind == 0:
            out.append(f"airflow.ti.finish,dag_id={dag},task_id={task},state=success:1|c")
        elif kind == 1:
            out.append(f"airflow.task.duration,dag_id={dag},task_id={task}:{(i * 37) % 90000}|ms")
        elif kind == 2:
            out.append(f"airflow.pool.open_slots,pool_name=pool_{i % 8}:{i % 128}|g")
        else:
            out.append(f"airflow.ti.start,dag_id={dag},task_id={task}:1|c")  # legacy twin: dropped
    return [line.encode() for line in out]


def send_paced(sock: socket.socket, target: tuple[str, int], payloads: list[bytes], rate: float, seconds: float) -> int:
    """Send datagrams at ``rate`` per second for ``seconds``; returns how many were sent."""
    tick = 0.002
    per_tick = max(1, round(rate * tick))
    sent = 0
    start = time.perf_counter()
    n = len(payloads)
    while True:
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
        due = int(elapsed / tick + 1) * per_tick
        while sent < due:
            sock.sendto(payloads[sent % n], target)
            sent += 1
        pause = start + (sent / per_tick) * tick - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    return sent


def scrape(port: int) -> tuple[str, float]:
    started = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:  # noqa: S310
        body = response.read().decode()
    return body, time.perf_counter() - started


def counter_value(body: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", body, re.M)
    return float(match.group(1)) if match else 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BridgeProcess:
    def __init__(self, mapping: Path):
        self.udp_port = free_port()
        self.web_port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "airdeck.metrics.cli",
                "--mapping",
                str(mapping),
                "--statsd-listen",
                f"127.0.0.1:{self.udp_port}",
                "--web-listen",
                f"127.0.0.1:{self.web_port}",
                "--udp-rcvbuf",
                str(RCVBUF),
                "--log-level",
                "warning",
            ]
        )
        self.ps = psutil.Process(self.proc.pid)
        deadline = time.monotonic() + 20
        while True:
            try:
                scrape(self.web_port)
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("bridge did not start") from None
                time.sleep(0.05)

    def cpu(self) -> float:
        times = self.ps.cpu_times()
        return times.user + times.system

    def counters(self) -> tuple[float, float]:
        body, _ = scrape(self.web_port)
        return counter_value(body, "statsd_exporter_lines_total"), counter_value(
            body, "statsd_exporter_udp_packet_drops_total"
        )

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)


class TrivialReader:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", TRIVIAL_READER, str(RCVBUF)], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        self.ps = psutil.Process(self.proc.pid)

    def cpu(self) -> float:
        times = self.ps.cpu_times()
        return times.user + times.system

    def counters(self) -> tuple[float, float]:
        assert self.proc.stdout is not None
        self.proc.send_signal(signal.SIGUSR1)
        _packets, lines = self.proc.stdout.readline().split()
        return float(lines), 0.0

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


def wait_settled(target, expected: float, timeout: float = 3.0) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        lines, drops = target.counters()
        if lines >= expected or time.monotonic() > deadline:
            return lines, drops
        time.sleep(0.05)


def sustained(target, port: int, payloads: list[bytes], lines_per_datagram: int, rates: list[int], seconds: float):  # type: ignore[no-untyped-def]
    """Step through datagram rates; returns (best zero-loss lines/s, cpu s per 1000 lines, rows)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    best = (0.0, float("nan"))
    rows = []
    stop_reason = "highest step passed"
    for rate in rates:
        base_lines, base_drops = target.counters()
        cpu0 = target.cpu()
        started = time.perf_counter()
        sent = send_paced(sock, ("127.0.0.1", port), payloads, rate, seconds)
        duration = time.perf_counter() - started
        lines, drops = wait_settled(target, base_lines + sent * lines_per_datagram)
        cpu = target.cpu() - cpu0
        got = lines - base_lines
        sent_lines = sent * lines_per_datagram
        lost = sent_lines - got
        achieved = sent_lines / duration
        rows.append((achieved, sent_lines, got, drops - base_drops, cpu / max(got, 1) * 1000))
        if lost or drops != base_drops:
            stop_reason = (
                f"loss at {achieved:,.0f} lines/s ({lost:,.0f} lines lost, {drops - base_drops:.0f} kernel drops)"
            )
            break
        best = (achieved, cpu / max(got, 1) * 1000)
        if achieved < 0.9 * rate * lines_per_datagram:
            stop_reason = f"the sender could not go faster than {achieved:,.0f} lines/s"
            break
    sock.close()
    return best[0], best[1], rows, stop_reason


def populate(port: int, web_port: int, lines: list[bytes], expect_series: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(0, len(lines), 20):
        sock.sendto(b"\n".join(lines[i : i + 20]), ("127.0.0.1", port))
        if i % 2000 == 0:
            time.sleep(0.01)
    sock.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        body, _ = scrape(web_port)
        if body.count("\nbench_") >= expect_series:
            return
        time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="shorter steps (for a smoke run)")
    args = parser.parse_args()
    seconds = 0.5 if args.quick else 1.5
    single = airflow_lines(4000)
    batched = [b"\n".join(single[i : i + 20]) for i in range(0, len(single), 20)]
    rates_single = [10000, 30000, 60000, 90000, 120000, 160000]
    rates_batched = [1000, 3000, 6000, 9000, 12000, 16000]
    began = time.monotonic()
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}, step {seconds:.1f}s")

    with tempfile.TemporaryDirectory() as tmp:
        mapping = Path(tmp) / "mapping.yml"
        mapping.write_text(MAPPING)

        reader = TrivialReader()
        try:
            ceiling1, ceiling_cpu1, _, why0 = sustained(reader, reader.port, single, 1, rates_single, seconds)
        finally:
            reader.stop()

        bridge = BridgeProcess(mapping)
        try:
            rate1, cpu1, rows1, why1 = sustained(bridge, bridge.udp_port, single, 1, rates_single, seconds)
            rate20, cpu20, rows20, why20 = sustained(bridge, bridge.udp_port, batched, 20, rates_batched, seconds)
        finally:
            bridge.stop()

        bridge = BridgeProcess(mapping)
        try:
            series = [f"bench.counter,id=c{i}:1|c".encode() for i in range(8000)]
            series += [f"bench.gauge,id=g{i}:{i}|g".encode() for i in range(2000)]
            populate(bridge.udp_port, bridge.web_port, series, 10000)
            timings, size = [], 0
            for _ in range(7):
                body, took = scrape(bridge.web_port)
                timings.append(took)
                size = len(body.encode())
            hist = [f"bench.hist,id=h{i}:{i % 5000}|ms".encode() for i in range(1000)]
            populate(bridge.udp_port, bridge.web_port, hist, 10000 + 1000 * 13)
            hist_timings, hist_size = [], 0
            for _ in range(7):
                body, took = scrape(bridge.web_port)
                hist_timings.append(took)
                hist_size = len(body.encode())
        finally:
            bridge.stop()

    print()
    print("sustained ingest, zero loss (lines counted == lines sent, kernel drops == 0):")
    print(
        f"  trivial UDP reader, 1 line/datagram : {ceiling1:9,.0f} lines/s   {ceiling_cpu1:.4f} CPU s/1000 lines"
        f"   (stopped: {why0})"
    )
    print(
        f"  bridge, 1 line/datagram             : {rate1:9,.0f} lines/s   {cpu1:.4f} CPU s/1000 lines"
        f"   (stopped: {why1})"
    )
    print(
        f"  bridge, 20 lines/datagram           : {rate20:9,.0f} lines/s   {cpu20:.4f} CPU s/1000 lines"
        f"   (stopped: {why20})"
    )
    for label, rows in (("1 line/datagram", rows1), ("20 lines/datagram", rows20)):
        print(
            f"  steps ({label}): "
            + "; ".join(f"{a:,.0f}/s sent {s:,.0f} got {g:,.0f} drops {d:.0f}" for a, s, g, d, _ in rows)
        )
    print("scrape of /metrics:")
    print(
        f"  10,000 counter/gauge series          : median {statistics.median(timings) * 1000:6.1f} ms, "
        f"{size / 1024:,.0f} KiB"
    )
    print(
        f"  + 1,000 histogram series (14k lines)  : median {statistics.median(hist_timings) * 1000:6.1f} ms, "
        f"{hist_size / 1024:,.0f} KiB"
    )
    print(f"total benchmark time: {time.monotonic() - began:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
