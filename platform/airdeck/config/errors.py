"""Configuration errors that say what is wrong, where, and what to do."""

from __future__ import annotations

from dataclasses import dataclass

from airdeck.errors import AirdeckError


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a configuration file."""

    path: str  # dotted key path, e.g. "workers.replicas"
    message: str
    hint: str = ""

    def render(self, source: str) -> str:
        where = f"{source}: {self.path}" if self.path else source
        text = f"{where}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class ConfigError(AirdeckError):
    """The configuration cannot be used; nothing was started."""

    exit_code = 2

    def __init__(self, source: str, issues: list[ConfigIssue]):
        self.source = source
        self.issues = issues
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"invalid configuration in {self.source} ({len(self.issues)} problem(s)):"]
        lines += [f"  - {issue.render(self.source)}" for issue in self.issues]
        return "\n".join(lines)
