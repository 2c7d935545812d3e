"""Input and output tables of the Terraform modules' READMEs, generated from variables.tf and outputs.tf.

    python -m tests.terraform.readme          # exit 1 and name the READMEs that are out of date
    python -m tests.terraform.readme --write  # rewrite the tables between the markers
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"


def module_dirs() -> list[Path]:
    return sorted(p for p in [*TERRAFORM.glob("modules/*"), *TERRAFORM.glob("examples/*")] if p.is_dir())


def load(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    with path.open(encoding="utf-8") as f:
        return dict(hcl2.load(f))


def _expr(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1]
    # python-hcl2 writes the attributes of object types as JSON: back to HCL's own spelling.
    text = re.sub(r'"\$\{(.*?)\}"', r"\1", text)
    text = re.sub(r'"(\w+)":\s*', r"\1 = ", text)
    text = re.sub(r'"(string|number|bool|any)"', r"\1", text)
    return " ".join(text.split())


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def tables(module: Path) -> str:
    variables = [next(iter(v.items())) for v in load(module / "variables.tf").get("variable", [])]
    outputs = [next(iter(o.items())) for o in load(module / "outputs.tf").get("output", [])]
    lines = ["## Inputs", ""]
    if variables:
        lines += ["| Name | Description | Type | Default | Required |", "|---|---|---|---|:---:|"]
        for name, spec in variables:
            required = "default" not in spec
            default = "" if required else "null" if spec["default"] is None else _expr(spec["default"])
            default = f"`{_cell(default)}`" if default else ""
            kind = _cell(_expr(spec.get("type", "any")))
            lines.append(f"| `{name}` | {_cell(spec.get('description', ''))} | `{kind}` "
                         f"| {default} | {'yes' if required else 'no'} |")
    else:
        lines.append("No inputs.")
    lines += ["", "## Outputs", ""]
    if outputs:
        lines += ["| Name | Description |", "|---|---|"]
        lines += [f"| `{name}` | {_cell(spec.get('description', ''))} |" for name, spec in outputs]
    else:
        lines.append("No outputs.")
    return "\n".join(lines)


def expected(readme: Path, module: Path) -> str:
    text = readme.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise ValueError(f"{readme.relative_to(ROOT)}: no {BEGIN} … {END} markers")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{tables(module)}\n{END}{tail}"


def main(argv: list[str]) -> int:
    stale = []
    for module in module_dirs():
        readme = module / "README.md"
        want = expected(readme, module)
        if readme.read_text(encoding="utf-8") != want:
            if "--write" in argv:
                readme.write_text(want, encoding="utf-8")
            else:
                stale.append(str(readme.relative_to(ROOT)))
    if stale:
        print("out of date (run python -m tests.terraform.readme --write): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
