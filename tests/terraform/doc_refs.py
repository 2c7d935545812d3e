"""What the cloud documentation names, checked against what exists: Terraform variables and outputs of the
example or module a passage is about, commands (`terraform …`, `scripts/…`, `airdeck …`, `helm …` with its
`--set` keys and chart path), and chart values / airdeck.yaml keys.

Sources read: docs/cloud.md (each `## AWS` / `## Google Cloud` / `## Azure` section is about that cloud's
example; other sections about any example or module), terraform/examples/*/README.md (that example) and
terraform/modules/*/README.md (that module), minus the generated input/output tables. From their code
spans and fenced blocks: `-var name=…` and `-var-file` snippets, `name = value` spans, HCL/tfvars fenced
blocks (parsed with python-hcl2: top-level attributes are variables, a `module` block's arguments are that
module's variables), bare spans naming a variable or output of some module, `terraform output NAME`,
shell commands, and dotted keys whose first part is a chart values or airdeck.yaml key.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
SCHEMA = ROOT / "helm" / "airdeck" / "values.schema.json"
CLOUDS = {"aws": ("aws",), "gcp": ("google cloud", "gcp"), "azure": ("azure",)}
TERRAFORM_COMMANDS = {"init", "validate", "plan", "apply", "destroy", "console", "fmt", "force-unlock", "get",
                      "graph", "import", "login", "logout", "metadata", "modules", "output", "providers",
                      "refresh", "show", "state", "taint", "test", "untaint", "version", "workspace"}
MODULE_META = {"source", "version", "providers", "count", "for_each", "depends_on"}
BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"
HOST_SUFFIXES = {"com", "org", "net", "io", "dev", "internal", "local", "example"}
FILE_SUFFIXES = {"yaml", "yml", "md", "tf", "json", "py", "txt", "hcl", "tfvars", "toml", "sh", "gz"}
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")


@dataclass(frozen=True)
class Ref:
    doc: str
    line: int
    kind: str  # variable, output, command, values
    name: str
    scope: str  # "examples/aws", "modules/gcp", or "" for any

    def __str__(self) -> str:
        where = f" of {self.scope}" if self.scope else ""
        return f"{self.doc}:{self.line}: {self.kind} {self.name}{where}"


def _load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        return dict(hcl2.load(f))


def names(folder: Path, kind: str) -> set[str]:
    found: set[str] = set()
    for tf in folder.glob("*.tf"):
        for block in _load(tf).get(kind, []):
            found |= set(block)
    return found


def folders() -> dict[str, Path]:
    return {f"{p.parent.name}/{p.name}": p for p in sorted([*TERRAFORM.glob("examples/*"),
                                                            *TERRAFORM.glob("modules/*")]) if p.is_dir()}


def documents() -> list[tuple[Path, str]]:
    """(document, default scope)."""
    docs = [(ROOT / "docs" / "cloud.md", "")]
    docs += [(readme, f"{readme.parent.parent.name}/{readme.parent.name}")
             for readme in sorted(TERRAFORM.glob("*/*/README.md"))]
    return docs


def _scope_of_heading(heading: str, default: str) -> str:
    text = heading.lower()
    for cloud, words in CLOUDS.items():
        if any(re.search(rf"\b{w}\b", text) for w in words):
            return f"examples/{cloud}"
    return default


def _strip_generated(text: str) -> str:
    start, end = text.find(BEGIN), text.find(END)
    if start >= 0 and end > start:
        return text[:start] + "\n" * text.count("\n", start, end) + text[end:]
    return text


def extract(path: Path, default_scope: str, all_inputs: set[str], root: Path = ROOT) -> list[Ref]:
    """Every reference in one document; all_inputs are the variable and output names of every folder."""
    rel = str(path.relative_to(root))
    text = _strip_generated(path.read_text(encoding="utf-8"))
    refs: list[Ref] = []
    scope_at: list[tuple[int, str]] = [(1, default_scope)]
    for number, heading in enumerate(text.splitlines(), 1):
        if heading.startswith("## "):
            scope_at.append((number, default_scope or _scope_of_heading(heading, "")))
        elif heading.startswith("# "):
            scope_at.append((number, default_scope))

    def scope(line: int) -> str:
        return [s for n, s in scope_at if n <= line][-1]

    fenced_spans: list[tuple[int, int]] = []
    for fence in FENCE.finditer(text):
        fenced_spans.append((fence.start(), fence.end()))
        lang, body = fence.group(1).lower(), fence.group(2)
        first = text.count("\n", 0, fence.start(2)) + 1
        if lang in ("hcl", "terraform", "tf", "tfvars"):
            refs += _hcl_refs(rel, first - 1, body, scope(first))
        else:
            for offset, command in _commands(body):
                refs += _command_refs(rel, first + offset, command, scope(first + offset))
    for span in SPAN.finditer(text):
        if any(a <= span.start() < b for a, b in fenced_spans):
            continue
        line = text.count("\n", 0, span.start()) + 1
        refs += _span_refs(rel, line, span.group(1).strip(), scope(line), all_inputs)
    return refs


def _hcl_refs(rel: str, first: int, body: str, scope: str) -> list[Ref]:
    try:
        doc = hcl2.loads(body + "\n")
    except Exception:  # noqa: BLE001 - a snippet with `…` placeholders is prose, not HCL to check
        return []
    refs: list[Ref] = []
    lines = body.splitlines()

    def line_of(name: str) -> int:
        return first + 1 + next((i for i, t in enumerate(lines) if re.match(rf"\s*{re.escape(name)}\s*=", t)), 0)

    for name, value in doc.items():
        if name == "module":
            for block in value:
                for _label, args in block.items():
                    source = str(args.get("source", ""))
                    match = re.search(r"modules/([\w-]+)", source)
                    target = f"modules/{match.group(1)}" if match else scope
                    refs += [Ref(rel, line_of(a), "variable", a, target) for a in args if a not in MODULE_META]
        elif name in ("variable", "output", "resource", "data", "locals", "provider", "terraform"):
            continue
        else:
            refs.append(Ref(rel, line_of(name), "variable", name, scope))
    return refs


def _commands(body: str) -> list[tuple[int, str]]:
    """(line offset, command) of a shell snippet, continuation lines joined, comments and prompts dropped."""
    out: list[tuple[int, str]] = []
    pending, start = "", 0
    for offset, raw in enumerate(body.splitlines()):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        line = re.sub(r"^\$\s+", "", line)
        if not pending:
            start = offset
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        command = (pending + line).strip()
        pending = ""
        if command:
            out.append((start, command))
    return out


def _words(command: str) -> list[str]:
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
        words = words[1:]  # environment assignments
    for i, word in enumerate(words):  # the first command of a list or pipeline
        if word in (";", "&&", "||", "|"):
            return words[:i]
        if word.endswith(";"):
            return [*words[:i], word[:-1]]
    return words


def _command_refs(rel: str, line: int, command: str, scope: str) -> list[Ref]:
    words = _words(command)
    if not words:
        return []
    tool = words[0].removeprefix("./")
    refs: list[Ref] = []
    if tool == "terraform" and len(words) > 1:
        sub = next((w for w in words[1:] if not w.startswith("-")), "")
        refs.append(Ref(rel, line, "command", f"terraform {sub}", ""))
        for i, word in enumerate(words):
            value = words[i + 1] if word == "-var" and i + 1 < len(words) else (
                word.split("=", 1)[1] if word.startswith("-var=") else None)
            if value is not None and "=" in value:
                refs.append(Ref(rel, line, "variable", value.split("=", 1)[0], scope))
        if sub == "output":
            rest = [w for w in words[words.index("output") + 1:] if not w.startswith("-")]
            refs += [Ref(rel, line, "output", rest[0], scope)] if rest else []
    elif tool.startswith("scripts/"):
        refs.append(Ref(rel, line, "command", tool, ""))
    elif tool == "airdeck":
        refs.append(Ref(rel, line, "command", " ".join(["airdeck", *words[1:]]), ""))
    elif tool == "helm":
        for i, word in enumerate(words):
            if word in ("--set", "--set-string", "--set-file") and i + 1 < len(words):
                for pair in words[i + 1].split(","):
                    refs.append(Ref(rel, line, "values", pair.split("=", 1)[0], ""))
            elif word.startswith("helm/"):
                refs.append(Ref(rel, line, "command", f"chart path {word}", ""))
    return refs


def _span_refs(rel: str, line: int, span: str, scope: str, all_inputs: set[str]) -> list[Ref]:
    first = span.split()[0] if span.split() else ""
    if first.removeprefix("./") in ("terraform", "airdeck", "helm") or first.startswith(("scripts/", "./scripts/")):
        return _command_refs(rel, line, span, scope)
    assignment = re.fullmatch(r"([a-z][a-z0-9_]*)\s*=\s*(.+)", span)
    if assignment and SNAKE.fullmatch(assignment.group(1)) and assignment.group(1) in all_inputs:
        return [Ref(rel, line, "variable", assignment.group(1), scope)]
    if SNAKE.fullmatch(span) and span in all_inputs:
        return [Ref(rel, line, "name", span, scope)]
    if re.fullmatch(r"[a-z][A-Za-z0-9_]*(\.[A-Za-z0-9_*]+)+(/[A-Za-z0-9_]+)?", span) and \
            span.rsplit(".", 1)[-1] not in FILE_SUFFIXES:
        return [Ref(rel, line, "values", span, "")]
    return []


# -- checking --------------------------------------------------------------------------------------------


class Universe:
    def __init__(self) -> None:
        self.folders = folders()
        self.variables = {k: names(p, "variable") for k, p in self.folders.items()}
        self.outputs = {k: names(p, "output") for k, p in self.folders.items()}
        self.schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
        self._cli: Any = None

    def all_inputs(self) -> set[str]:
        return set().union(*self.variables.values(), *self.outputs.values())

    def problem(self, ref: Ref) -> str | None:
        """Why a reference names nothing that exists, or None."""
        if ref.kind in ("variable", "output", "name"):
            kinds = {"variable": [self.variables], "output": [self.outputs],
                     "name": [self.variables, self.outputs]}[ref.kind]
            scopes = [ref.scope] if ref.scope else list(self.folders)
            if ref.scope and ref.scope not in self.folders:
                return f"{ref.scope} does not exist"
            if any(ref.name in table[s] for table in kinds for s in scopes):
                return None
            elsewhere = sorted(s for table in kinds for s, found in table.items() if ref.name in found)
            where = f" (it is one of {', '.join(elsewhere)})" if elsewhere else ""
            what = "a variable or output" if ref.kind == "name" else f"an {ref.kind}" if ref.kind == "output" \
                else f"a {ref.kind}"
            return f"{ref.name} is not {what} of {ref.scope or 'any example or module'}{where}"
        if ref.kind == "values":
            return self._values_problem(ref.name)
        if ref.kind == "command":
            return self._command_problem(ref.name)
        return None

    def _command_problem(self, name: str) -> str | None:
        if name.startswith("terraform "):
            sub = name.split(" ", 1)[1]
            return None if sub in TERRAFORM_COMMANDS else f"`{name}` is not a terraform command"
        if name.startswith("scripts/"):
            return None if (ROOT / name).is_file() else f"{name} does not exist"
        if name.startswith("chart path "):
            path = name.removeprefix("chart path ")
            return None if (ROOT / path).exists() else f"{path} does not exist"
        if name.startswith("airdeck"):
            return self._airdeck_problem(name.split()[1:])
        return None

    def _airdeck_problem(self, words: list[str]) -> str | None:
        import argparse

        from airdeck.cli.main import build_parser

        parser: argparse.ArgumentParser = build_parser()
        path = ["airdeck"]
        skip = False
        for word in words:
            if skip:  # the value of the option before (e.g. --target kubernetes)
                skip = False
                continue
            if word in ("…", "...") or word.startswith("<"):
                return None  # a placeholder: the rest of a command the text names elsewhere
            if word.startswith("-"):
                action = parser._option_string_actions.get(word)  # noqa: SLF001
                skip = action is not None and action.nargs != 0 and "=" not in word
                continue
            subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]  # noqa: SLF001
            if not subs:
                return None  # a positional argument of the command
            choices = subs[0].choices
            if word not in choices:
                return f"`{' '.join([*path, word])}` is not an airdeck command (choices: {', '.join(sorted(choices))})"
            parser = choices[word]
            path.append(word)
        return None

    def _terraform_attribute(self, parts: list[str]) -> bool:
        """``ingress.allowed_from``: an attribute of a Terraform variable's object type, not a values key."""
        if len(parts) < 2 or not any(parts[0] in v for v in self.variables.values()):
            return False
        pattern = re.compile(rf'variable "{re.escape(parts[0])}" {{(.*?)\n}}', re.S)
        return any(re.search(rf"\b{re.escape(parts[1])}\s*=", found.group(1))
                   for folder in self.folders.values() for tf in folder.glob("*.tf")
                   for found in pattern.finditer(tf.read_text(encoding="utf-8")))

    def _values_problem(self, key: str) -> str | None:
        if key.rsplit(".", 1)[-1] in HOST_SUFFIXES:
            return None  # a host name (airflow.example.com)
        if self._terraform_attribute(key.split("/")[0].split(".")):
            return None
        head, _, alternatives = key.partition("/")
        candidates = [head] + [head.rsplit(".", 1)[0] + "." + alt for alt in alternatives.split("/") if alt]
        for candidate in candidates:
            parts = candidate.split(".")
            roots = [self.schema]
            airdeck = self.schema["properties"]["airdeck"]
            if parts[0] in self._properties(airdeck):
                roots.append(airdeck)
            if parts[0] not in self._properties(self.schema) and len(roots) == 1:
                return None  # not a values key (a resource argument, a file name, …)
            if not any(self._walk(root, parts) for root in roots):
                return (f"{candidate} is not a chart values key (helm/airdeck/values.schema.json) "
                        "nor an airdeck.yaml key")
        return None

    def _resolve(self, node: dict[str, Any]) -> list[dict[str, Any]]:
        if "$ref" in node:
            name = node["$ref"].split("/")[-1]
            return self._resolve(self.schema["$defs"][name])
        out = [node]
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in node.get(key, []):
                out += self._resolve(sub)
        return out

    def _properties(self, node: dict[str, Any]) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for sub in self._resolve(node):
            props.update(sub.get("properties", {}))
        return props

    def _walk(self, node: dict[str, Any], parts: list[str]) -> bool:
        if not parts:
            return True
        for sub in self._resolve(node):
            props = sub.get("properties", {})
            if parts[0] in props and self._walk(props[parts[0]], parts[1:]):
                return True
            if parts[0] == "*" or (isinstance(sub.get("additionalProperties"), dict) and parts[0] not in props):
                extra = sub.get("additionalProperties")
                child: dict[str, Any] = extra if isinstance(extra, dict) else {}
                if parts[0] == "*":
                    return any(self._walk(p, parts[1:]) for p in props.values()) or bool(child)
                return self._walk(child, parts[1:]) if child.get("properties") else True
            if "items" in sub and isinstance(sub["items"], dict) and self._walk(sub["items"], parts):
                return True
        return False


def check(refs: list[Ref], universe: Universe) -> list[str]:
    """One line per reference to something that does not exist (the first per document, line and name)."""
    out: dict[tuple[str, int, str], str] = {}
    for ref in refs:
        problem = universe.problem(ref)
        if problem and (ref.doc, ref.line, ref.name) not in out:
            out[(ref.doc, ref.line, ref.name)] = f"{ref.doc}:{ref.line}: {problem}"
    return [out[k] for k in sorted(out)]


def findings() -> list[str]:
    universe = Universe()
    inputs = universe.all_inputs()
    return check([ref for doc, scope in documents() for ref in extract(doc, scope, inputs)], universe)
