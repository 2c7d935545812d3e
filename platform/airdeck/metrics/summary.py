"""Summary quantiles like client_golang's ``Summary`` (which statsd_exporter uses).

prometheus_client's Summary exposes no quantiles, so the bridge carries its own: a targeted-quantile
stream after Cormode, Korn, Muthukrishnan and Srivastava, "Effective Computation of Biased
Quantiles over Data Streams" (ICDE 2005), with the same conventions as client_golang/perks:

* each objective ``(quantile, error)`` bounds the rank error of that quantile;
* while fewer than ``buffer`` values arrived since the stream was reset, quantiles are exact
  (the value at rank ``ceil(n*q)``);
* observations older than ``max_age`` are forgotten through ``age_buckets`` streams that are reset
  in turn every ``max_age / age_buckets``; quantiles come from the oldest live stream; an empty
  window gives NaN. ``_sum`` and ``_count`` cover all time.
"""

from __future__ import annotations

import math

from airdeck.metrics.mapping import Quantile

DEFAULT_MAX_AGE = 600.0
DEFAULT_AGE_BUCKETS = 5
DEFAULT_BUF_CAP = 500


class _TargetedStream:
    __slots__ = ("targets", "values", "widths", "deltas", "n", "buffer", "buffer_cap")

    def __init__(self, targets: tuple[Quantile, ...], buffer_cap: int):
        self.targets = targets
        self.values: list[float] = []
        self.widths: list[float] = []
        self.deltas: list[float] = []
        self.n = 0.0
        self.buffer: list[float] = []
        self.buffer_cap = buffer_cap

    def _invariant(self, rank: float) -> float:
        smallest = math.inf
        n = self.n
        for target in self.targets:
            q, eps = target.quantile, target.error
            if q * n <= rank:
                bound = 2 * eps * rank / q if q > 0 else math.inf
            else:
                bound = 2 * eps * (n - rank) / (1 - q) if q < 1 else math.inf
            if bound < smallest:
                smallest = bound
        return smallest

    def insert(self, value: float) -> None:
        self.buffer.append(value)
        if len(self.buffer) >= self.buffer_cap:
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        self.buffer.sort()
        self._merge(self.buffer)
        self.buffer = []

    def _merge(self, batch: list[float]) -> None:
        values, widths, deltas = self.values, self.widths, self.deltas
        rank = 0.0
        i = 0
        for value in batch:
            while i < len(values):
                if values[i] > value:
                    delta = max(0.0, math.floor(self._invariant(rank)) - 1)
                    values.insert(i, value)
                    widths.insert(i, 1.0)
                    deltas.insert(i, delta)
                    i += 1
                    break
                rank += widths[i]
                i += 1
            else:
                values.append(value)
                widths.append(1.0)
                deltas.append(0.0)
                i += 1
            self.n += 1
            rank += 1
        self._compress()

    def _compress(self) -> None:
        values, widths, deltas = self.values, self.widths, self.deltas
        if len(values) < 2:
            return
        xi = len(values) - 1
        rank = self.n - 1 - widths[xi]
        for i in range(len(values) - 2, -1, -1):
            width = widths[i]
            if width + widths[xi] + deltas[xi] <= self._invariant(rank):
                widths[xi] += width
                del values[i], widths[i], deltas[i]
                xi -= 1
            else:
                xi = i
            rank -= width

    def count(self) -> int:
        return int(self.n) + len(self.buffer)

    def query(self, q: float) -> float:
        if not self.values:
            if not self.buffer:
                return math.nan
            self.buffer.sort()
            index = math.ceil(len(self.buffer) * q)
            return self.buffer[max(index - 1, 0) if index > 0 else 0]
        self.flush()
        target = math.ceil(q * self.n)
        target += math.ceil(self._invariant(target) / 2)
        values, widths, deltas = self.values, self.widths, self.deltas
        rank = 0.0
        for i in range(1, len(values)):
            rank += widths[i - 1]
            if rank + widths[i] + deltas[i] > target:
                return values[i - 1]
        return values[-1]

    def reset(self) -> None:
        self.values, self.widths, self.deltas = [], [], []
        self.n = 0.0
        self.buffer = []


class SummaryValue:
    """One summary series: sliding-window quantiles plus all-time ``sum`` and ``count``."""

    __slots__ = ("objectives", "streams", "head", "head_expires", "stream_duration", "sum", "count")

    def __init__(
        self,
        objectives: tuple[Quantile, ...],
        now: float,
        max_age: float = 0.0,
        age_buckets: int = 0,
        buf_cap: int = 0,
    ):
        max_age = max_age if max_age > 0 else DEFAULT_MAX_AGE
        age_buckets = age_buckets if age_buckets > 0 else DEFAULT_AGE_BUCKETS
        buf_cap = buf_cap if buf_cap > 0 else DEFAULT_BUF_CAP
        # client_golang keys objectives by quantile: a repeated quantile keeps the last error.
        unique = {o.quantile: o for o in objectives}
        self.objectives = tuple(sorted(unique.values(), key=lambda o: o.quantile))
        self.streams = [_TargetedStream(self.objectives, buf_cap) for _ in range(age_buckets)]
        self.head = 0
        self.stream_duration = max_age / age_buckets
        self.head_expires = now + self.stream_duration
        self.sum = 0.0
        self.count = 0

    def _rotate(self, now: float) -> None:
        if now <= self.head_expires:
            return
        behind = math.floor((now - self.head_expires) / self.stream_duration) + 1
        for _ in range(min(behind, len(self.streams))):
            self.streams[self.head].reset()
            self.head = (self.head + 1) % len(self.streams)
        self.head_expires += behind * self.stream_duration

    def observe(self, value: float, now: float) -> None:
        self._rotate(now)
        for stream in self.streams:
            stream.insert(value)
        self.sum += value
        self.count += 1

    def quantiles(self, now: float) -> list[tuple[float, float]]:
        self._rotate(now)
        head = self.streams[self.head]
        if head.count() == 0:
            return [(o.quantile, math.nan) for o in self.objectives]
        return [(o.quantile, head.query(o.quantile)) for o in self.objectives]


def exact_rank_value(sorted_values: list[float], q: float) -> float:
    """Reference helper for tests: the value at rank ``ceil(n*q)`` of sorted values."""
    index = max(math.ceil(len(sorted_values) * q) - 1, 0)
    return sorted_values[min(index, len(sorted_values) - 1)]
