"""Generate docs/configuration.md's key reference from the model, so the docs cannot drift.

``python -m airdeck.config.reference`` prints it; ``--write FILE`` replaces the generated block in
FILE; ``--check FILE`` exits 1 when FILE's block is out of date.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from airdeck.config.model import AirdeckConfig

BEGIN = "<!-- BEGIN GENERATED: python -m airdeck.config.reference --write docs/configuration.md -->"
END = "<!-- END GENERATED -->"


def _default(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
        if isinstance(value, BaseModel):
            return "(section)"
        return f"`{value!r}`"
    if field.default is PydanticUndefined:
        return "required"
    if field.default is None:
        return "unset"
    return f"`{field.default!r}`" if not isinstance(field.default, str) else f"`{field.default}`"


def _type(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) or str(annotation)
    text = text.replace("typing.", "").replace("pydantic.types.", "").replace("pathlib.", "")
    return text.replace(" | ", " or ")


def rows(model: type[BaseModel] = AirdeckConfig, prefix: str = "") -> list[str]:
    out: list[str] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            doc = (annotation.__doc__ or "").strip().splitlines()
            out.append(f"| `{key}` | section | | {field.description or (doc[0] if doc else '')} |")
            out += rows(annotation, f"{key}.")
            continue
        description = (field.description or "").replace("|", "\\|")
        out.append(f"| `{key}` | {_type(annotation)} | {_default(field)} | {description} |")
    return out


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
