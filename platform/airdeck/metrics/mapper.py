"""Find the mapping for a StatsD metric name and type (statsd_exporter's ``GetMapping``).

All glob mappings are tried before any regex mapping, whatever their place in the file; globs go
through :class:`~airdeck.metrics.fsm.GlobFSM`, regexes are tried in file order and the first one
that matches (and whose ``match_metric_type`` fits) wins. Results, hits and misses alike, are kept
in an LRU cache keyed by type and name, like statsd_exporter's mapping cache.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from dataclasses import dataclass

from airdeck.metrics.fsm import GlobFSM, needs_backtracking, shadowed_globs
from airdeck.metrics.goregex import GoTemplate
from airdeck.metrics.line import COUNTER, GAUGE, OBSERVER
from airdeck.metrics.mapping import MATCH_GLOB, MappingConfig, MetricMapping

log = logging.getLogger(__name__)

DEFAULT_CACHE_SIZE = 1000

# The glob template syntax: "$" or "${", then a greedy run that also swallows "_" and "$"
# (so "$1_total" refers to "1_total", which is not a capture and expands to nothing).
_GLOB_REF_RE = re.compile(r"\$\{?([a-zA-Z0-9_$]+)\}?")


class GlobTemplate:
    """Expands ``$n``/``${n}`` against glob captures; anything else after ``$`` becomes empty.

    ``%`` is kept literally (upstream builds the result with ``fmt.Sprintf`` and mangles it).
    """

    __slots__ = ("parts", "literal")

    def __init__(self, template: str, capture_count: int):
        parts: list[str | int] = []
        pos = 0
        for match in _GLOB_REF_RE.finditer(template):
            if match.start() > pos:
                parts.append(template[pos : match.start()])
            ref = match.group(1)
            if ref.isdigit() and 1 <= int(ref) <= capture_count:
                parts.append(int(ref) - 1)
            pos = match.end()
        if pos < len(template):
            parts.append(template[pos:])
        self.parts = tuple(parts)
        self.literal = (
            "".join(p for p in parts if isinstance(p, str)) if not any(isinstance(p, int) for p in parts) else None
        )

    def format(self, captures: list[str]) -> str:
        if self.literal is not None:
            return self.literal
        return "".join(captures[p] if isinstance(p, int) else p for p in self.parts)


@dataclass(frozen=True)
class MappingResult:
    """A matched mapping with its expanded (not yet escaped) name and mapping labels."""

    mapping: MetricMapping
    name: str
    labels: dict[str, str]


@dataclass
class _GlobEntry:
    mapping: MetricMapping
    name: GlobTemplate
    labels: tuple[tuple[str, GlobTemplate], ...]


@dataclass
class _RegexEntry:
    mapping: MetricMapping
    regex: re.Pattern[str]
    name: GoTemplate
    labels: tuple[tuple[str, GoTemplate], ...]


@dataclass
class CacheStats:
    gets: int = 0
    hits: int = 0


class Mapper:
    def __init__(self, config: MappingConfig, cache_size: int = DEFAULT_CACHE_SIZE):
        self.config = config
        self.cache_size = cache_size
        self.cache_stats = CacheStats()
        self._cache: OrderedDict[tuple[str, str], MappingResult | None] = OrderedDict()
        self._fsm: GlobFSM | None = None
        self._regexes: list[_RegexEntry] = []
        self.warnings: list[str] = []
        globs: list[tuple[int, str, str]] = []
        fsm = GlobFSM((COUNTER, GAUGE, OBSERVER), config.defaults.glob_disable_ordering)
        for mapping in config.mappings:
            if mapping.match_type == MATCH_GLOB:
                entry = _GlobEntry(mapping, GlobTemplate(mapping.name, 0), ())
                captures = fsm.add(mapping.match, mapping.match_metric_type, entry)
                entry.name = GlobTemplate(mapping.name, captures)
                entry.labels = tuple((k, GlobTemplate(v, captures)) for k, v in mapping.labels.items())
                globs.append((mapping.index, mapping.match, mapping.match_metric_type))
                self._fsm = fsm
            else:
                assert mapping.regex is not None
                self._regexes.append(
                    _RegexEntry(
                        mapping,
                        mapping.regex,
                        GoTemplate(mapping.name),
                        tuple((k, GoTemplate(v)) for k, v in mapping.labels.items()),
                    )
                )
        if self._fsm is not None:
            matches = [g[1] for g in globs]
            fsm.backtracking_needed = needs_backtracking(matches, fsm.ordering_disabled)
            self.warnings = shadowed_globs(globs, fsm.ordering_disabled)

    def cache_length(self) -> int:
        return len(self._cache)

    def get_mapping(self, name: str, metric_type: str) -> MappingResult | None:
        """The mapping for ``name`` seen as ``metric_type`` (counter/gauge/observer), or None."""
        key = (metric_type, name)
        stats = self.cache_stats
        stats.gets += 1
        cache = self._cache
        if key in cache:
            stats.hits += 1
            cache.move_to_end(key)
            return cache[key]
        result = self._find(name, metric_type)
        if self.cache_size > 0:
            cache[key] = result
            if len(cache) > self.cache_size:
                cache.popitem(last=False)
        return result

    def _find(self, name: str, metric_type: str) -> MappingResult | None:
        if self._fsm is not None:
            entry, captures = self._fsm.lookup(name, metric_type)
            if entry is not None:
                return MappingResult(
                    entry.mapping,
                    entry.name.format(captures),
                    {key: template.format(captures) for key, template in entry.labels},
                )
        for regex_entry in self._regexes:
            match = regex_entry.regex.search(name)
            if match is None:
                continue
            mapping_type = regex_entry.mapping.match_metric_type
            if mapping_type and mapping_type != metric_type:
                continue
            return MappingResult(
                regex_entry.mapping,
                regex_entry.name.expand(match),
                {key: template.expand(match) for key, template in regex_entry.labels},
            )
        return None
