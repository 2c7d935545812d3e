"""Metric and tag-key name escaping, as statsd_exporter's ``EscapeMetricName``.

Every character outside ``[A-Za-z0-9_]`` becomes ``_``; a name starting with a digit gets a
leading ``_``; a ``-`` that follows a ``-`` is dropped, so ``a--b`` becomes ``a_b``.
"""

from __future__ import annotations

import re

_CLEAN_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_DASH_RUN_RE = re.compile(r"--+")
_INVALID_RE = re.compile(r"[^A-Za-z0-9_]", re.ASCII)


def escape_metric_name(name: str) -> str:
    if not name:
        return ""
    if _CLEAN_RE.fullmatch(name):
        return name
    escaped = _INVALID_RE.sub("_", _DASH_RUN_RE.sub("-", name))
    if "0" <= name[0] <= "9":
        escaped = "_" + escaped
    return escaped
