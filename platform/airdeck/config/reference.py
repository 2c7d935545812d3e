"""Generate docs/configuration.md's key reference from the JSON schema of the model, so the docs cannot drift.

Every key is listed, nested ones included (``secrets.vault.auth.method``, ``alerts.channels.<name>.type``,
``alerts.routes[].channels``), with its default as written in airdeck.yaml (``5m``).

``python -m airdeck.config.reference`` prints it; ``--write FILE`` replaces the generated block in
FILE; ``--check FILE`` exits 1 when FILE's block is out of date.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from airdeck.config.base import DURATION_PATTERN, format_duration
from airdeck.config.schema import json_schema

BEGIN = "<!-- BEGIN GENERATED: python -m airdeck.config.reference --write docs/configuration.md -->"
END = "<!-- END GENERATED -->"

Schema = dict[str, Any]


class _Walker:
    """Walks the schema: one table row per key, sections first, then their keys."""

    def __init__(self, schema: Schema):
        self.defs: dict[str, Schema] = schema.get("$defs", {})
        self.out: list[str] = []

    def resolve(self, node: Schema) -> Schema:
        ref = node.get("$ref")
        return self.defs[ref.rsplit("/", 1)[1]] if ref else node

    def section(self, node: Schema, prefix: str) -> None:
        required = set(node.get("required", []))
        for name, prop in node.get("properties", {}).items():
            self.key(f"{prefix}{name}", prop, name in required)

    def key(self, key: str, prop: Schema, required: bool) -> None:
        inner, optional = self._unwrap(prop)
        inner = self.resolve(inner)
        meaning = prop.get("description") or inner.get("description") or ""
        if inner.get("type") == "object" and "properties" in inner:
            kind = "section" + (", optional" if optional else "")
            self.row(key, kind, "required" if required else "", meaning)
            self.section(inner, f"{key}.")
            return
        child = self._collection_of_sections(inner)
        if child is not None:
            suffix, kind = ("[].", "list of sections") if inner["type"] == "array" else (".<name>.", "map of sections")
            self.row(key, kind, _default(prop, required), meaning)
            self.section(child, f"{key}{suffix}")
            return
        self.row(key, _type(inner, optional), _default(prop, required), meaning)

    def _unwrap(self, prop: Schema) -> tuple[Schema, bool]:
        """``X | None`` → (X, True); anything else unchanged."""
        branches = prop.get("anyOf")
        if branches and any(b.get("type") == "null" for b in branches):
            rest = [b for b in branches if b.get("type") != "null"]
            if len(rest) == 1:
                return rest[0], True
            return {"anyOf": rest}, True
        return prop, False

    def _collection_of_sections(self, node: Schema) -> Schema | None:
        if node.get("type") == "array" and "$ref" in node.get("items", {}):
            return self.resolve(node["items"])
        extra = node.get("additionalProperties")
        if node.get("type") == "object" and isinstance(extra, dict) and "$ref" in extra:
            return self.resolve(extra)
        return None

    def row(self, key: str, kind: str, default: str, meaning: str) -> None:
        self.out.append(f"| `{key}` | {kind} | {default} | {_cell(meaning)} |")


def _type(node: Schema, optional: bool) -> str:
    text = _plain_type(node)
    return f"{text}, optional" if optional else text


def _plain_type(node: Schema) -> str:
    branches = node.get("anyOf")
    if branches and any(b.get("pattern") == DURATION_PATTERN for b in branches):
        return "duration" + _range(next(b for b in branches if b.get("type") == "number"), _seconds)
    if branches:
        return " or ".join(_plain_type(b) for b in branches)
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    if "enum" in node:
        return "one of " + ", ".join(f"`{value}`" for value in node["enum"])
    kind = node.get("type")
    if kind == "array":
        return f"list of {_plain_type(node.get('items', {}))}"
    if kind == "object":
        values = node.get("additionalProperties")
        return f"map of {_plain_type(values)}" if isinstance(values, dict) else "map"
    if kind == "string":
        if node.get("writeOnly"):
            return "string (secret)"
        return {"path": "path"}.get(node.get("format", ""), "string")
    if kind in ("integer", "number"):
        return kind + _range(node, str)
    return str(kind or "any")


def _seconds(value: float) -> str:
    return format_duration(timedelta(seconds=value))


def _range(node: Schema, show: Callable[[Any], str]) -> str:
    low = node.get("minimum", node.get("exclusiveMinimum"))
    high = node.get("maximum", node.get("exclusiveMaximum"))
    if low is not None and high is not None:
        return f" ({show(low)}–{show(high)})"
    if low is not None and low != 0:
        return f" (≥ {show(low)})"
    if high is not None:
        return f" (≤ {show(high)})"
    return ""


def _default(prop: Schema, required: bool) -> str:
    if required:
        return "required"
    if "default" not in prop:
        return ""
    value = prop["default"]
    if value is None:
        return "unset"
    text = value if isinstance(value, str) else json.dumps(value)
    return f"`{_cell(text)}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def rows() -> list[str]:
    schema = json_schema()
    walker = _Walker(schema)
    walker.section(schema, "")
    return walker.out


def render() -> str:
    lines = [BEGIN, "", "| key | type | default | meaning |", "|---|---|---|---|", *rows(), "", END]
    return "\n".join(lines)


def _replace(text: str) -> str:
    if BEGIN not in text or END not in text:
        raise SystemExit(f"the generated-block markers are missing; add\n{BEGIN}\n{END}")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + render() + tail


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] in ("--write", "--check"):
        path = Path(argv[1])
        current = path.read_text(encoding="utf-8")
        updated = _replace(current)
        if argv[0] == "--write":
            path.write_text(updated, encoding="utf-8")
            return 0
        if updated != current:
            print(f"{path} is out of date; run: python -m airdeck.config.reference --write {path}", file=sys.stderr)
            return 1
        return 0
    print(render())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
