"""The JSON Schema (draft 2020-12) of airdeck.yaml, generated from the model.

It is the ``airdeck:`` part of the Helm chart's ``values.schema.json`` and the type of the Terraform
module's ``airdeck`` variable. Every object refuses unknown keys (``additionalProperties: false``);
defaults are written as in airdeck.yaml (``5m``, not ISO 8601).

``python -m airdeck.config.schema`` prints it; ``--write FILE`` writes it; ``--check FILE`` exits 1 when
FILE differs from the model. The committed copy is docs/reference/airdeck.schema.json.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, NoDefault
from pydantic_core import core_schema

from airdeck.config.base import format_duration
from airdeck.config.model import AirdeckConfig

DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_FILE = "docs/reference/airdeck.schema.json"


class _AirdeckJsonSchema(GenerateJsonSchema):
    """Pydantic's generator, writing defaults the way a person writes them in airdeck.yaml."""

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            value = factory()  # type: ignore[call-arg]
            return NoDefault if isinstance(value, BaseModel) else value  # sections: their keys say it
        return super().get_default_value(schema)

    def encode_default(self, dft: Any) -> Any:
        return super().encode_default(human_default(dft))


def human_default(value: Any) -> Any:
    """A default as airdeck.yaml would write it: durations in the short form, paths as text."""
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, Path):
        return str(value)
    return value


def json_schema() -> dict[str, Any]:
    """The schema of a whole airdeck.yaml."""
    schema: JsonSchemaValue = AirdeckConfig.model_json_schema(mode="validation", schema_generator=_AirdeckJsonSchema)
    schema = {"$schema": DIALECT, "title": "airdeck.yaml", **schema}
    schema["description"] = ("airdeck's configuration: the same keys in airdeck.yaml, the Helm chart's "
                             "`airdeck:` values and the Terraform module's `airdeck` variable.")
    return schema


def render() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] in ("--write", "--check"):
        path = Path(argv[1])
        text = render()
        if argv[0] == "--write":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return 0
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        if current != text:
            print(f"{path} is out of date; run: python -m airdeck.config.schema --write {path}", file=sys.stderr)
            return 1
        return 0
    if argv:
        print("usage: python -m airdeck.config.schema [--write FILE | --check FILE]", file=sys.stderr)
        return 2
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
