"""Mapper conformance: the scenarios of statsd_exporter's pkg/mapper tests, in our words."""

from __future__ import annotations

import pytest
from airdeck.metrics.escape import escape_metric_name
from airdeck.metrics.mapper import Mapper
from airdeck.metrics.mapping import DEFAULT_BUCKETS, DEFAULT_QUANTILES, Quantile, parse_mapping_yaml


def mapper(text: str) -> Mapper:
    return Mapper(parse_mapping_yaml(text, "test.yml"))


def check(m: Mapper, metric: str, name: str | None, labels: dict[str, str] | None = None, kind: str = "counter"):  # type: ignore[no-untyped-def]
    result = m.get_mapping(metric, kind)
    if name is None:
        assert result is None, f"{metric} should not match, got {result}"
        return None
    assert result is not None, f"{metric} should match {name}"
    assert result.name == name
    if labels is not None:
        assert result.labels == labels
    return result


SEVERAL = """
mappings:
- match: test.dispatcher.*.*.*
  name: "dispatch_events"
  labels: {processor: "$1", action: "$2", result: "$3", job: "test_dispatcher"}
- match: test.my-dispatch-host01.name.dispatcher.*.*.*
  name: "host_dispatch_events"
  labels: {processor: "$1", action: "$2", result: "$3", job: "test_dispatcher"}
- match: request_time.*.*.*.*.*.*.*.*.*.*.*.*
  name: "tyk_http_request"
  labels:
    method_and_path: "${1}"
    response_code: "${2}"
    apikey: "${3}"
    apiversion: "${4}"
    apiname: "${5}"
    apiid: "${6}"
    ipv4_t1: "${7}"
    ipv4_t2: "${8}"
    ipv4_t3: "${9}"
    ipv4_t4: "${10}"
    orgid: "${11}"
    oauthid: "${12}"
- match: "*.*"
  name: "catchall"
  labels: {first: "$1", second: "$2", third: "$3", job: "$1-$2-$3"}
- match: (.*)\\.(.*)-(.*)\\.(.*)
  match_type: regex
  name: "proxy_requests_total"
  labels: {job: "$1", protocol: "$2", endpoint: "$3", result: "$4"}
"""


def test_several_mappings() -> None:
    m = mapper(SEVERAL)
    check(
        m,
        "test.dispatcher.FooProcessor.send.succeeded",
        "dispatch_events",
        {"processor": "FooProcessor", "action": "send", "result": "succeeded", "job": "test_dispatcher"},
    )
    check(
        m,
        "test.my-dispatch-host01.name.dispatcher.FooProcessor.send.succeeded",
        "host_dispatch_events",
        {"processor": "FooProcessor", "action": "send", "result": "succeeded", "job": "test_dispatcher"},
    )
    result = check(
        m,
        "request_time.get/threads/1/posts.200.00000000.nonversioned.discussions."
        "a11bbcdf0ac64ec243658dc64b7100fb.172.20.0.1.12ba97b7eaa1a50001000001.",
        "tyk_http_request",
    )
    assert result.labels["ipv4_t4"] == "1" and result.labels["orgid"] == "12ba97b7eaa1a50001000001"
    assert result.labels["oauthid"] == ""  # the trailing empty segment is a capture too
    check(m, "foo.bar", "catchall", {"first": "foo", "second": "bar", "third": "", "job": "foo-bar-"})
    check(m, "foo.bar.baz", None)
    check(
        m,
        "proxy-1.http-goober.success",
        "proxy_requests_total",
        {"job": "proxy-1", "protocol": "http", "endpoint": "goober", "result": "success"},
    )


def test_backtracking_with_ordering_disabled() -> None:
    m = mapper("""
defaults: {glob_disable_ordering: true}
mappings:
- match: backtrack.*.bbb
  name: testb
  labels: {label: "${1}_foo"}
- match: backtrack.justatest.aaa
  name: testa
  labels: {label: "${1}_foo"}
""")
    check(m, "backtrack.good.bbb", "testb", {"label": "good_foo"})
    check(m, "backtrack.justatest.bbb", "testb", {"label": "justatest_foo"})
    check(m, "backtrack.justatest.aaa", "testa", {"label": "_foo"})


def test_backtracking_keeps_captures_of_the_winning_rule() -> None:
    m = mapper("""
mappings:
- match: '*.dummy.*'
  name: metric_one
  labels: {system: $1, attribute: $2}
- match: 'full.name.*'
  name: metric_two
  labels: {system: static, attribute: $1}
""")
    check(m, "whatever.dummy.test", "metric_one", {"system": "whatever", "attribute": "test"})
    check(m, "full.name.anothertest", "metric_two", {"system": "static", "attribute": "anothertest"})


def test_super_sets_with_ordering_disabled_prefer_the_most_specific() -> None:
    m = mapper("""
defaults: {glob_disable_ordering: true}
mappings:
- match: noorder.*.*
  name: testa
- match: noorder.*.bbb
  name: testb
- match: noorder.ccc.bbb
  name: testc
""")
    check(m, "noorder.good.bbb", "testb")
    check(m, "noorder.ccc.bbb", "testc")
    check(m, "noorder.good.other", "testa")


def test_super_sets_with_ordering_kept_prefer_the_first() -> None:
    m = mapper("""
mappings:
- match: order.*.*
  name: testa
  labels: {label: "${1}_foo"}
- match: order.*.bbb
  name: testb
""")
    check(m, "order.good.bbb", "testa", {"label": "good_foo"})
    assert any("can never match" in w for w in m.warnings)


def test_earliest_glob_wins_even_when_less_specific() -> None:
    m = mapper("""
mappings:
- match: a.*.c
  name: first
- match: a.b.c
  name: second
- match: "*.b.*"
  name: third
""")
    check(m, "a.b.c", "first")
    check(m, "x.b.y", "third")


def test_globs_are_tried_before_regexes_whatever_the_order() -> None:
    m = mapper("""
mappings:
- match: ^a\\.b$
  match_type: regex
  name: from_regex
- match: a.b
  name: from_glob
""")
    check(m, "a.b", "from_glob")


def test_regexes_first_in_file_order_and_unanchored() -> None:
    m = mapper("""
mappings:
- match: b\\.c
  match_type: regex
  name: unanchored
- match: ^a\\.b\\.c$
  match_type: regex
  name: anchored
""")
    check(m, "a.b.c", "unanchored")
    check(m, "xb.cx", "unanchored")


def test_regex_match_metric_type_skips_to_the_next_rule() -> None:
    m = mapper("""
mappings:
- match: ^foo$
  match_type: regex
  match_metric_type: gauge
  name: foo_gauge
- match: ^foo$
  match_type: regex
  name: foo_any
""")
    check(m, "foo", "foo_gauge", kind="gauge")
    check(m, "foo", "foo_any", kind="counter")


def test_bad_glob_reference_expands_to_empty() -> None:
    m = mapper("""
mappings:
- match: test.*
  name: name
  labels: {label: "$1_foo"}
""")
    check(m, "test.a", "name", {"label": ""})


def test_good_glob_reference() -> None:
    m = mapper("""
mappings:
- match: test.*
  name: name
  labels: {label: "${1}_foo", pct: "50%_${1}"}
""")
    check(m, "test.a", "name", {"label": "a_foo", "pct": "50%_a"})


def test_dynamic_metric_names() -> None:
    m = mapper("""
mappings:
- match: test1.*.*
  name: "$1"
- match: test2.*.*
  name: "${1}_$2"
- match: test3\\.(\\w+)\\.(\\w+)
  match_type: regex
  name: "${2}_$1"
""")
    check(m, "test1.total_requests.count", "total_requests")
    check(m, "test2.total_requests.count", "total_requests_count")
    check(m, "test3.total_requests.count", "count_total_requests")


def test_regex_template_rules() -> None:
    m = mapper("""
mappings:
- match: ^(?P<dag>[^.]+)\\.(\\w+)$
  match_type: regex
  name: x
  labels: {named: "${dag}", numbered: "$2", greedy: "$2x", dollar: "$$1", whole: "$0", missing: "$9"}
""")
    check(
        m,
        "etl.load",
        "x",
        {"named": "etl", "numbered": "load", "greedy": "", "dollar": "$1", "whole": "etl.load", "missing": ""},
    )


def test_glob_segments_starting_with_a_digit() -> None:
    m = mapper("""
mappings:
- match: foo.1.*
  name: one
- match: "*.2"
  name: two_$1
""")
    check(m, "foo.1.bar", "one")
    check(m, "x.2", "two_x")


def test_unquoted_star_is_invalid_yaml() -> None:
    with pytest.raises(ValueError, match="not valid YAML"):
        mapper("mappings:\n- match: *.test.*\n  name: name\n")


def test_quoted_star_works() -> None:
    m = mapper('mappings:\n- match: "*.test.*"\n  name: name\n  labels: {label: "${2}_foo"}\n')
    check(m, "foo.test.a", "name", {"label": "a_foo"})


def test_labels_from_glob() -> None:
    m = mapper("mappings:\n- match: p.*.*.c.*\n  name: issue_256\n  labels: {one: $1, two: $2, three: $3}\n")
    check(m, "p.one.two.c.three", "issue_256", {"one": "one", "two": "two", "three": "three"})


def test_readme_example() -> None:
    m = mapper("""
mappings:
- match: test.dispatcher.*.*.*
  name: "dispatcher_events_total"
  labels: {processor: "$1", action: "$2", outcome: "$3", job: "test_dispatcher"}
- match: "*.signup.*.*"
  name: "signup_events_total"
  labels: {provider: "$2", outcome: "$3", job: "${1}_server"}
""")
    check(m, "test.dispatcher.FooProcessor.send.success", "dispatcher_events_total")
    check(
        m,
        "foo_product.signup.facebook.failure",
        "signup_events_total",
        {"provider": "facebook", "outcome": "failure", "job": "foo_product_server"},
    )
    check(m, "test.web-server.foo.bar", None)
    assert escape_metric_name("test.web-server.foo.bar") == "test_web_server_foo_bar"


def test_catch_all_drop() -> None:
    m = mapper("""
mappings:
- match: web.*
  name: web
  labels: {site: "$1"}
- match: .
  match_type: regex
  name: drop
  action: drop
""")
    assert m.get_mapping("test.a", "counter").mapping.action == "drop"  # type: ignore[union-attr]
    check(m, "web.localhost", "web", {"site": "localhost"})


def test_drop_all() -> None:
    m = mapper("mappings:\n- match: .\n  match_type: regex\n  name: drop\n  action: drop\n")
    for name in ("test.a", "abc"):
        assert m.get_mapping(name, "gauge").mapping.action == "drop"  # type: ignore[union-attr]


def test_match_metric_type_on_globs() -> None:
    m = mapper("""
mappings:
- match: test.foo.*
  name: test_foo_sum
  match_metric_type: counter
- match: test.foo.*
  name: test_foo_current
  match_metric_type: gauge
""")
    check(m, "test.foo.test", "test_foo_sum", kind="counter")
    check(m, "test.foo.test", "test_foo_current", kind="gauge")
    check(m, "test.foo.test", None, kind="observer")


def test_shorter_glob_after_longer_one_never_matches_like_upstream() -> None:
    m = mapper("mappings:\n- match: a.b.c\n  name: long\n- match: a.b\n  name: short\n")
    check(m, "a.b.c", "long")
    check(m, "a.b", None)
    assert any("never matches it" in w for w in m.warnings)


def test_shorter_glob_first_matches() -> None:
    m = mapper("mappings:\n- match: a.b\n  name: short\n- match: a.b.c\n  name: long\n")
    check(m, "a.b", "short")
    check(m, "a.b.c", "long")


def test_segment_count_must_be_equal_and_star_matches_empty() -> None:
    m = mapper('mappings:\n- match: "a.*.c"\n  name: x\n  labels: {mid: "$1"}\n')
    check(m, "a..c", "x", {"mid": ""})
    check(m, "a.b.b.c", None)
    check(m, "a.c", None)


def test_ttl_defaults_and_overrides() -> None:
    m = mapper("mappings:\n- match: web.*\n  name: web\n  ttl: 10s\n")
    assert m.get_mapping("web.x", "gauge").mapping.ttl == 10  # type: ignore[union-attr]
    m = mapper("defaults: {ttl: 1m2s}\nmappings:\n- match: web.*\n  name: web\n")
    assert m.get_mapping("web.x", "gauge").mapping.ttl == 62  # type: ignore[union-attr]
    m = mapper("defaults: {ttl: 1m2s}\nmappings:\n- match: web.*\n  name: web\n  ttl: 5s\n")
    assert m.get_mapping("web.x", "gauge").mapping.ttl == 5  # type: ignore[union-attr]


def test_observer_options_inheritance() -> None:
    config = parse_mapping_yaml("""
defaults:
  summary_options:
    quantiles: [{quantile: 0.9, error: 0.1}, {quantile: 0.99, error: 0.01}]
    max_age: 15m
    age_buckets: 3
    buf_cap: 100
  histogram_options: {buckets: [0.2, 2, 20]}
mappings:
- match: test.*.*
  observer_type: summary
  name: foo
  summary_options: {max_age: 5m}
- match: test_default.*.*
  observer_type: summary
  name: foo_default
- match: hist.*
  observer_type: histogram
  name: hist
- match: hist2.*
  observer_type: histogram
  name: hist2
  histogram_options: {buckets: [0.1, 1]}
- match: plain.*
  name: plain
""")
    foo, default, hist, hist2, plain = config.mappings
    assert foo.summary_options is not None and foo.summary_options.max_age == 300
    assert foo.summary_options.quantiles == (Quantile(0.9, 0.1), Quantile(0.99, 0.01))
    assert (foo.summary_options.age_buckets, foo.summary_options.buf_cap) == (3, 100)
    assert default.summary_options is not None and default.summary_options.max_age == 900
    assert hist.histogram_options is not None and hist.histogram_options.buckets == (0.2, 2, 20)
    assert hist2.histogram_options is not None and hist2.histogram_options.buckets == (0.1, 1)
    assert plain.observer_type == "" and plain.summary_options is None


def test_builtin_observer_defaults() -> None:
    config = parse_mapping_yaml(
        "mappings:\n- match: a.*\n  observer_type: summary\n  name: a\n"
        "- match: b.*\n  observer_type: histogram\n  name: b\n"
    )
    assert config.mappings[0].summary_options.quantiles == DEFAULT_QUANTILES  # type: ignore[union-attr]
    assert config.mappings[1].histogram_options.buckets == DEFAULT_BUCKETS  # type: ignore[union-attr]


def test_cache_counts_hits_and_misses_and_is_bounded() -> None:
    m = Mapper(parse_mapping_yaml("mappings:\n- match: a.*\n  name: a\n"), cache_size=2)
    m.get_mapping("a.x", "counter")
    m.get_mapping("a.x", "counter")
    m.get_mapping("nope", "counter")
    m.get_mapping("nope", "counter")
    m.get_mapping("a.y", "counter")
    assert (m.cache_stats.gets, m.cache_stats.hits) == (5, 2)
    assert m.cache_length() == 2


ESCAPES = {
    "clean": "clean",
    "0starts_with_digit": "_0starts_with_digit",
    "with_underscore": "with_underscore",
    "with--doubledash": "with_doubledash",
    "with---multiple-dashes": "with_multiple_dashes",
    "with.dot": "with_dot",
    "with\U0001f631emoji": "with_emoji",
    "with.*.multiple": "with___multiple",
    "test.web-server.foo.bar": "test_web_server_foo_bar",
    "": "",
}


@pytest.mark.parametrize("raw,escaped", list(ESCAPES.items()))
def test_escape_metric_name(raw: str, escaped: str) -> None:
    assert escape_metric_name(raw) == escaped
