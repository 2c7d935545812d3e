"""StatsD line parsing with statsd_exporter's rules (``pkg/line``).

A line is ``name:value|type[|@rate][|#k:v,...][|c:container][|T<unix>]``; one datagram may hold
many lines separated by ``\\n``. Supported on top of plain StatsD, all on by default as upstream:

* several samples per line: ``name:1|c:2|c`` (not together with DogStatsD tags);
* DogStatsD extended aggregation for timers/histograms/distributions: ``name:1:2:3|ms``;
* tags in the name: SignalFX ``name[k=v,...]``, Librato ``name#k=v,...``, InfluxDB ``name,k=v,...``;
* DogStatsD tags ``|#k:v,...``; mixing name tags with DogStatsD tags rejects the line.

Timers (``ms``) are converted to seconds; ``h`` and ``d`` are not scaled. Counters are divided by
the sample rate; observations are repeated ``int(1/rate)`` times; gauges ignore the rate. A gauge
value written with a leading sign is relative. Sets (``s``) are rejected.

Nothing here raises on bad input: every problem is counted in :class:`ParseCounters` under the
same ``reason`` values statsd_exporter uses for ``statsd_exporter_sample_errors_total``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from airdeck.metrics.escape import escape_metric_name
from airdeck.metrics.gocompat import parse_go_float

COUNTER = "counter"
GAUGE = "gauge"
OBSERVER = "observer"

_OBSERVER_TYPES = frozenset(("ms", "h", "d"))


class Event:
    """One parsed sample: ``kind`` is ``counter``, ``gauge`` or ``observer``."""

    __slots__ = ("kind", "name", "value", "relative", "labels")

    def __init__(self, kind: str, name: str, value: float, relative: bool, labels: dict[str, str]):
        self.kind = kind
        self.name = name
        self.value = value
        self.relative = relative
        self.labels = labels

    def __repr__(self) -> str:
        return f"Event({self.kind!r}, {self.name!r}, {self.value!r}, relative={self.relative}, labels={self.labels!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return (
            self.kind == other.kind
            and self.name == other.name
            and self.relative == other.relative
            and self.labels == other.labels
            and (self.value == other.value or (self.value != self.value and other.value != other.value))
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass
class ParseCounters:
    """Counts behind ``statsd_exporter_{samples,tags,tag_errors,sample_errors}_total``."""

    samples: int = 0
    tags: int = 0
    tag_errors: int = 0
    sample_errors: dict[str, int] = field(default_factory=dict)

    def sample_error(self, reason: str) -> None:
        self.sample_errors[reason] = self.sample_errors.get(reason, 0) + 1


@dataclass(frozen=True)
class TagStyles:
    """Which tagging styles are parsed; statsd_exporter enables all four by default."""

    dogstatsd: bool = True
    influxdb: bool = True
    librato: bool = True
    signalfx: bool = True


class LineParser:
    def __init__(self, counters: ParseCounters | None = None, styles: TagStyles | None = None):
        self.counters = counters if counters is not None else ParseCounters()
        self.styles = styles or TagStyles()

    # -- tags -----------------------------------------------------------------------------------

    def _parse_tag(self, tag: str, separator: str, labels: dict[str, str]) -> None:
        if not tag:
            self.counters.tag_errors += 1
            return
        key, sep, value = tag.partition(separator)
        if not sep or not key or not value:
            self.counters.tag_errors += 1
            return
        labels[escape_metric_name(key)] = value

    def _parse_name_tags(self, component: str, labels: dict[str, str]) -> None:
        parts = component.split(",")
        if parts[-1] == "":
            parts.pop()  # a trailing comma is not an empty tag upstream
        for tag in parts:
            self._parse_tag(tag, "=", labels)

    def _parse_dogstatsd_tags(self, component: str, labels: dict[str, str]) -> None:
        if not self.styles.dogstatsd:
            return
        parts = component.split(",")
        if parts[-1] == "":
            parts.pop()
        for tag in parts:
            if tag.startswith("#"):
                tag = tag[1:]
            self._parse_tag(tag, ":", labels)

    def _parse_name_and_tags(self, name: str, labels: dict[str, str]) -> str:
        if self.styles.signalfx:
            start = name.find("[")
            end = name.find("]")
            if start != -1 and end != -1 and start < end:
                self._parse_name_tags(name[start + 1 : end], labels)
                return name[:start] + name[end + 1 :]
            if start != -1 or end != -1:
                # One bracket only (or "]" before "["): upstream leaves the name unparsed.
                self.counters.tag_errors += 1
                return name
        for index, char in enumerate(name):
            if (char == "#" and self.styles.librato) or (char == "," and self.styles.influxdb):
                self._parse_name_tags(name[index + 1 :], labels)
                return name[:index]
        return name

    # -- lines ----------------------------------------------------------------------------------

    def parse(self, line: str) -> list[Event]:
        """All events of one line (already decoded; invalid UTF-8 is the caller's malformed_line)."""
        events: list[Event] = []
        if not line:
            return events
        counters = self.counters
        name_part, sep, rest = line.partition(":")
        if not sep or not name_part:
            counters.sample_error("malformed_line")
            return events

        labels: dict[str, str] = {}
        metric = self._parse_name_and_tags(name_part, labels)
        using_dogstatsd_tags = "|#" in rest
        if using_dogstatsd_tags and labels:
            counters.sample_error("mixed_tagging_styles")
            return events

        line_parts = rest.split("|", 2)
        if len(line_parts) < 2:
            counters.sample_error("not_enough_parts_after_colon")
            return events
        if ":" in line_parts[0]:
            # DogStatsD extended aggregation: several values sharing one type and suffix.
            if line_parts[1] not in _OBSERVER_TYPES:
                counters.sample_error("invalid_extended_aggregate_type")
                return events
            suffix = rest.split("|", 1)[1]
            samples = [f"{value}|{suffix}" for value in line_parts[0].split(":")]
        elif using_dogstatsd_tags:
            samples = [rest]
        else:
            samples = rest.split(":")

        for sample in samples:
            counters.samples += 1
            components = sample.split("|")
            if len(components) < 2 or len(components) > 8:
                counters.sample_error("malformed_component")
                continue
            value_str, stat_type = components[0], components[1]
            relative = value_str[:1] in ("+", "-")
            try:
                value = parse_go_float(value_str)
            except ValueError:
                counters.sample_error("malformed_value")
                continue

            repeat = 1
            extras = components[2:]
            if extras:
                if any(not component for component in extras):
                    counters.sample_error("malformed_component")
                    continue
                bad_sample = False
                for component in extras:
                    first = component[0]
                    if first == "@":
                        try:
                            rate = parse_go_float(component[1:])
                        except ValueError:
                            counters.sample_error("invalid_sample_factor")
                            rate = 0.0
                        if rate == 0:
                            rate = 1.0
                        if stat_type == "c":
                            value /= rate
                        elif stat_type in _OBSERVER_TYPES:
                            repeat = _repeat_count(rate)
                    elif first == "#":
                        self._parse_dogstatsd_tags(component[1:], labels)
                    elif first == "c":
                        if component.startswith("c:") and len(component) > 2:
                            labels["container_id"] = component[2:]
                        else:
                            counters.sample_error("malformed_container_id")
                            bad_sample = True
                            break
                    elif first == "T":
                        if len(component) < 2 or not _is_go_int64(component[1:]):
                            counters.sample_error("malformed_timestamp")
                            bad_sample = True
                            break
                    else:
                        counters.sample_error("invalid_sample_factor")
                        bad_sample = True
                        break
                if bad_sample:
                    continue

            if labels:
                counters.tags += 1

            if stat_type == "c":
                kind, relative_flag = COUNTER, False
            elif stat_type == "g":
                kind, relative_flag = GAUGE, relative
            elif stat_type == "ms":
                kind, relative_flag, value = OBSERVER, False, value / 1000
            elif stat_type in ("h", "d"):
                kind, relative_flag = OBSERVER, False
            else:
                # "s" (sets) and anything unknown: one illegal_event per would-be event.
                for _ in range(repeat):
                    counters.sample_error("illegal_event")
                continue
            for _ in range(repeat):
                # Events share the labels dict, as upstream; consumers copy before changing it.
                events.append(Event(kind, metric, value, relative_flag, labels))
        return events


def _repeat_count(rate: float) -> int:
    """Go's ``int(1 / rate)`` (0 for rates above 1 or below 0), bounded so that a hostile
    ``@0.0000001`` cannot make one datagram cost millions of observations."""
    try:
        inverse = 1 / rate
    except OverflowError:
        return _MAX_REPEAT
    if inverse != inverse or inverse < 1:
        return 0
    return int(min(inverse, _MAX_REPEAT))


# statsd_exporter would try to build 1/rate events; one datagram cannot justify more than this.
_MAX_REPEAT = 10_000


def _is_go_int64(text: str) -> bool:
    if not text or not text.lstrip("+-").isascii() or not text.lstrip("+-").isdigit():
        return False
    if text[0] in "+-" and len(text) == 1:
        return False
    try:
        return -(2**63) <= int(text) < 2**63
    except ValueError:
        return False
