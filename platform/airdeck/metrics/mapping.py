"""The statsd_exporter mapping file: typed model, loading and validation.

The accepted format is statsd_exporter v0.30's (``pkg/mapper``), read strictly: unknown keys are
errors, and so are the keys statsd_exporter deprecated and has since removed (``timer_type``,
top-level ``buckets`` and ``quantiles``, ``match_metric_type: timer``). Every error names the
file, the mapping (index and line) and the key, and says what to write instead.

Defaults are applied at load exactly as ``MetricMapper.InitFromYAMLString`` does, including its
less obvious rules: one-character label names are refused, a histogram mapping may not carry
``summary_options`` (nor the reverse), and a mapping inherits ``ttl`` and observer options from
``defaults`` field by field.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from airdeck.metrics.gocompat import parse_go_duration
from airdeck.metrics.goregex import GoRegexError, compile_go_regex

# prometheus.DefBuckets
DEFAULT_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass(frozen=True)
class Quantile:
    quantile: float
    error: float


DEFAULT_QUANTILES: tuple[Quantile, ...] = (Quantile(0.5, 0.05), Quantile(0.9, 0.01), Quantile(0.99, 0.001))

MATCH_GLOB = "glob"
MATCH_REGEX = "regex"
ACTION_MAP = "map"
ACTION_DROP = "drop"
OBSERVER_HISTOGRAM = "histogram"
OBSERVER_SUMMARY = "summary"
METRIC_TYPES = ("counter", "gauge", "observer")

# The glob syntax statsd_exporter accepts: whole-segment "*" or literal segments; the first
# segment may not start with a digit; "-" only between other characters, never doubled.
_FIRST_SEGMENT = r"[a-zA-Z_](?:-?[a-zA-Z0-9_])*"
_NEXT_SEGMENT = r"[a-zA-Z0-9_](?:-?[a-zA-Z0-9_])*"
GLOB_MATCH_RE = re.compile(rf"(?:\*|{_FIRST_SEGMENT})(?:\.\*|\.{_NEXT_SEGMENT})*", re.ASCII)
_TEMPLATE_REF = r"\$\{?\d+\}?"
METRIC_NAME_RE = re.compile(rf"(?:[a-zA-Z_]|{_TEMPLATE_REF})(?:[a-zA-Z0-9_]|{_TEMPLATE_REF})*", re.ASCII)
LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]+", re.ASCII)


class MappingFileError(ValueError):
    """The mapping file cannot be used; the message says where and why."""


@dataclass
class SummaryOptions:
    quantiles: tuple[Quantile, ...] = ()
    max_age: float = 0.0  # seconds; 0 means client default (10m)
    age_buckets: int = 0  # 0 means client default (5)
    buf_cap: int = 0  # 0 means client default (500)


@dataclass
class HistogramOptions:
    buckets: tuple[float, ...] = ()
    native_histogram_bucket_factor: float = 0.0
    native_histogram_max_buckets: int = 0


@dataclass
class Defaults:
    observer_type: str = ""
    match_type: str = MATCH_GLOB
    glob_disable_ordering: bool = False
    ttl: float = 0.0
    summary_options: SummaryOptions = field(default_factory=SummaryOptions)
    histogram_options: HistogramOptions = field(default_factory=HistogramOptions)


@dataclass
class MetricMapping:
    index: int
    line: int
    match: str
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    honor_labels: bool = False
    help: str = ""
    match_type: str = ""
    match_metric_type: str = ""
    action: str = ACTION_MAP
    observer_type: str = ""
    summary_options: SummaryOptions | None = None
    histogram_options: HistogramOptions | None = None
    ttl: float = 0.0
    scale: float | None = None
    regex: re.Pattern[str] | None = None

    def where(self) -> str:
        return f"mappings[{self.index}] (line {self.line}, match {self.match!r})"


@dataclass
class MappingConfig:
    defaults: Defaults
    mappings: list[MetricMapping]
    source: str = "<string>"


# -- YAML node reading ---------------------------------------------------------------------------

_BOOL_TRUE = {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"}
_BOOL_FALSE = {"n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"}
_NULL_TAG = "tag:yaml.org,2002:null"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Reader:
    """Walks composed YAML nodes, converting scalars the way yaml.v2 would for each Go type."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, node: yaml.Node | None, where: str, message: str) -> MappingFileError:
        line = f" (line {node.start_mark.line + 1})" if node is not None else ""
        place = f"{where}{line}" if where else f"line {node.start_mark.line + 1}" if node else ""
        return MappingFileError(f"{self.source}: {place}: {message}")

    def mapping(self, node: yaml.Node, where: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG:
            return {}
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, where, f"expected a mapping of keys, found {_kind(node)}")
        result: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        merged: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for source in sources:
                    for key, pair in self.mapping(source, where).items():
                        merged.setdefault(key, pair)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.fail(key_node, where, "keys must be plain strings")
            key = key_node.value
            if key in result:
                raise self.fail(key_node, where, f"key {key!r} is given twice")
            result[key] = (key_node, value_node)
        for key, pair in merged.items():
            result.setdefault(key, pair)
        return result

    def sequence(self, node: yaml.Node, where: str) -> list[yaml.Node]:
        if isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG:
            return []
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, where, f"expected a list, found {_kind(node)}")
        return list(node.value)

    def string(self, node: yaml.Node, where: str) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, where, f"expected a string, found {_kind(node)}")
        if node.tag == _NULL_TAG:
            return ""
        return str(node.value)

    def boolean(self, node: yaml.Node, where: str) -> bool:
        if isinstance(node, yaml.ScalarNode) and node.style is None:  # plain, unquoted scalars only
            if node.value in _BOOL_TRUE:
                return True
            if node.value in _BOOL_FALSE or node.tag == _NULL_TAG:
                return False
        raise self.fail(node, where, f"expected true or false, found {_describe(node)}")

    def number(self, node: yaml.Node, where: str) -> float:
        if isinstance(node, yaml.ScalarNode) and node.tag in (
            "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:float",
        ):
            constructed = _construct(node)
            if isinstance(constructed, int | float) and not isinstance(constructed, bool):
                return float(constructed)
        raise self.fail(node, where, f"expected a number, found {_describe(node)}")

    def integer(self, node: yaml.Node, where: str, minimum: int = 0) -> int:
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:int":
            constructed = _construct(node)
            if isinstance(constructed, int) and constructed >= minimum:
                return constructed
        raise self.fail(node, where, f"expected a whole number >= {minimum}, found {_describe(node)}")

    def duration(self, node: yaml.Node, where: str) -> float:
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _NULL_TAG:
                return 0.0
            if node.tag == "tag:yaml.org,2002:int" and _construct(node) == 0:
                return 0.0
            if node.tag == "tag:yaml.org,2002:int":
                raise self.fail(
                    node,
                    where,
                    f"bare number {node.value} is not a duration (statsd_exporter would read it as "
                    f'nanoseconds); write it with a unit, for example "{node.value}s"',
                )
            try:
                return parse_go_duration(str(node.value))
            except ValueError as exc:
                raise self.fail(node, where, str(exc)) from None
        raise self.fail(node, where, f'expected a duration such as "30s", found {_kind(node)}')


def _construct(node: yaml.ScalarNode) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"{node.value!r}"


def _describe(node: yaml.Node) -> str:
    return _kind(node)


# -- the schema ----------------------------------------------------------------------------------

_MAPPING_KEYS = {
    "match",
    "name",
    "labels",
    "honor_labels",
    "help",
    "match_type",
    "match_metric_type",
    "action",
    "observer_type",
    "summary_options",
    "histogram_options",
    "ttl",
    "scale",
}
_DEFAULTS_KEYS = {
    "observer_type",
    "match_type",
    "glob_disable_ordering",
    "ttl",
    "summary_options",
    "histogram_options",
}
_REMOVED_KEYS = {
    "timer_type": 'use "observer_type" (histogram or summary) instead',
    "buckets": 'use "histogram_options: {buckets: [...]}" instead',
    "quantiles": 'use "summary_options: {quantiles: [...]}" instead',
}
_REMOVED_NOTE = "was deprecated in statsd_exporter 0.17/0.20 and is rejected by current releases"


def _check_keys(reader: _Reader, items: dict[str, tuple[yaml.Node, yaml.Node]], allowed: set[str], where: str) -> None:
    for key, (key_node, _value) in items.items():
        if key in allowed:
            continue
        if key in _REMOVED_KEYS:
            raise reader.fail(key_node, where, f'key "{key}" {_REMOVED_NOTE}; {_REMOVED_KEYS[key]}')
        raise reader.fail(key_node, where, f'unknown key "{key}" (allowed: {", ".join(sorted(allowed))})')


def _enum(reader: _Reader, node: yaml.Node, where: str, key: str, allowed: tuple[str, ...]) -> str:
    value = reader.string(node, f"{where} {key}")
    if value not in allowed:
        shown = ", ".join(repr(a) for a in allowed if a)
        raise reader.fail(node, where, f"{key}: invalid value {value!r} (expected one of {shown})")
    return value


def _summary_options(reader: _Reader, node: yaml.Node, where: str) -> SummaryOptions:
    where = f"{where} summary_options"
    items = reader.mapping(node, where)
    _check_keys(reader, items, {"quantiles", "max_age", "age_buckets", "buf_cap"}, where)
    options = SummaryOptions()
    if "quantiles" in items:
        options.quantiles = _quantiles(reader, items["quantiles"][1], where)
    if "max_age" in items:
        options.max_age = reader.duration(items["max_age"][1], f"{where} max_age")
    if "age_buckets" in items:
        options.age_buckets = reader.integer(items["age_buckets"][1], f"{where} age_buckets")
    if "buf_cap" in items:
        options.buf_cap = reader.integer(items["buf_cap"][1], f"{where} buf_cap")
    return options


def _quantiles(reader: _Reader, node: yaml.Node, where: str) -> tuple[Quantile, ...]:
    result = []
    for item in reader.sequence(node, f"{where} quantiles"):
        item_where = f"{where} quantiles"
        fields = reader.mapping(item, item_where)
        _check_keys(reader, fields, {"quantile", "error"}, item_where)
        quantile = reader.number(fields["quantile"][1], item_where) if "quantile" in fields else 0.0
        error = reader.number(fields["error"][1], item_where) if "error" in fields else 0.0
        if not 0 <= quantile <= 1 or not 0 <= error < 1:
            raise reader.fail(item, item_where, "quantile must be within [0, 1] and error within [0, 1)")
        result.append(Quantile(quantile, error))
    return tuple(result)


def _histogram_options(reader: _Reader, node: yaml.Node, where: str) -> HistogramOptions:
    where = f"{where} histogram_options"
    items = reader.mapping(node, where)
    _check_keys(reader, items, {"buckets", "native_histogram_bucket_factor", "native_histogram_max_buckets"}, where)
    options = HistogramOptions()
    if "buckets" in items:
        bucket_node = items["buckets"][1]
        buckets = [reader.number(b, f"{where} buckets") for b in reader.sequence(bucket_node, where)]
        if buckets and buckets[-1] == math.inf:
            buckets.pop()  # client_golang drops a trailing +Inf; the +Inf bucket is always there
        for low, high in zip(buckets, buckets[1:], strict=False):
            if not low < high:
                raise reader.fail(bucket_node, where, f"buckets must be in strictly increasing order ({low} >= {high})")
        if any(b != b for b in buckets):
            raise reader.fail(bucket_node, where, "buckets must be numbers, not NaN")
        options.buckets = tuple(buckets)
    if "native_histogram_bucket_factor" in items:
        options.native_histogram_bucket_factor = reader.number(items["native_histogram_bucket_factor"][1], where)
    if "native_histogram_max_buckets" in items:
        options.native_histogram_max_buckets = reader.integer(items["native_histogram_max_buckets"][1], where)
    return options


def _defaults(reader: _Reader, node: yaml.Node | None) -> Defaults:
    defaults = Defaults()
    where = "defaults"
    items = reader.mapping(node, where) if node is not None else {}
    _check_keys(reader, items, _DEFAULTS_KEYS, where)
    if "observer_type" in items:
        defaults.observer_type = _enum(
            reader, items["observer_type"][1], where, "observer_type", ("", "histogram", "summary")
        )
    if "match_type" in items:
        defaults.match_type = (
            _enum(reader, items["match_type"][1], where, "match_type", ("", "glob", "regex")) or MATCH_GLOB
        )
    if "glob_disable_ordering" in items:
        defaults.glob_disable_ordering = reader.boolean(items["glob_disable_ordering"][1], where)
    if "ttl" in items:
        defaults.ttl = reader.duration(items["ttl"][1], f"{where} ttl")
    if "summary_options" in items:
        defaults.summary_options = _summary_options(reader, items["summary_options"][1], where)
    if "histogram_options" in items:
        defaults.histogram_options = _histogram_options(reader, items["histogram_options"][1], where)
    if not defaults.histogram_options.buckets:
        defaults.histogram_options.buckets = DEFAULT_BUCKETS
    if not defaults.summary_options.quantiles:
        defaults.summary_options.quantiles = DEFAULT_QUANTILES
    return defaults


def _mapping(reader: _Reader, node: yaml.Node, index: int, defaults: Defaults) -> MetricMapping:
    where = f"mappings[{index}]"
    items = reader.mapping(node, where)
    if "match" in items:
        where = f"mappings[{index}] (match {reader.string(items['match'][1], where)!r})"
    _check_keys(reader, items, _MAPPING_KEYS, where)

    nodes = {key: pair[1] for key, pair in items.items() if not _is_null(pair[1]) or key in ("name", "match")}
    match_node = nodes.get("match")
    mapping = MetricMapping(
        index=index,
        line=node.start_mark.line + 1,
        match=reader.string(match_node, where) if match_node is not None else "",
        name="",
    )
    if "labels" in nodes:
        for key, (key_node, value_node) in reader.mapping(nodes["labels"], f"{where} labels").items():
            if not LABEL_NAME_RE.fullmatch(key):
                raise reader.fail(
                    key_node,
                    where,
                    f"labels: invalid label name {key!r} (letters, digits and _, not starting with a "
                    "digit, at least two characters)",
                )
            mapping.labels[key] = reader.string(value_node, f"{where} labels.{key}")
    name_node = nodes.get("name")
    mapping.name = reader.string(name_node, where) if name_node is not None else ""
    if not mapping.name:
        raise reader.fail(
            node,
            where,
            'name: every mapping needs a "name", even with "action: drop" (for example "dropped")',
        )
    if not METRIC_NAME_RE.fullmatch(mapping.name):
        raise reader.fail(
            name_node,
            where,
            f"name: invalid metric name {mapping.name!r} (letters, digits, _ and ${{n}} references; "
            "not starting with a digit)",
        )
    for key, value_node in nodes.items():
        _mapping_field(reader, mapping, key, value_node, where)

    if not mapping.match_type:
        mapping.match_type = defaults.match_type
    if mapping.match_type == MATCH_GLOB:
        if not GLOB_MATCH_RE.fullmatch(mapping.match):
            raise reader.fail(
                match_node or node,
                where,
                f"match: invalid glob {mapping.match!r}: dot-separated segments, each either * or "
                "letters/digits/_ with single - inside; the first segment may not start with a digit; "
                "no partial wildcards such as foo_* (use match_type: regex for those)",
            )
    else:
        try:
            mapping.regex = compile_go_regex(mapping.match)
        except GoRegexError as exc:
            raise reader.fail(match_node or node, where, f"match: invalid regex {mapping.match!r}: {exc}") from None

    if not mapping.observer_type:
        mapping.observer_type = defaults.observer_type
    if mapping.observer_type == OBSERVER_HISTOGRAM:
        if mapping.summary_options is not None:
            raise reader.fail(node, where, "cannot use observer_type histogram together with summary_options")
        if mapping.histogram_options is None:
            mapping.histogram_options = HistogramOptions()
        if not mapping.histogram_options.buckets:
            mapping.histogram_options.buckets = defaults.histogram_options.buckets
    elif mapping.observer_type == OBSERVER_SUMMARY:
        if mapping.histogram_options is not None:
            raise reader.fail(node, where, "cannot use observer_type summary together with histogram_options")
        if mapping.summary_options is None:
            mapping.summary_options = SummaryOptions()
        options = mapping.summary_options
        if not options.quantiles:
            options.quantiles = defaults.summary_options.quantiles
        if not options.max_age:
            options.max_age = defaults.summary_options.max_age
        if not options.age_buckets:
            options.age_buckets = defaults.summary_options.age_buckets
        if not options.buf_cap:
            options.buf_cap = defaults.summary_options.buf_cap
    if mapping.ttl == 0 and defaults.ttl > 0:
        mapping.ttl = defaults.ttl
    return mapping


def _mapping_field(reader: _Reader, mapping: MetricMapping, key: str, node: yaml.Node, where: str) -> None:
    """Read one optional mapping key into ``mapping``."""
    if key == "help":
        mapping.help = reader.string(node, where)
    elif key == "honor_labels":
        mapping.honor_labels = reader.boolean(node, f"{where} honor_labels")
    elif key == "match_type":
        mapping.match_type = _enum(reader, node, where, key, ("", MATCH_GLOB, MATCH_REGEX))
    elif key == "match_metric_type":
        if reader.string(node, where) == "timer":
            raise reader.fail(node, where, f'match_metric_type: "timer" {_REMOVED_NOTE}; use "observer" instead')
        mapping.match_metric_type = _enum(reader, node, where, key, ("", *METRIC_TYPES))
    elif key == "action":
        mapping.action = _enum(reader, node, where, key, ("", ACTION_MAP, ACTION_DROP)) or ACTION_MAP
    elif key == "observer_type":
        mapping.observer_type = _enum(reader, node, where, key, ("", OBSERVER_HISTOGRAM, OBSERVER_SUMMARY))
    elif key == "summary_options":
        mapping.summary_options = _summary_options(reader, node, where)
    elif key == "histogram_options":
        mapping.histogram_options = _histogram_options(reader, node, where)
    elif key == "ttl":
        mapping.ttl = reader.duration(node, f"{where} ttl")
    elif key == "scale":
        mapping.scale = reader.number(node, f"{where} scale")


def _is_null(node: yaml.Node | None) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG


def parse_mapping_yaml(text: str, source: str = "<string>") -> MappingConfig:
    """Parse and validate mapping-file text; raises MappingFileError naming ``source``."""
    reader = _Reader(source)
    try:
        root = next(iter(yaml.compose_all(text, Loader=yaml.SafeLoader)), None)
    except yaml.YAMLError as exc:
        detail = str(exc).replace('"<unicode string>", ', "")
        raise MappingFileError(f"{source}: not valid YAML: {detail}") from None
    if root is None or _is_null(root):
        return MappingConfig(_defaults(reader, None), [], source)
    items = reader.mapping(root, "top level")
    _check_keys(reader, items, {"defaults", "mappings"}, "top level")
    defaults = _defaults(reader, items["defaults"][1] if "defaults" in items else None)
    mappings: list[MetricMapping] = []
    if "mappings" in items:
        for index, node in enumerate(reader.sequence(items["mappings"][1], "mappings")):
            mappings.append(_mapping(reader, node, index, defaults))
    return MappingConfig(defaults, mappings, source)


def empty_config() -> MappingConfig:
    """The configuration used without a mapping file: everything is unmapped."""
    return parse_mapping_yaml("", "<no mapping file>")


def load_mapping_file(path: str | Path) -> MappingConfig:
    """Read, parse and validate a mapping file; raises MappingFileError with a readable message."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MappingFileError(f"{path}: mapping file not found (check --mapping)") from None
    except IsADirectoryError:
        raise MappingFileError(f"{path}: is a directory, expected a mapping YAML file") from None
    except PermissionError:
        raise MappingFileError(f"{path}: permission denied reading the mapping file") from None
    except UnicodeDecodeError as exc:
        raise MappingFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise MappingFileError(f"{path}: cannot read the mapping file: {exc.strerror}") from None
    return parse_mapping_yaml(text, str(path))
