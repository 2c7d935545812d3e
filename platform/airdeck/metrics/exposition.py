"""Text exposition (format 0.0.4) of prometheus_client metric families, client_golang style.

Used for the bridge's own metrics and the process collector; the mapped metrics are rendered by
:meth:`MetricRegistry.render`. Both follow the same rules, so one scrape reads as one client_golang
exposition: families sorted by name, counter names as the samples carry them, no ``_created``.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.metrics_core import Metric

from airdeck.metrics.registry import escape_label_value, format_value

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def render_families(families: Iterable[Metric]) -> list[tuple[str, str]]:
    chunks: list[tuple[str, str]] = []
    for family in families:
        samples = [s for s in family.samples if not s.name.endswith("_created")]
        if not samples:
            continue
        name = family.name
        if family.type == "counter" and any(s.name == name + "_total" for s in samples):
            name += "_total"
        kind = {"unknown": "untyped", "info": "gauge", "stateset": "gauge"}.get(family.type, family.type)
        help_text = family.documentation.replace("\\", "\\\\").replace("\n", "\\n")
        out = [f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n"]
        for sample in samples:
            if sample.labels:
                labels = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in sample.labels.items())
                out.append(f"{sample.name}{{{labels}}} {format_value(float(sample.value))}\n")
            else:
                out.append(f"{sample.name} {format_value(float(sample.value))}\n")
        chunks.append((name, "".join(out)))
    return chunks


def join_chunks(*groups: list[tuple[str, str]]) -> bytes:
    merged = sorted((chunk for group in groups for chunk in group), key=lambda c: c[0])
    return "".join(text for _, text in merged).encode("utf-8")
