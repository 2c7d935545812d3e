"""Glob matching with statsd_exporter's finite-state machine semantics (``pkg/mapper/fsm``).

Each glob is split on ``.`` into a path of states below a per-metric-type root (``counter``,
``gauge``, ``observer``; a mapping without ``match_metric_type`` is added under all three).
A ``*`` segment matches exactly one whole segment, which may be empty, and the segment count must
be equal. Precedence, as upstream:

* ordering kept (default): every path is explored and the matching glob listed **first** among
  the glob mappings wins;
* ``glob_disable_ordering: true``: at each segment the literal transition is tried before ``*``
  and the first complete match wins; ``*`` alternatives are only revisited when some rule needs
  backtracking (:func:`needs_backtracking`).

Two upstream behaviours are kept on purpose so the same file gives the same series here and in
statsd_exporter: a glob only gets a result if its final state did not exist yet (``a.b`` listed
after ``a.b.c`` never matches), and a repeated glob overwrites the priority of the earlier one.
:func:`shadowed_globs` reports both so they can be warned about at load time.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _State:
    transitions: dict[str, _State] = field(default_factory=dict)
    min_remaining: int = 0
    max_remaining: int = 0
    result: Any = None
    priority: int = 0


class GlobFSM:
    def __init__(self, metric_types: tuple[str, ...], ordering_disabled: bool):
        self.metric_types = metric_types
        self.ordering_disabled = ordering_disabled
        self.backtracking_needed = True
        self._roots = {t: _State() for t in metric_types}
        self._count = 0

    def add(self, match: str, match_metric_type: str, result: Any) -> int:
        """Add one glob; returns its number of ``*`` captures."""
        fields = match.split(".")
        roots = [self._roots[match_metric_type]] if match_metric_type else list(self._roots.values())
        capture_count = 0
        finals: list[_State] = []
        for state in roots:
            capture_count = 0
            last = len(fields) - 1
            for i, segment in enumerate(fields):
                remaining = last - i
                nxt = state.transitions.get(segment)
                if nxt is None:
                    nxt = _State(min_remaining=remaining, max_remaining=remaining)
                    state.transitions[segment] = nxt
                    if i == last:
                        nxt.result = result
                else:
                    nxt.max_remaining = max(nxt.max_remaining, remaining)
                    nxt.min_remaining = min(nxt.min_remaining, remaining)
                if segment == "*":
                    capture_count += 1
                state = nxt
            finals.append(state)
        for state in finals:
            state.priority = self._count
        self._count += 1
        return capture_count

    def lookup(self, name: str, metric_type: str) -> tuple[Any, list[str]]:
        """The winning result for ``name`` and its ``*`` captures, or ``(None, [])``."""
        fields = name.split(".")
        count = len(fields)
        current = self._roots[metric_type]
        captures = [""] * count
        best: _State | None = None
        best_captures: list[str] = []
        # Stack of alternatives: (state reached through "*", field index, capture index, capture).
        stack: list[tuple[_State, int, int, str]] = []
        backtracking = self.backtracking_needed
        i = 0
        capture_index = 0
        state: _State | None = None
        resume = False
        while True:
            while True:
                if not resume:
                    if not current.transitions:
                        break
                    segment = fields[i]
                    left = count - i - 1
                    state = current.transitions.get(segment)
                    if state is None or left > state.max_remaining or left < state.min_remaining:
                        state = current.transitions.get("*")
                        if state is None or left > state.max_remaining or left < state.min_remaining:
                            break
                        captures[capture_index] = segment
                        capture_index += 1
                    elif backtracking:
                        alt = current.transitions.get("*")
                        if alt is not None and alt.min_remaining <= left <= alt.max_remaining:
                            stack.append((alt, i, capture_index, segment))
                assert state is not None
                if state.result is not None and i == count - 1:
                    if self.ordering_disabled:
                        return state.result, captures
                    if best is None or best.priority > state.priority:
                        best = state
                        best_captures = captures.copy()
                    break
                i += 1
                if i >= count:
                    break
                resume = False
                current = state
            if not stack:
                break
            state, i, saved_index, segment = stack.pop()
            current = state
            capture_index = saved_index + 1
            captures[saved_index] = segment
            resume = True
        if best is None:
            return None, []
        return best.result, best_captures


def _glob_regex(glob: str) -> re.Pattern[str] | None:
    try:
        return re.compile("^" + re.escape(glob).replace(r"\*", "([^.]*)") + "$")
    except re.error:  # pragma: no cover - globs are validated before
        return None


def needs_backtracking(globs: list[str], ordering_disabled: bool) -> bool:
    """Upstream's ``TestIfNeedBacktracking``: always true while ordering is kept."""
    if not ordering_disabled:
        return True
    by_length: dict[int, list[str]] = {}
    for glob in globs:
        by_length.setdefault(len(glob.split(".")), []).append(glob)
    needed = False
    for rules in by_length.values():
        if len(rules) < 2:
            continue
        regexes = [_glob_regex(r) for r in rules]
        for i1, r1 in enumerate(rules):
            re1 = regexes[i1]
            if re1 is None or "*" not in r1:
                continue
            current = False
            for pos, char in enumerate(r1):
                if char != "*":
                    continue
                prefix = re.compile("^" + re.escape(r1[:pos]))
                if any(prefix.search(r2) for i2, r2 in enumerate(rules) if i2 != i1):
                    current = True
                    break
            for i2, r2 in enumerate(rules):
                if i2 != i1 and re1.search(r2):
                    current = False
            for i2, re2 in enumerate(regexes):
                if i2 != i1 and re2 is not None and re2.search(r1):
                    current = False
            if current:
                log.debug("glob %r needs backtracking; matching may be slower", r1)
                needed = True
    return needed


def shadowed_globs(globs: list[tuple[int, str, str]], ordering_disabled: bool) -> list[str]:
    """Human-readable warnings for globs that can never win.

    ``globs`` is a list of ``(mapping index, match, match_metric_type)`` in file order.
    """
    warnings: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for index, match, metric_type in globs:
        key = (match, metric_type)
        if key in seen:
            warnings.append(
                f"mappings[{index}] repeats the glob {match!r} of mappings[{seen[key]}]; "
                "the earlier one keeps matching with this one's priority"
            )
        else:
            seen[key] = index
    for index, match, metric_type in globs:
        for other_index, other, other_type in globs:
            if other_index >= index or (metric_type and other_type and metric_type != other_type):
                continue
            if other.startswith(match + "."):
                warnings.append(
                    f"mappings[{index}] {match!r} is listed after the longer glob {other!r} "
                    f"(mappings[{other_index}]) that shares its prefix; statsd_exporter never "
                    "matches it (list the shorter glob first)"
                )
                break
    if not ordering_disabled:
        for index, match, metric_type in globs:
            regex = _glob_regex(match)
            for other_index, other, other_type in globs:
                if other_index <= index or regex is None or other == match:
                    continue
                if metric_type and other_type and metric_type != other_type:
                    continue
                if regex.search(other) and len(other.split(".")) == len(match.split(".")):
                    warnings.append(
                        f"mappings[{other_index}] {other!r} can never match: the earlier glob "
                        f"{match!r} (mappings[{index}]) covers everything it covers"
                    )
    return warnings
