"""A small model of statsd_exporter's mapping semantics, enough to check prometheus/statsd-mapping.yml.

It covers what the airdeck mapping uses: glob rules (whole-segment ``*``, earliest glob rule wins,
``match_metric_type``), regex rules tried after all globs in file order, ``${n}`` expansion, InfluxDB
tags in the metric name, and mapping labels overriding tags. It is a test oracle, not the bridge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
MAPPING_PATH = REPO / "prometheus" / "statsd-mapping.yml"

STATSD_TYPES = {"c": "counter", "g": "gauge", "ms": "observer", "h": "observer", "d": "observer"}
_TEMPLATE = re.compile(r"\$\{(\d+)\}")


@dataclass
class Result:
    action: str  # "map", "drop" or "unmapped"
    name: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    metric_type: str = ""
    rule: dict | None = None


def load_mapping(path: Path = MAPPING_PATH) -> dict:
    return yaml.safe_load(path.read_text())


def expand(template: str, groups: list[str]) -> str:
    def sub(m: re.Match) -> str:
        i = int(m.group(1))
        return groups[i - 1] if 1 <= i <= len(groups) else ""

    return _TEMPLATE.sub(sub, template)


def parse_line(line: str) -> tuple[str, dict[str, str], str]:
    """``airflow.ti.finish,dag_id=a,state=success:1|c`` -> (name, tags, event type)."""
    name_part, rest = line.split(":", 1)
    kind = rest.split("|")[1]
    name, *tag_parts = name_part.split(",")
    tags = dict(p.split("=", 1) for p in tag_parts)
    return name, tags, STATSD_TYPES[kind]


def _glob_match(pattern: str, name: str) -> list[str] | None:
    p_segs, n_segs = pattern.split("."), name.split(".")
    if len(p_segs) != len(n_segs):
        return None
    groups = []
    for p, n in zip(p_segs, n_segs, strict=True):
        if p == "*":
            groups.append(n)
        elif p != n:
            return None
    return groups


def apply(mapping: dict, name: str, tags: dict[str, str], event_type: str) -> Result:
    defaults = mapping.get("defaults") or {}
    rules = mapping["mappings"]

    def rule_type(rule: dict) -> str:
        return rule.get("match_type", defaults.get("match_type", "glob"))

    def type_ok(rule: dict) -> bool:
        return rule.get("match_metric_type") in (None, event_type)

    hit, groups = None, []
    for rule in (r for r in rules if rule_type(r) == "glob"):
        g = _glob_match(rule["match"], name)
        if g is not None and type_ok(rule):
            hit, groups = rule, g
            break
    if hit is None:
        for rule in (r for r in rules if rule_type(r) == "regex"):
            m = re.search(rule["match"], name, flags=re.ASCII)
            if m and type_ok(rule):
                hit, groups = rule, [g or "" for g in m.groups()]
                break
    if hit is None:
        return Result("unmapped")
    if hit.get("action") == "drop":
        return Result("drop", rule=hit)
    labels = dict(tags)
    labels.update({k: expand(str(v), groups) for k, v in (hit.get("labels") or {}).items()})
    labels = {k: v for k, v in labels.items() if v != ""}
    return Result("map", expand(hit["name"], groups), labels, event_type, hit)


def apply_line(mapping: dict, line: str) -> Result:
    name, tags, kind = parse_line(line)
    return apply(mapping, name, tags, kind)


def declared_labels(rule: dict) -> list[str]:
    """The labels a mapping rule documents at the end of its help text: ``[labels: a, b]``."""
    m = re.search(r"\[labels: ([^\]]*)\]$", rule.get("help", ""))
    if not m or m.group(1) == "none":
        return []
    return [x.strip() for x in m.group(1).split(",")]
