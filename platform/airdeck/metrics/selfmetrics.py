"""The bridge's own metrics, under statsd_exporter's names so the same alerts work for both.

The hot path bumps plain integers (a prometheus_client ``Counter.inc`` takes a lock per call);
:meth:`SelfMetrics.collect` turns them into prometheus_client metric families at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from airdeck.metrics.line import ParseCounters


@dataclass
class SelfMetrics:
    parse: ParseCounters = field(default_factory=ParseCounters)
    udp_packets: int = 0
    lines: int = 0
    events: dict[str, int] = field(default_factory=lambda: {"counter": 0, "gauge": 0, "observer": 0})
    unmapped: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    conflicts: dict[tuple[str, str], int] = field(default_factory=dict)
    config_reloads: dict[str, int] = field(default_factory=dict)
    loaded_mappings: int = 0
    ttl_expired: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # samples dropped to bound memory, by reason
    series_limit: int = 0
    # Filled in by the bridge at scrape time.
    udp_drops: Callable[[], float | None] = lambda: None
    metrics_by_type: Callable[[], dict[str, int]] = dict
    cache_length: Callable[[], int] = lambda: 0
    cache_gets: Callable[[], int] = lambda: 0
    cache_hits: Callable[[], int] = lambda: 0
    series: Callable[[], int] = lambda: 0

    def drop(self, exc: Exception) -> None:
        """A sample not stored: ``series_limit`` (a new series beyond the cap) or ``label_too_long``."""
        reason = "label_too_long" if type(exc).__name__ == "LabelTooLong" else "series_limit"
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def action(self, name: str) -> None:
        self.actions[name] = self.actions.get(name, 0) + 1

    def error(self, reason: str) -> None:
        self.errors[reason] = self.errors.get(reason, 0) + 1

    def conflict(self, kind: str, metric_name: str) -> None:
        key = (kind, metric_name)
        self.conflicts[key] = self.conflicts.get(key, 0) + 1

    def reload(self, outcome: str) -> None:
        self.config_reloads[outcome] = self.config_reloads.get(outcome, 0) + 1

    def collect(self) -> Iterator[Metric]:
        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            return CounterMetricFamily(name, doc, value=value)

        def counter_vec(name: str, doc: str, labels: list[str], values: Mapping[Any, float]) -> CounterMetricFamily:
            family = CounterMetricFamily(name, doc, labels=labels)
            for key, value in sorted(values.items()):
                family.add_metric(list(key) if isinstance(key, tuple) else [key], value)
            return family

        parse = self.parse
        yield counter_vec(
            "statsd_exporter_events_total", "The total number of StatsD events seen.", ["type"], self.events
        )
        yield counter(
            "statsd_exporter_events_unmapped_total",
            "The total number of StatsD events no mapping was found for.",
            self.unmapped,
        )
        yield counter_vec(
            "statsd_exporter_events_actions_total",
            "The total number of StatsD events by action.",
            ["action"],
            self.actions,
        )
        yield counter_vec(
            "statsd_exporter_events_error_total",
            "The total number of StatsD events discarded due to errors.",
            ["reason"],
            self.errors,
        )
        yield counter_vec(
            "statsd_exporter_events_conflict_total",
            "The total number of StatsD events with conflicting names.",
            ["type", "metric_name"],
            self.conflicts,
        )
        yield counter(
            "statsd_exporter_udp_packets_total",
            "The total number of StatsD packets received over UDP.",
            self.udp_packets,
        )
        drops = self.udp_drops()
        if drops is not None:
            yield counter(
                "statsd_exporter_udp_packet_drops_total",
                "The total number of StatsD packets the kernel dropped because the receive buffer was full.",
                drops,
            )
        yield counter("statsd_exporter_lines_total", "The total number of StatsD lines received.", self.lines)
        yield counter("statsd_exporter_samples_total", "The total number of StatsD samples received.", parse.samples)
        yield counter_vec(
            "statsd_exporter_sample_errors_total",
            "The total number of errors parsing StatsD samples.",
            ["reason"],
            parse.sample_errors,
        )
        yield counter("statsd_exporter_tags_total", "The total number of DogStatsD tags processed.", parse.tags)
        yield counter(
            "statsd_exporter_tag_errors_total",
            "The number of errors parsing DogStatsD tags.",
            parse.tag_errors,
        )
        yield counter_vec(
            "statsd_exporter_config_reloads_total",
            "The number of configuration reloads.",
            ["outcome"],
            self.config_reloads,
        )
        yield GaugeMetricFamily(
            "statsd_exporter_loaded_mappings",
            "The current number of configured metric mappings.",
            value=self.loaded_mappings,
        )
        by_type = GaugeMetricFamily("statsd_exporter_metrics_total", "The total number of metrics.", labels=["type"])
        for kind, count in sorted(self.metrics_by_type().items()):
            by_type.add_metric([kind], count)
        yield by_type
        yield GaugeMetricFamily(
            "statsd_metric_mapper_cache_length",
            "The count of unique metrics currently cached.",
            value=self.cache_length(),
        )
        yield counter(
            "statsd_metric_mapper_cache_gets_total",
            "The count of total metric cache gets.",
            self.cache_gets(),
        )
        yield counter(
            "statsd_metric_mapper_cache_hits_total",
            "The count of total metric cache hits.",
            self.cache_hits(),
        )
        yield counter(
            "airdeck_metrics_bridge_ttl_expired_series_total",
            "Series the bridge deleted because their mapping's ttl ran out.",
            self.ttl_expired,
        )
        dropped = CounterMetricFamily(
            "airdeck_metrics_bridge_dropped_samples_total",
            "Samples the bridge did not store to bound its memory: series_limit (a new series beyond "
            "observability.bridge.max_series) or label_too_long.",
            labels=["reason"],
        )
        for reason in ("label_too_long", "series_limit"):
            dropped.add_metric([reason], self.dropped.get(reason, 0))
        yield dropped
        yield GaugeMetricFamily(
            "airdeck_metrics_bridge_series", "Series the bridge holds now.", value=self.series()
        )
        yield GaugeMetricFamily(
            "airdeck_metrics_bridge_series_limit",
            "Most series the bridge holds (observability.bridge.max_series; 0: no limit).",
            value=self.series_limit,
        )


def reserved_names() -> frozenset[str]:
    """Every sample name the bridge uses for itself; mapped metrics may not take them."""
    names: set[str] = set()
    for family in SelfMetrics(udp_drops=lambda: 0).collect():
        names.add(family.name)
        names.add(family.name + "_total")
    return frozenset(names)
