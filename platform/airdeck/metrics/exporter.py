"""Turn StatsD datagrams into registry updates (statsd_exporter's ``handleEvent``).

For each event: find the mapping; ``action: drop`` discards it; otherwise the metric name is the
expanded, escaped mapping name (or the escaped StatsD name when nothing matched), the labels are
the event's tags overlaid by the mapping's labels (tags win only with ``honor_labels``), ``scale``
multiplies the value, negative counter increments are refused, and the registry applies its type
rules. Every outcome is counted in :class:`~airdeck.metrics.selfmetrics.SelfMetrics`.

The hot path: a line of the plain form ``name[,tags]:value|type`` whose name part was seen before
skips tag parsing, mapping and label merging and goes straight to its series (the *series cache*,
keyed by the raw name part and type, cleared on reload, entries dropped when their series
expires). It is counted as a mapper-cache hit, which is what it is.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from airdeck.metrics.escape import escape_metric_name
from airdeck.metrics.gocompat import parse_go_float
from airdeck.metrics.line import COUNTER, GAUGE, Event, LineParser, TagStyles
from airdeck.metrics.mapper import DEFAULT_CACHE_SIZE, Mapper
from airdeck.metrics.mapping import (
    ACTION_DROP,
    DEFAULT_BUCKETS,
    OBSERVER_HISTOGRAM,
    MappingConfig,
    MetricMapping,
)
from airdeck.metrics.registry import (
    DEFAULT_HELP,
    HISTOGRAM,
    SUMMARY,
    Clock,
    Conflict,
    LabelTooLong,
    MetricRegistry,
    ObserverOptions,
    Series,
    SeriesLimit,
)
from airdeck.metrics.selfmetrics import SelfMetrics, reserved_names

_FAST_TYPES = frozenset(("c", "g", "ms", "h", "d"))
_SERIES_CACHE_LIMIT = 100_000
_DROP = "drop"


class _FastEntry:
    __slots__ = ("action", "series", "kind", "scale", "ms", "tagged", "buckets")

    def __init__(
        self,
        action: str,
        series: Series | None,
        kind: str,
        scale: float | None,
        ms: bool,
        tagged: bool,
        buckets: tuple[float, ...],
    ):
        self.action = action  # "map", "unmapped" or "drop"
        self.series = series
        self.kind = kind
        self.scale = scale
        self.ms = ms
        self.tagged = tagged
        self.buckets = buckets


def apply_ttl_default(config: MappingConfig, ttl_default: float) -> MappingConfig:
    """Use ``ttl_default`` where the mapping file sets no ttl (the file's own values win)."""
    if ttl_default > 0 and config.defaults.ttl == 0:
        config.defaults.ttl = ttl_default
        for mapping in config.mappings:
            if mapping.ttl == 0:
                mapping.ttl = ttl_default
    return config


class Exporter:
    def __init__(
        self,
        config: MappingConfig,
        clock: Clock,
        cache_size: int = DEFAULT_CACHE_SIZE,
        styles: TagStyles | None = None,
        max_series: int = 0,
    ):
        self.clock = clock
        self.metrics = SelfMetrics()
        self.parser = LineParser(self.metrics.parse, styles)
        self.registry = MetricRegistry(clock, reserved_names(), max_series)
        self.cache_size = cache_size
        self._fast: dict[tuple[str, str], _FastEntry] = {}
        self._fast_hits = 0
        self.mapper = Mapper(config, cache_size)
        self.set_config(config)
        metrics = self.metrics
        metrics.metrics_by_type = self.registry.counts_by_type
        metrics.series = self.registry.series_count
        metrics.series_limit = max_series
        metrics.cache_length = lambda: self.mapper.cache_length()
        metrics.cache_gets = lambda: self.mapper.cache_stats.gets + self._fast_hits
        metrics.cache_hits = lambda: self.mapper.cache_stats.hits + self._fast_hits

    def set_config(self, config: MappingConfig) -> Mapper:
        """Switch to a new mapping; call with ``registry.lock`` held once traffic flows."""
        mapper = Mapper(config, self.cache_size)
        # Keep the cache statistics monotonic across reloads.
        mapper.cache_stats = self.mapper.cache_stats
        self.mapper = mapper
        self._fast.clear()
        self.metrics.loaded_mappings = len(config.mappings)
        return mapper

    # -- datagrams and lines ----------------------------------------------------------------------

    def handle_packets(self, packets: Iterable[bytes]) -> None:
        with self.registry.lock:
            for packet in packets:
                self._handle_packet(packet)

    def handle_packet(self, packet: bytes) -> None:
        with self.registry.lock:
            self._handle_packet(packet)

    def _handle_packet(self, packet: bytes) -> None:
        self.metrics.udp_packets += 1
        try:
            lines: list[str | None] = list(packet.decode("utf-8").split("\n"))
        except UnicodeDecodeError:
            lines = []
            for raw in packet.split(b"\n"):
                try:
                    lines.append(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    lines.append(None)
        for line in lines:
            self.handle_line(line)

    def handle_line(self, line: str | None) -> None:
        """One line; None stands for a line that was not valid UTF-8."""
        metrics = self.metrics
        metrics.lines += 1
        if line is None:
            metrics.parse.sample_error("malformed_line")
            return
        if not line:
            return
        name_part, sep, rest = line.partition(":")
        fast_key = None
        if sep and rest.count("|") == 1 and ":" not in rest:
            value_str, stat_type = rest.split("|")
            if stat_type in _FAST_TYPES:
                fast_key = (name_part, stat_type)
                entry = self._fast.get(fast_key)
                if entry is not None and (entry.series is None or entry.series.alive):
                    try:
                        value = parse_go_float(value_str)
                    except ValueError:
                        pass  # the slow path counts it
                    else:
                        self._apply_fast(entry, value, value_str[:1] in ("+", "-"))
                        return
        tag_errors_before = metrics.parse.tag_errors
        events = self.parser.parse(line)
        cacheable = fast_key is not None and len(events) == 1 and metrics.parse.tag_errors == tag_errors_before
        for event in events:
            entry = self._handle_event(event, fast_key[1] == "ms" if fast_key else False)
            if cacheable and entry is not None:
                assert fast_key is not None
                if len(self._fast) >= _SERIES_CACHE_LIMIT:
                    self._fast.clear()
                self._fast[fast_key] = entry

    def _apply_fast(self, entry: _FastEntry, value: float, relative: bool) -> None:
        metrics = self.metrics
        self._fast_hits += 1
        metrics.parse.samples += 1
        if entry.tagged:
            metrics.parse.tags += 1
        action = entry.action
        if action == _DROP:
            metrics.actions[_DROP] = metrics.actions.get(_DROP, 0) + 1
            return
        if action == "map":
            metrics.actions["map"] = metrics.actions.get("map", 0) + 1
        else:
            metrics.unmapped += 1
        if entry.ms:
            value /= 1000
        if entry.scale is not None:
            value *= entry.scale
        series = entry.series
        assert series is not None
        kind = entry.kind
        if kind == COUNTER:
            if not self._counter_ok(value):
                return
            series.value += value
            metrics.events[COUNTER] += 1
        elif kind == GAUGE:
            if relative:
                series.value += value
            else:
                series.value = value
            metrics.events[GAUGE] += 1
        else:
            self._observe(kind, series, entry.buckets, value)
        series.last_seen = self.clock()

    # -- one event --------------------------------------------------------------------------------

    def _counter_ok(self, value: float) -> bool:
        if value < 0:
            self.metrics.error("illegal_negative_counter")
            return False
        if not math.isfinite(value):
            # statsd_exporter would add NaN/+Inf and poison the counter for good.
            self.metrics.error("illegal_non_finite_counter")
            return False
        return True

    def _observe(self, kind: str, series: Series, buckets: tuple[float, ...], value: float) -> None:
        if kind == HISTOGRAM:
            self.registry.observe_histogram(buckets, series, value)
        else:
            assert series.summary is not None
            series.summary.observe(value, self.clock())
        self.metrics.events["observer"] += 1

    def handle_event(self, event: Event) -> None:
        """Apply one parsed event (tests and embedders; takes the registry lock)."""
        with self.registry.lock:
            self._handle_event(event, False)

    def _handle_event(self, event: Event, from_ms: bool) -> _FastEntry | None:
        metrics = self.metrics
        mapper = self.mapper
        defaults = mapper.config.defaults
        result = mapper.get_mapping(event.name, event.kind)
        mapping: MetricMapping | None = result.mapping if result is not None else None
        tagged = bool(event.labels)
        if mapping is not None and mapping.action == ACTION_DROP:
            metrics.action(_DROP)
            return _FastEntry(_DROP, None, event.kind, None, from_ms, tagged, ())
        labels = event.labels
        if result is not None:
            assert mapping is not None
            if not result.name:
                metrics.error("empty_metric_name")
                return None
            name = escape_metric_name(result.name)
            if result.labels:
                labels = dict(labels)
                honor = mapping.honor_labels
                for key, label_value in result.labels.items():
                    if honor and key in event.labels:
                        continue
                    labels[key] = label_value
            metrics.action("map")
            help_text = mapping.help or DEFAULT_HELP
            ttl = mapping.ttl
            action = "map"
        else:
            metrics.unmapped += 1
            name = escape_metric_name(event.name)
            help_text = DEFAULT_HELP
            ttl = defaults.ttl
            action = "unmapped"

        value = event.value
        scale = mapping.scale if mapping is not None else None
        if scale is not None:
            value *= scale
        kind = event.kind
        registry = self.registry
        if kind == COUNTER:
            if not self._counter_ok(value):
                return None
            try:
                series = registry.get_series(name, COUNTER, labels, help_text, ttl)
            except Conflict:
                metrics.conflict(COUNTER, name)
                return None
            except (SeriesLimit, LabelTooLong) as exc:
                metrics.drop(exc)
                return None
            series.value += value
            metrics.events[COUNTER] += 1
            return _FastEntry(action, series, COUNTER, scale, from_ms, tagged, ())
        if kind == GAUGE:
            try:
                series = registry.get_series(name, GAUGE, labels, help_text, ttl)
            except Conflict:
                metrics.conflict(GAUGE, name)
                return None
            except (SeriesLimit, LabelTooLong) as exc:
                metrics.drop(exc)
                return None
            if event.relative:
                series.value += value
            else:
                series.value = value
            metrics.events[GAUGE] += 1
            return _FastEntry(action, series, GAUGE, scale, from_ms, tagged, ())

        observer_type = mapping.observer_type if mapping is not None else ""
        if not observer_type:
            observer_type = defaults.observer_type
        options = self._observer_options(mapping, observer_type)
        family_kind = HISTOGRAM if observer_type == OBSERVER_HISTOGRAM else SUMMARY
        try:
            series = registry.get_series(name, family_kind, labels, help_text, ttl, options)
        except Conflict:
            metrics.conflict("observer", name)
            return None
        except (SeriesLimit, LabelTooLong) as exc:
            metrics.drop(exc)
            return None
        family = registry.families[name]
        self._observe(family_kind, series, family.options.buckets, value)
        return _FastEntry(action, series, family_kind, scale, from_ms, tagged, family.options.buckets)

    def _observer_options(self, mapping: MetricMapping | None, observer_type: str) -> ObserverOptions:
        defaults = self.mapper.config.defaults
        if observer_type == OBSERVER_HISTOGRAM:
            buckets = defaults.histogram_options.buckets or DEFAULT_BUCKETS
            if mapping is not None and mapping.histogram_options and mapping.histogram_options.buckets:
                buckets = mapping.histogram_options.buckets
            return ObserverOptions(buckets=buckets)
        quantiles = defaults.summary_options.quantiles
        summary = mapping.summary_options if mapping is not None else None
        if summary is None:
            return ObserverOptions(quantiles=quantiles)
        return ObserverOptions(
            quantiles=summary.quantiles or quantiles,
            max_age=summary.max_age,
            age_buckets=summary.age_buckets,
            buf_cap=summary.buf_cap,
        )

    # -- housekeeping -----------------------------------------------------------------------------

    def sweep(self) -> int:
        """Delete expired series (statsd_exporter does this every second)."""
        with self.registry.lock:
            removed = self.registry.remove_stale()
        self.metrics.ttl_expired += removed
        return removed
