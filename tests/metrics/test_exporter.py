"""Event handling, registry rules and exposition, driven through datagrams with a fake clock."""

from __future__ import annotations

import math

import pytest
from airdeck.metrics.gocompat import format_go_float
from airdeck.metrics.mapping import parse_mapping_yaml
from bridge_helpers import FakeClock, make_exporter, parse_exposition, render, sample, types_of


def feed(exporter, *lines: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    for line in lines:
        exporter.handle_packet(line.encode())
    return parse_exposition(render(exporter))


def test_unmapped_metric_keeps_escaped_name_and_tags() -> None:
    exporter = make_exporter()
    samples = feed(exporter, "my.app-requests,code=200:3|c", "my.app-requests,code=200:2|c")
    assert sample(samples, "my_app_requests", code="200") == 5
    assert sample(samples, "statsd_exporter_events_unmapped_total") == 2


def test_counter_name_is_exposed_verbatim() -> None:
    exporter = make_exporter("mappings:\n- match: a.b\n  name: plain_counter\n- match: a.c\n  name: c_total\n")
    text = render(exporter) if feed(exporter, "a.b:1|c", "a.c:1|c") else ""
    assert types_of(text)["plain_counter"] == "counter"
    assert types_of(text)["c_total"] == "counter"
    assert "plain_counter 1\n" in text and "c_total 1\n" in text
    assert "_created" not in text


def test_mapping_labels_win_over_tags_unless_honor_labels() -> None:
    exporter = make_exporter("""
mappings:
- match: a.*
  name: a_total
  labels: {job: mapped, kind: "$1", dagrun_id: ""}
- match: b.*
  name: b_total
  honor_labels: true
  labels: {job: mapped, kind: "$1"}
""")
    samples = feed(exporter, "a.x,job=tagged,dagrun_id=run1,extra=e:1|c", "b.y,job=tagged:1|c", "b.z:1|c")
    assert sample(samples, "a_total", job="mapped", kind="x", dagrun_id="", extra="e") == 1
    assert sample(samples, "b_total", job="tagged", kind="y") == 1
    assert sample(samples, "b_total", job="mapped", kind="z") == 1


def test_timer_to_seconds_then_scale() -> None:
    exporter = make_exporter("""
defaults: {observer_type: histogram}
mappings:
- match: t.ms
  name: t_seconds
  histogram_options: {buckets: [0.5, 1, 2]}
- match: t.scaled
  name: t_scaled
  scale: 0.001
  histogram_options: {buckets: [0.5, 1, 2]}
- match: g.*
  name: g
  scale: 2
""")
    samples = feed(exporter, "t.ms:1500|ms", "t.scaled:1500|h", "g.x:21|g")
    assert sample(samples, "t_seconds_sum") == 1.5
    assert sample(samples, "t_seconds_bucket", le="1") == 0
    assert sample(samples, "t_seconds_bucket", le="2") == 1
    assert sample(samples, "t_scaled_sum") == 1.5
    assert sample(samples, "g") == 42


def test_histogram_exposition_is_cumulative_and_go_formatted() -> None:
    exporter = make_exporter("""
mappings:
- match: h
  observer_type: histogram
  name: h_seconds
  histogram_options: {buckets: [0.005, 1, 1000000]}
""")
    text = render(exporter) if feed(exporter, "h:0.001|h", "h:0.5|h", "h:0.5|h", "h:2000000|h") else ""
    assert 'h_seconds_bucket{le="0.005"} 1\n' in text
    assert 'h_seconds_bucket{le="1"} 3\n' in text
    assert 'h_seconds_bucket{le="1e+06"} 3\n' in text
    assert 'h_seconds_bucket{le="+Inf"} 4\n' in text
    assert "h_seconds_count 4\n" in text
    assert types_of(text)["h_seconds"] == "histogram"


def test_default_observer_is_a_summary_with_default_quantiles() -> None:
    exporter = make_exporter()
    samples = feed(exporter, *(f"rt:{v}|h" for v in range(1, 11)))
    assert sample(samples, "rt", quantile="0.5") == 5
    assert sample(samples, "rt", quantile="0.9") == 9
    assert sample(samples, "rt", quantile="0.99") == 10
    assert sample(samples, "rt_count") == 10
    assert sample(samples, "rt_sum") == 55


def test_summary_window_forgets_old_observations() -> None:
    clock = FakeClock()
    exporter = make_exporter(
        "mappings:\n- match: s\n  observer_type: summary\n  name: s\n"
        "  summary_options: {max_age: 1m, age_buckets: 2}\n",
        clock,
    )
    feed(exporter, "s:1|h")
    clock.advance(61)
    samples = parse_exposition(render(exporter))
    assert math.isnan(sample(samples, "s", quantile="0.5"))  # type: ignore[arg-type]
    assert sample(samples, "s_count") == 1


def test_summary_quantiles_stay_within_their_error() -> None:
    exporter = make_exporter("mappings:\n- match: s\n  observer_type: summary\n  name: s\n")
    values = [(i * 7919) % 5000 for i in range(5000)]
    exporter.handle_packets("\n".join(f"s:{v}|h" for v in values[i : i + 100]).encode() for i in range(0, 5000, 100))
    samples = parse_exposition(render(exporter))
    ordered = sorted(values)
    for q, err in ((0.5, 0.05), (0.9, 0.01), (0.99, 0.001)):
        got = sample(samples, "s", quantile=format_go_float(q))
        rank = ordered.index(got) / len(ordered)
        assert abs(rank - q) <= err + 1 / len(ordered)


def test_type_conflicts_are_dropped_and_counted() -> None:
    exporter = make_exporter(
        "mappings:\n- match: x.*\n  name: same\n- match: h\n  observer_type: histogram\n  name: hist\n"
    )
    samples = feed(exporter, "x.a:1|c", "x.b:1|g", "h:1|h", "hist_sum:1|g", "hist_bucket:1|c")
    assert sample(samples, "same") == 1
    assert sample(samples, "statsd_exporter_events_conflict_total", type="gauge", metric_name="same") == 1
    assert sample(samples, "statsd_exporter_events_conflict_total", type="gauge", metric_name="hist_sum") == 1
    assert sample(samples, "statsd_exporter_events_conflict_total", type="counter", metric_name="hist_bucket") == 1


def test_histogram_refused_when_its_sum_name_is_taken() -> None:
    exporter = make_exporter("mappings:\n- match: h\n  observer_type: histogram\n  name: lat\n")
    samples = feed(exporter, "lat_sum:1|g", "h:1|h")
    assert sample(samples, "statsd_exporter_events_conflict_total", type="observer", metric_name="lat") == 1


def test_own_metric_names_are_reserved() -> None:
    exporter = make_exporter("mappings:\n- match: evil\n  name: statsd_exporter_lines_total\n")
    samples = feed(exporter, "evil:1000|c")
    assert sample(samples, "statsd_exporter_lines_total") == 1
    assert (
        sample(
            samples, "statsd_exporter_events_conflict_total", type="counter", metric_name="statsd_exporter_lines_total"
        )
        == 1
    )


def test_label_sets_may_differ_under_one_name() -> None:
    exporter = make_exporter()
    samples = feed(exporter, "m,a=1:1|c", "m,b=2:1|c", "m:1|c")
    assert sample(samples, "m", a="1") == sample(samples, "m", b="2") == sample(samples, "m") == 1


def test_reserved_label_names_do_not_crash() -> None:
    exporter = make_exporter()
    samples = feed(exporter, "m:1|c|#__name__:x", "h:1|h|#quantile:x")
    assert sample(samples, "statsd_exporter_events_conflict_total", type="counter", metric_name="m") == 1
    assert sample(samples, "statsd_exporter_events_conflict_total", type="observer", metric_name="h") == 1


def test_negative_and_non_finite_counters_are_refused() -> None:
    exporter = make_exporter()
    samples = feed(exporter, "c:-1|c", "c:NaN|c", "c:+Inf|c", "c:2|c", "g:NaN|g")
    assert sample(samples, "c") == 2
    assert sample(samples, "statsd_exporter_events_error_total", reason="illegal_negative_counter") == 1
    assert sample(samples, "statsd_exporter_events_error_total", reason="illegal_non_finite_counter") == 2
    assert math.isnan(sample(samples, "g"))  # type: ignore[arg-type]


def test_relative_gauges() -> None:
    exporter = make_exporter()
    samples = feed(exporter, "g:10|g", "g:+5|g", "g:-3|g", "g:-3|g")
    assert sample(samples, "g") == 9


def test_empty_expanded_name_is_an_error() -> None:
    exporter = make_exporter("mappings:\n- match: e.*\n  name: $2\n")
    samples = feed(exporter, "e.x:1|c")
    assert sample(samples, "statsd_exporter_events_error_total", reason="empty_metric_name") == 1


def test_drop_and_match_metric_type() -> None:
    exporter = make_exporter("""
mappings:
- match: only.gauges
  match_metric_type: gauge
  name: kept
- match: .
  match_type: regex
  name: dropped
  action: drop
""")
    samples = feed(exporter, "only.gauges:1|g", "only.gauges:1|c", "anything.else:1|c")
    assert sample(samples, "kept") == 1
    assert sample(samples, "statsd_exporter_events_actions_total", action="drop") == 2
    assert sample(samples, "statsd_exporter_events_actions_total", action="map") == 1


def test_ttl_expiry_uses_the_injected_clock() -> None:
    clock = FakeClock()
    exporter = make_exporter(
        "defaults: {ttl: 30s}\nmappings:\n- match: short\n  name: short\n  ttl: 5s\n- match: long\n  name: long\n"
        "- match: forever\n  name: forever\n  ttl: 0s\n",
        clock,
    )
    feed(exporter, "short:1|g", "long:1|g", "forever:1|g", "unmapped:1|g")
    clock.advance(4)
    feed(exporter, "short:2|g")  # refreshes the series
    clock.advance(4)
    exporter.sweep()
    samples = parse_exposition(render(exporter))
    assert sample(samples, "short") == 2
    clock.advance(5.1)
    exporter.sweep()
    samples = parse_exposition(render(exporter))
    assert sample(samples, "short") is None
    assert sample(samples, "long") == 1 and sample(samples, "unmapped") == 1
    clock.advance(30)
    exporter.sweep()
    samples = parse_exposition(render(exporter))
    assert sample(samples, "long") is None and sample(samples, "unmapped") is None
    # As upstream, "ttl: 0" cannot opt out of a default ttl: it means "not set".
    assert sample(samples, "forever") is None
    # A fresh event after expiry starts the series again, from zero.
    samples = feed(exporter, "short:7|g")
    assert sample(samples, "short") == 7


def test_fast_path_gives_the_same_result_as_the_slow_path() -> None:
    yaml_text = """
defaults: {observer_type: histogram}
mappings:
- match: airflow.ti.finish
  name: airflow_task_finish_total
  labels: {source: airflow}
- match: airflow.task.duration
  name: airflow_task_duration_seconds
  histogram_options: {buckets: [1, 10]}
"""
    lines = [
        "airflow.ti.finish,dag_id=d,task_id=t,state=success:1|c",
        "airflow.task.duration,dag_id=d,task_id=t:1500|ms",
        "airflow.ti.finish,dag_id=d,task_id=t,state=success:bad|c",
        "unmapped,x=y:2|g",
        "unmapped,x=y:+2|g",
    ] * 3
    cached = make_exporter(yaml_text)
    for line in lines:
        cached.handle_packet(line.encode())
    uncached = make_exporter(yaml_text)
    for line in lines:
        uncached._fast.clear()
        uncached.handle_packet(line.encode())
    strip = {"statsd_metric_mapper_cache_hits_total", "statsd_metric_mapper_cache_gets_total"}
    left = {k: v for k, v in parse_exposition(render(cached)).items() if k[0] not in strip}
    right = {k: v for k, v in parse_exposition(render(uncached)).items() if k[0] not in strip}
    assert left == right


def test_reload_switches_mappings_and_keeps_series() -> None:
    exporter = make_exporter("mappings:\n- match: a\n  name: first\n")
    feed(exporter, "a:1|c")
    with exporter.registry.lock:
        exporter.set_config(parse_mapping_yaml("mappings:\n- match: a\n  name: second\n"))
    samples = feed(exporter, "a:1|c")
    assert sample(samples, "first") == 1 and sample(samples, "second") == 1
    assert sample(samples, "statsd_exporter_loaded_mappings") == 1


def test_invalid_utf8_line_is_counted_and_the_rest_of_the_datagram_processed() -> None:
    exporter = make_exporter()
    exporter.handle_packet(b"ok:1|c\n\xc3\x28bad:1|c\nalso_ok:2|c")
    samples = parse_exposition(render(exporter))
    assert sample(samples, "ok") == 1 and sample(samples, "also_ok") == 2
    assert sample(samples, "statsd_exporter_sample_errors_total", reason="malformed_line") == 1
    assert sample(samples, "statsd_exporter_lines_total") == 3


def test_label_values_are_escaped_in_exposition() -> None:
    exporter = make_exporter()
    samples = feed(exporter, 'm,path=a"b\\c:1|c')
    assert sample(samples, "m", path='a"b\\c') == 1


@pytest.mark.parametrize(
    "value,text",
    [
        (0.0, "0"),
        (-0.0, "0"),
        (1.0, "1"),
        (-1.0, "-1"),
        (2.5, "2.5"),
        (100000.0, "100000"),
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1e21, "1e+21"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
        (0.1 + 0.2, "0.30000000000000004"),
    ],
)
def test_go_float_format(value: float, text: str) -> None:
    assert format_go_float(value) == text
