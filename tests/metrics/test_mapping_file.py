"""Mapping-file validation: what is accepted, what is refused and how the error reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from airdeck.metrics.goregex import GoRegexError, translate_go_regex
from airdeck.metrics.mapping import MappingFileError, load_mapping_file, parse_mapping_yaml

OK_CONFIGS = {
    "empty": "",
    "no mappings": "mappings: []\n",
    "without trailing newline": 'mappings:\n- match: test.*\n  name: "name"\n  labels:\n    label: "${1}_foo"',
    "good metric types": "mappings:\n"
    + "".join(
        f"- match: t{i}.*\n  match_metric_type: {t}\n  name: n{i}\n"
        for i, t in enumerate(["counter", "gauge", "observer"])
    ),
    "honor_labels and help": "mappings:\n- match: a.*\n  name: a\n  honor_labels: true\n  help: Some help.\n",
    "scale zero is set": "mappings:\n- match: a.*\n  name: a\n  scale: 0\n",
    "native histogram options": "mappings:\n- match: a.*\n  observer_type: histogram\n  name: a\n"
    "  histogram_options: {buckets: [1, 2], native_histogram_bucket_factor: 1.1, native_histogram_max_buckets: 256}\n",
    "anchors and merge keys": "defaults:\n  histogram_options: &h {buckets: [1, 2]}\nmappings:\n"
    "- &base {match: a.*, name: a, observer_type: histogram, histogram_options: *h}\n- <<: *base\n  match: b.*\n",
    "ttl zero": "mappings:\n- match: a.*\n  name: a\n  ttl: 0\n",
    "go regex features": "mappings:\n- match: '(?i)^AIRFLOW\\.(?P<x>[[:alpha:]]+)\\z'\n"
    "  match_type: regex\n  name: a\n",
}


@pytest.mark.parametrize("text", list(OK_CONFIGS.values()), ids=list(OK_CONFIGS))
def test_valid_configs_load(text: str) -> None:
    parse_mapping_yaml(text, "ok.yml")


BAD_CONFIGS = {
    "bad glob": ("mappings:\n- match: bad--metric-line.*.*\n  name: foo\n", "mappings[0]", "invalid glob"),
    "partial wildcard": ("mappings:\n- match: foo_*.bar\n  name: foo\n", "mappings[0]", "partial wildcards"),
    "first segment digit": ("mappings:\n- match: 1foo.bar\n  name: foo\n", "mappings[0]", "invalid glob"),
    "bad metric name": ("mappings:\n- match: test.*.*\n  name: 0foo\n", "mappings[0]", "invalid metric name"),
    "no metric name": ("mappings:\n- match: test.*.*\n  labels: {this: $1}\n", "mappings[0]", 'needs a "name"'),
    "no name on drop": (
        "mappings:\n- match: .\n  match_type: regex\n  action: drop\n",
        "mappings[0]",
        'needs a "name"',
    ),
    "one-letter label": ("mappings:\n- match: a.*\n  name: a\n  labels: {x: y}\n", "mappings[0]", "invalid label name"),
    "bad observer type": (
        "mappings:\n- match: a.*\n  observer_type: wrong\n  name: a\n",
        "mappings[0]",
        "observer_type",
    ),
    "bad match type": ("mappings:\n- match: a.*\n  match_type: fuzzy\n  name: a\n", "mappings[0]", "match_type"),
    "bad action": ("mappings:\n- match: a.*\n  action: keep\n  name: a\n", "mappings[0]", "action"),
    "bad metric type": (
        "mappings:\n- match: a.*\n  match_metric_type: wrong\n  name: a\n",
        "mappings[0]",
        "match_metric_type",
    ),
    "deprecated timer_type": (
        "mappings:\n- match: a.*\n  timer_type: histogram\n  name: a\n",
        "mappings[0]",
        'key "timer_type"',
    ),
    "deprecated buckets": ("mappings:\n- match: a.*\n  buckets: [1]\n  name: a\n", "mappings[0]", 'key "buckets"'),
    "deprecated quantiles": (
        "mappings:\n- match: a.*\n  quantiles: [{quantile: 0.5, error: 0.1}]\n  name: a\n",
        "mappings[0]",
        'key "quantiles"',
    ),
    "deprecated match_metric_type timer": (
        "mappings:\n- match: a.*\n  name: a\n- match: b.*\n  match_metric_type: timer\n  name: b\n",
        "mappings[1]",
        '"timer"',
    ),
    "deprecated defaults timer_type": ("defaults:\n  timer_type: histogram\n", "defaults", 'key "timer_type"'),
    "unknown key": ("mappings:\n- match: a.*\n  name: a\n  lables: {aa: b}\n", "mappings[0]", 'unknown key "lables"'),
    "unknown top-level key": ("mapping:\n- match: a.*\n", "top level", 'unknown key "mapping"'),
    "duplicate key": ("mappings:\n- match: a.*\n  name: a\n  name: b\n", "mappings[0]", "given twice"),
    "uncompilable regex": (
        'mappings:\n- match: "*\\\\.foo"\n  match_type: regex\n  name: foo\n',
        "mappings[0]",
        "invalid regex",
    ),
    "lookahead regex": ("mappings:\n- match: a(?=b)\n  match_type: regex\n  name: foo\n", "mappings[0]", "look-around"),
    "backreference regex": (
        "mappings:\n- match: (a)\\1\n  match_type: regex\n  name: foo\n",
        "mappings[0]",
        "back-references",
    ),
    "histogram with summary options": (
        "mappings:\n- match: a.*\n  observer_type: histogram\n  summary_options: {max_age: 1m}\n  name: a\n",
        "mappings[0]",
        "summary_options",
    ),
    "summary with histogram options": (
        "mappings:\n- match: a.*\n  observer_type: summary\n  histogram_options: {buckets: [1]}\n  name: a\n",
        "mappings[0]",
        "histogram_options",
    ),
    "unsorted buckets": (
        "mappings:\n- match: a.*\n  observer_type: histogram\n  histogram_options: {buckets: [2, 1]}\n  name: a\n",
        "mappings[0]",
        "increasing",
    ),
    "bad ttl": ("mappings:\n- match: a.*\n  name: a\n  ttl: soon\n", "mappings[0]", "invalid duration"),
    "bare number ttl": (
        "mappings:\n- match: a.*\n  name: a\n  ttl: 30\n",
        "mappings[0]",
        'write it with a unit, for example "30s"',
    ),
    "bad scale": ("mappings:\n- match: a.*\n  name: a\n  scale: big\n", "mappings[0]", "expected a number"),
    "quantile out of range": (
        "mappings:\n- match: a.*\n  observer_type: summary\n"
        "  summary_options: {quantiles: [{quantile: 2, error: 0.1}]}\n  name: a\n",
        "mappings[0]",
        "quantile must be",
    ),
    "mappings not a list": ("mappings: {match: a}\n", "mappings", "expected a list"),
    "malformed yaml": ("mappings:\n- match: [a\n", "", "not valid YAML"),
}


@pytest.mark.parametrize("text,where,message", list(BAD_CONFIGS.values()), ids=list(BAD_CONFIGS))
def test_bad_configs_are_refused_with_file_place_and_reason(text: str, where: str, message: str) -> None:
    with pytest.raises(MappingFileError) as info:
        parse_mapping_yaml(text, "prometheus/statsd-mapping.yml")
    error = str(info.value)
    assert error.startswith("prometheus/statsd-mapping.yml: ")
    assert where in error
    assert message in error
    if where.startswith("mappings["):
        assert "(line " in error


def test_deprecated_key_error_names_the_fix() -> None:
    with pytest.raises(MappingFileError, match='use "observer_type"'):
        parse_mapping_yaml("mappings:\n- match: a.*\n  name: a\n  timer_type: histogram\n", "m.yml")


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(MappingFileError, match="mapping file not found"):
        load_mapping_file(tmp_path / "nope.yml")
    with pytest.raises(MappingFileError, match="is a directory"):
        load_mapping_file(tmp_path)
    binary = tmp_path / "binary.yml"
    binary.write_bytes(b"\xff\xfe\x00mappings")
    with pytest.raises(MappingFileError, match="not UTF-8"):
        load_mapping_file(binary)


@pytest.mark.parametrize(
    "pattern,translated",
    [
        ("^a\\.b$", "^a\\.b$"),
        ("(?<name>x)", "(?P<name>x)"),
        ("a\\z", "a\\Z"),
        ("[[:digit:]]+", "[0-9]+"),
        ("\\x{41}", "\\U00000041"),
        ("\\Qa.b\\E", "a\\.b"),
    ],
)
def test_go_regex_translation(pattern: str, translated: str) -> None:
    assert translate_go_regex(pattern) == translated


@pytest.mark.parametrize("pattern", ["a(?!b)", "(?<=a)b", "(?>a)", "a++", "(a)\\1", "\\Z", "(?x)a", "a{1001}", "(?U)a"])
def test_go_regex_rejects_what_re2_rejects(pattern: str) -> None:
    with pytest.raises(GoRegexError):
        translate_go_regex(pattern)
