"""Line parsing conformance: the scenarios of statsd_exporter's pkg/line tests, in our words."""

from __future__ import annotations

import pytest
from airdeck.metrics.line import COUNTER, GAUGE, OBSERVER, Event, LineParser, TagStyles


def ev(kind: str, name: str, value: float, labels: dict[str, str] | None = None, relative: bool = False) -> Event:
    return Event(kind, name, value, relative, labels or {})


TAGS = {"tag1": "bar", "tag2": "baz"}

CASES = {
    "empty": ("", []),
    "counter": ("foo:2|c", [ev(COUNTER, "foo", 2)]),
    "gauge": ("foo:3|g", [ev(GAUGE, "foo", 3)]),
    "gauge ignores sampling": ("foo:3|g|@0.2", [ev(GAUGE, "foo", 3)]),
    "gauge decrement is relative": ("foo:-10|g", [ev(GAUGE, "foo", -10, relative=True)]),
    "gauge increment is relative": ("foo:+4|g", [ev(GAUGE, "foo", 4, relative=True)]),
    "timer in seconds": ("foo:200|ms", [ev(OBSERVER, "foo", 0.2)]),
    "histogram not scaled": ("foo:200|h", [ev(OBSERVER, "foo", 200)]),
    "distribution not scaled": ("foo:200|d", [ev(OBSERVER, "foo", 200)]),
    "distribution sampled and tagged": (
        "foo:0.01|d|@0.2|#tag1:bar,#tag2:baz",
        [ev(OBSERVER, "foo", 0.01, TAGS)] * 5,
    ),
    "histogram sampled": ("foo:0.01|h|@0.2|#tag1:bar,#tag2:baz", [ev(OBSERVER, "foo", 0.01, TAGS)] * 5),
    "counter sampled": ("foo:1|c|@0.1", [ev(COUNTER, "foo", 10)]),
    "librato tags": ("foo#tag1=bar,tag2=baz:100|c", [ev(COUNTER, "foo", 100, TAGS)]),
    "librato tag keys escaped": (
        "foo#09digits=0,tag.with.dots=1:100|c",
        [ev(COUNTER, "foo", 100, {"_09digits": "0", "tag_with_dots": "1"})],
    ),
    "influxdb tags": ("foo,tag1=bar,tag2=baz:100|c", [ev(COUNTER, "foo", 100, TAGS)]),
    "influxdb tag keys escaped": (
        "foo,09digits=0,tag.with.dots=1:100|c",
        [ev(COUNTER, "foo", 100, {"_09digits": "0", "tag_with_dots": "1"})],
    ),
    "airflow influx tags with dotted ids": (
        "airflow.ti.finish,dag_id=etl,task_id=grp.load,state=success:1|c",
        [ev(COUNTER, "airflow.ti.finish", 1, {"dag_id": "etl", "task_id": "grp.load", "state": "success"})],
    ),
    "signalfx tags in the middle": ("foo.[tag1=bar,tag2=baz]test:100|c", [ev(COUNTER, "foo.test", 100, TAGS)]),
    "signalfx tags at the end": ("foo.test[tag1=bar,tag2=baz]:100|c", [ev(COUNTER, "foo.test", 100, TAGS)]),
    "signalfx tags at the start": ("[tag1=bar,tag2=baz]foo.test:100|c", [ev(COUNTER, "foo.test", 100, TAGS)]),
    "signalfx empty tags": ("foo.[]test:100|c", [ev(COUNTER, "foo.test", 100)]),
    "signalfx tags without values": ("foo.[tag1,tag2]test:100|c", [ev(COUNTER, "foo.test", 100)]),
    "signalfx missing closing bracket": (
        "[tag1=bar,tag2=bazfoo.test:100|c",
        [ev(COUNTER, "[tag1=bar,tag2=bazfoo.test", 100)],
    ),
    "signalfx missing opening bracket": (
        "tag1=bar,tag2=baz]foo.test:100|c",
        [ev(COUNTER, "tag1=bar,tag2=baz]foo.test", 100)],
    ),
    "dogstatsd tags": ("foo:100|c|#tag1:bar,tag2:baz", [ev(COUNTER, "foo", 100, TAGS)]),
    "dogstatsd # before every key": ("foo:100|c|#tag1:bar,#tag2:baz", [ev(COUNTER, "foo", 100, TAGS)]),
    "dogstatsd tag keys escaped": (
        "foo:100|c|#09digits:0,tag.with.dots:1",
        [ev(COUNTER, "foo", 100, {"_09digits": "0", "tag_with_dots": "1"})],
    ),
    "dogstatsd valueless tag ignored": ("foo:100|c|#tag_without_a_value", [ev(COUNTER, "foo", 100)]),
    "dogstatsd valueless tag among others": (
        "foo:100|c|#tag_without_a_value,tag:value",
        [ev(COUNTER, "foo", 100, {"tag": "value"})],
    ),
    "dogstatsd empty tags": ("foo:100|c|#tag:value,,", [ev(COUNTER, "foo", 100, {"tag": "value"})]),
    "dogstatsd sampled": ("foo:100|c|@0.1|#tag1:bar,#tag2:baz", [ev(COUNTER, "foo", 1000, TAGS)]),
    "dogstatsd value with colons": ("foo:100|c|@0.1|#tag1:foo:bar", [ev(COUNTER, "foo", 1000, {"tag1": "foo:bar"})]),
    "librato and dogstatsd mixed": ("foo#tag1=foo,tag3=bing:100|c|#tag1:bar,#tag2:baz", []),
    "signalfx and dogstatsd mixed": ("foo[tag1=foo,tag3=bing]:100|c|#tag1:bar,#tag2:baz", []),
    "influxdb and dogstatsd mixed": ("foo,tag1=foo,tag3=bing:100|c|#tag1:bar,#tag2:baz", []),
    "mixed styles with sampling": ("foo#tag1=foo,tag3=bing:100|c|@0.1|#tag1:bar,#tag2:baz", []),
    "extended aggregation": (
        "foo_timing:0.5:120:3000|ms|#tag1:bar,tag2:baz",
        [ev(OBSERVER, "foo_timing", v, TAGS) for v in (0.0005, 0.12, 3.0)],
    ),
    "extended aggregation sampled": (
        "foo_timing:0.5:120|ms|@0.5",
        [ev(OBSERVER, "foo_timing", v) for v in (0.0005, 0.0005, 0.12, 0.12)],
    ),
    "extended aggregation on histogram": ("foo:1:2|h", [ev(OBSERVER, "foo", 1), ev(OBSERVER, "foo", 2)]),
    "extended aggregation not for counters": ("foo:1:2|c|#a:b", []),
    "multiple samples": (
        "foo:100|c:200|c:300|g",
        [ev(COUNTER, "foo", 100), ev(COUNTER, "foo", 200), ev(GAUGE, "foo", 300)],
    ),
    "multiple samples, one bad": ("foo:1|c:bar|c:2|c", [ev(COUNTER, "foo", 1), ev(COUNTER, "foo", 2)]),
    "container id": ("foo:1|c|#a:b|c:abc123", [ev(COUNTER, "foo", 1, {"a": "b", "container_id": "abc123"})]),
    "timestamp ignored": ("foo:1|g|#a:b|T1656581400", [ev(GAUGE, "foo", 1, {"a": "b"})]),
    "bad timestamp": ("foo:1|g|#a:b|Tnope", []),
    "sets rejected": ("foo:1|s", []),
    "unknown type": ("foo:1|x", []),
    "no value": ("foo", []),
    "no type": ("foo:1", []),
    "empty name": (":1|c", []),
    "bad value": ("foo:one|c", []),
    "whitespace in value": ("foo: 1|c", []),
    "underscore in value": ("foo:1_000|c", []),
    "empty component": ("foo:1|c||#a:b", []),
    "too many components": ("foo:1|c|@1|#a:b|c:x|T1|@1|@1|@1", []),
    "bad sampling factor still counts": ("foo:1|c|@x", [ev(COUNTER, "foo", 1)]),
    "rate above one drops observations": ("foo:1|ms|@2", []),
    "hex float value": ("foo:0x1p-2|g", [ev(GAUGE, "foo", 0.25)]),
    "nan gauge": ("foo:NaN|g", [ev(GAUGE, "foo", float("nan"))]),
}


@pytest.mark.parametrize("line,expected", list(CASES.values()), ids=list(CASES))
def test_line_to_events(line: str, expected: list[Event]) -> None:
    assert LineParser().parse(line) == expected


ERRORS = {
    "foo": "malformed_line",
    ":1|c": "malformed_line",
    "foo:1": "not_enough_parts_after_colon",
    "foo:1|c|@1|#a:b|c:x|T1|@1|@1|@1": "malformed_component",
    "foo:1|c||#a:b": "malformed_component",
    "foo:one|c": "malformed_value",
    "foo,a=b:1|c|#c:d": "mixed_tagging_styles",
    "foo:1:2|c|#a:b": "invalid_extended_aggregate_type",
    "foo:1|c|x": "invalid_sample_factor",
    "foo:1|c|#a:b|cx": "malformed_container_id",
    "foo:1|c|#a:b|T": "malformed_timestamp",
    "foo:1|s": "illegal_event",
}


@pytest.mark.parametrize("line,reason", list(ERRORS.items()))
def test_errors_are_counted_by_reason(line: str, reason: str) -> None:
    parser = LineParser()
    assert parser.parse(line) == []
    assert parser.counters.sample_errors == {reason: 1}


def test_sample_and_tag_counters() -> None:
    parser = LineParser()
    parser.parse("foo:1|c:2|c")
    parser.parse("foo,a=b:1|c")
    parser.parse("foo:1|c|#a:b,broken,:x")
    assert parser.counters.samples == 4
    assert parser.counters.tags == 2
    assert parser.counters.tag_errors == 2


def test_tag_styles_can_be_disabled() -> None:
    parser = LineParser(styles=TagStyles(dogstatsd=False, influxdb=False, librato=False, signalfx=False))
    assert parser.parse("foo,a=b:1|c") == [ev(COUNTER, "foo,a=b", 1)]
    assert parser.parse("foo:1|c|#a:b") == [ev(COUNTER, "foo", 1)]


def test_hostile_sample_rate_is_bounded() -> None:
    events = LineParser().parse("foo:1|ms|@0.0000000001")
    assert 0 < len(events) <= 10_000


def test_reversed_signalfx_brackets_do_not_crash() -> None:
    parser = LineParser()
    assert parser.parse("a]b[c:1|c") == [ev(COUNTER, "a]b[c", 1)]
    assert parser.counters.tag_errors == 1


def test_a_hex_float_beyond_float64_is_a_bad_value_not_a_crash() -> None:
    """`0x1p80702` overflows float64: Go's ParseFloat returns ±Inf with an error, so the line is invalid
    (found by the statsd fuzzer, kept in its corpus as hex-float-overflow)."""
    from airdeck.metrics.gocompat import parse_go_float
    from airdeck.metrics.line import LineParser, ParseCounters

    with pytest.raises(ValueError, match="out of range"):
        parse_go_float("0x1p0080702")
    assert list(LineParser(ParseCounters()).parse("z:0x1p0080702|ms")) == []
