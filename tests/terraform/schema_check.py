"""Check Terraform configurations against the providers' schemas recorded in provider-schemas.json.gz.

For every folder of `.tf` files: each `resource`, `data` and `provider` block is compared with the schema
of every provider version that the folder's `required_providers` constraints admit (among the versions
recorded by `tests/terraform/provider_schemas.py`): unknown arguments and nested blocks, a block written
as an attribute or the reverse (helm 2.x `set {}` / `kubernetes {}` against 3.x `set = [...]` /
`kubernetes = {...}`), `dynamic` blocks of what is not a block, missing required arguments and blocks, and
references `type.name.attr…` to attributes the type does not have or to resources the folder does not
declare. Each finding names the file, line, block, problem and the provider versions it holds for.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
from hcl2.transformer import DictTransformer
from lark import Tree
from packaging.version import Version

from tests.terraform.provider_schemas import BINDINGS, load

Node = dict[str, Any]
META = {
    "resource": {"count", "for_each", "provider", "depends_on", "lifecycle", "provisioner", "connection"},
    "data": {"count", "for_each", "provider", "depends_on", "lifecycle"},
    "provider": {"alias", "version"},
}
REFERENCE = re.compile(r"(?<![\w.\-])(data\.)?([a-z][a-z0-9]*_[a-z0-9_]+)\.([A-Za-z_][\w-]*)"
                       r"((?:\s*\[[^\]]*\]|\.[A-Za-z_][\w-]*|\.\*)*)")


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.where}: {self.problem}"


# -- version constraints ---------------------------------------------------------------------------------


def admits(constraint: str, version: str) -> bool:
    """Terraform's version constraint syntax: `>= 5.80, < 7.0`, `~> 6.0`, `= 3.1.1`, `!= 2.0`."""
    v = Version(version)
    for part in (p.strip() for p in constraint.split(",") if p.strip()):
        match = re.fullmatch(r"(>=|<=|!=|~>|>|<|=)?\s*v?([\d.]+)", part)
        if not match:
            raise ValueError(f"cannot read the version constraint {constraint!r}")
        op, bound = match.group(1) or "=", match.group(2)
        b = Version(bound)
        if op == "~>":
            digits = [int(x) for x in bound.split(".")]
            upper = digits[:-1] if len(digits) > 1 else digits
            upper[-1] += 1
            ok = b <= v < Version(".".join(map(str, upper)))
        else:
            ok = {">=": v >= b, "<=": v <= b, ">": v > b, "<": v < b, "=": v == b, "!=": v != b}[op]
        if not ok:
            return False
    return True


def constraints(folder: Path) -> dict[str, str]:
    """provider name => version constraint of a folder's `required_providers`."""
    found: dict[str, str] = {}
    for tf in sorted(folder.glob("*.tf")):
        with tf.open(encoding="utf-8") as f:
            doc = hcl2.load(f)
        for terraform in doc.get("terraform", []):
            for required in terraform.get("required_providers", []):
                for name, spec in required.items():
                    if isinstance(spec, dict) and "version" in spec:
                        found[name] = spec["version"]
    return found


# -- the syntax tree -------------------------------------------------------------------------------------


def _children(tree: Tree, kind: str) -> list[Tree]:
    return [c for c in tree.children if isinstance(c, Tree) and c.data == kind]


def _name(tree: Tree) -> str:
    token = tree.children[0]
    return str(token.children[0] if isinstance(token, Tree) else token)


def _label(tree: Tree) -> str:
    if tree.data == "identifier":
        return _name(tree)
    return "".join(str(c.children[0]) for c in tree.children if isinstance(c, Tree))


@dataclass
class Block:
    kind: str
    labels: list[str]
    body: Tree
    line: int


def top_blocks(text: str) -> list[Block]:
    tree = hcl2.parses(text + "\n")
    body = _children(tree, "body")[0] if tree.data == "start" else tree
    out = []
    for block in _children(body, "block"):
        labels = [_label(c) for c in block.children[1:] if isinstance(c, Tree) and c.data != "body"]
        out.append(Block(_name(block), labels, _children(block, "body")[0], block.meta.line))
    return out


def _value(expr: Any) -> Any:
    try:
        return DictTransformer().transform(expr)
    except Exception:  # noqa: BLE001 - an expression the transformer cannot fold is not a literal
        return None


# -- checking --------------------------------------------------------------------------------------------


class Checker:
    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self.data = data or load()
        self.findings: list[Finding] = []

    def versions(self, provider: str, folder_constraints: dict[str, str]) -> dict[str, dict[str, Any]]:
        recorded = self.data["providers"].get(provider, {})
        constraint = folder_constraints.get(provider)
        return {v: b for v, b in recorded.items() if constraint is None or admits(constraint, v)}

    def check_folder(self, folder: Path, root: Path) -> list[Finding]:
        """Check every `.tf` file of one folder (one Terraform module)."""
        found_before = len(self.findings)
        wanted = constraints(folder)
        files = {tf: tf.read_text(encoding="utf-8") for tf in sorted(folder.glob("*.tf"))}
        parsed = {tf: top_blocks(text) for tf, text in files.items()}
        declared = {(b.kind, b.labels[0], b.labels[1]) for blocks in parsed.values() for b in blocks
                    if b.kind in ("resource", "data") and len(b.labels) == 2}
        for provider in BINDINGS:
            if provider in wanted and not self.versions(provider, wanted):
                self.findings.append(Finding(str((folder / "versions.tf").relative_to(root)), 1, provider,
                                             f"the constraint {wanted[provider]!r} admits no provider version "
                                             "with a recorded schema: add its binding to BINDINGS in "
                                             "tests/terraform/provider_schemas.py and rebuild"))
        for tf, blocks in parsed.items():
            rel = str(tf.relative_to(root))
            for block in blocks:
                if block.kind in ("resource", "data") and len(block.labels) == 2:
                    rtype, name = block.labels
                    self._check_block(rel, block, block.kind, rtype, f"{block.kind} {rtype}.{name}", wanted)
                elif block.kind == "provider" and block.labels:
                    self._check_block(rel, block, "provider", block.labels[0], f"provider {block.labels[0]}",
                                      wanted)
            self._check_references(rel, files[tf], declared, wanted)
        return self.findings[found_before:]

    def _schema(self, kind: str, rtype: str, wanted: dict[str, str]) -> dict[str, Node | None]:
        provider = rtype.split("_", 1)[0]
        out: dict[str, Node | None] = {}
        for version, binding in self.versions(provider, wanted).items():
            label = f"{provider} {version}"
            if kind == "provider":
                out[label] = binding["provider_schema"]
            else:
                out[label] = binding[kind].get(rtype, "unrecorded")
        return out

    def _check_block(self, rel: str, block: Block, kind: str, rtype: str, where: str,
                     wanted: dict[str, str]) -> None:
        provider = rtype.split("_", 1)[0]
        if provider not in BINDINGS:
            return
        problems: dict[tuple[int, str], list[str]] = defaultdict(list)
        for label, schema in self._schema(kind, rtype, wanted).items():
            if schema == "unrecorded":
                problems[(block.line, f"{kind} type {rtype} is not in tests/terraform/provider-schemas.json.gz:"
                                      " rebuild it (python -m tests.terraform.provider_schemas)")].append(label)
            elif schema is None:
                problems[(block.line, f"{kind} type {rtype} does not exist")].append(label)
            else:
                for line, problem in self._body(block.body, schema, META[kind], block.line):
                    problems[(line, problem)].append(label)
        for (line, problem), labels in sorted(problems.items()):
            self.findings.append(Finding(rel, line, where, f"{problem} (in {', '.join(sorted(labels))})"))

    def _body(self, body: Tree, schema: Node, meta: set[str], line: int, path: str = "") -> list[tuple[int, str]]:
        args, nested = schema.get("args", {}), schema.get("nested", {})
        seen: set[str] = set()
        out: list[tuple[int, str]] = []
        for attribute in _children(body, "attribute"):
            name, at = _name(attribute.children[0]), attribute.meta.line
            seen.add(name)
            if name in meta or name in args:
                continue
            if name in nested:
                spec = nested[name]
                if spec["shape"] == "block":
                    out.append((at, f"{path}{name} is a block here: write `{name} {{ … }}`, not `{name} = …`"))
                else:
                    out += self._literal(_value(attribute.children[-1]), spec, at, f"{path}{name}.")
                continue
            out.append((at, self._unknown(f"{path}{name}", "argument", schema)))
        for inner in _children(body, "block"):
            name, at = _name(inner.children[0]), inner.meta.line
            inner_body = _children(inner, "body")[0]
            if name in meta:
                continue
            if name == "dynamic":
                labels = [_label(c) for c in inner.children[1:] if isinstance(c, Tree) and c.data != "body"]
                target = labels[0] if labels else ""
                seen.add(target)
                spec = nested.get(target)
                if spec is None:
                    out.append((at, self._unknown(f"{path}{target}", "dynamic block", schema)))
                elif spec["shape"] == "attribute":
                    out.append((at, f"{path}{target} is an attribute here: a dynamic block cannot set it; "
                                    f"write `{target} = [for … : {{ … }}]`"))
                else:
                    for content in _children(inner_body, "block"):
                        if _name(content.children[0]) == "content":
                            out += self._body(_children(content, "body")[0], spec, set(), content.meta.line,
                                              f"{path}{target}.")
                continue
            seen.add(name)
            spec = nested.get(name)
            if spec is None:
                out.append((at, self._unknown(f"{path}{name}", "block", schema)))
            elif spec["shape"] == "attribute":
                out.append((at, f"{path}{name} is an attribute here: write `{name} = {{ … }}` "
                                "(or a list of objects), not a block"))
            else:
                out += self._body(inner_body, spec, set(), at, f"{path}{name}.")
        out += [(line, f"required argument {path}{n} is missing") for n, flag in args.items()
                if flag == "r" and n not in seen]
        out += [(line, f"required block {path}{n} is missing") for n, spec in nested.items()
                if spec.get("required") and n not in seen]
        return out

    def _literal(self, value: Any, spec: Node, line: int, path: str) -> list[tuple[int, str]]:
        """Keys of an object (or list of objects) written for a nested attribute."""
        items = value if isinstance(value, list) else [value]
        out: list[tuple[int, str]] = []
        known = set(spec.get("args", {})) | set(spec.get("nested", {}))
        for item in items:
            if not isinstance(item, dict):
                continue
            for key in item:
                if isinstance(key, str) and not key.startswith("${") and key not in known:
                    out.append((line, self._unknown(f"{path}{key}", "attribute", spec)))
        return out

    @staticmethod
    def _unknown(name: str, what: str, schema: Node) -> str:
        leaf = name.rsplit(".", 1)[-1]
        known = sorted({*schema.get("args", {}), *schema.get("nested", {})})
        close = [k for k in known if _distance(k, leaf) <= max(2, len(leaf) // 4)]
        hint = f"; did you mean {', '.join(close[:3])}?" if close else ""
        return f"unknown {what} {name}{hint}"

    def _check_references(self, rel: str, text: str, declared: set[tuple[str, str, str]],
                          wanted: dict[str, str]) -> None:
        clean = _code_only(text)
        problems: dict[tuple[int, str], list[str]] = defaultdict(list)
        for match in REFERENCE.finditer(clean):
            data, rtype, name, rest = match.groups()
            provider = rtype.split("_", 1)[0]
            if provider not in BINDINGS:
                continue
            kind = "data" if data else "resource"
            line = clean.count("\n", 0, match.start()) + 1
            ref = f"{'data.' if data else ''}{rtype}.{name}"
            if (kind, rtype, name) not in declared:
                problems[(line, f"reference to {ref}, which this module does not declare")].append("all")
                continue
            segments = [s for s in re.findall(r"\.([A-Za-z_][\w-]*)", re.sub(r"\[[^\]]*\]", "", rest or ""))]
            if not segments:
                continue
            for label, schema in self._schema(kind, rtype, wanted).items():
                if not isinstance(schema, dict):
                    continue
                bad = _walk(schema, segments)
                if bad:
                    problems[(line, f"{ref}.{'.'.join(segments)}: {rtype} has no attribute {bad}")].append(label)
        for (line, problem), labels in sorted(problems.items()):
            where = "reference"
            suffix = "" if labels == ["all"] else f" (in {', '.join(sorted(set(labels)))})"
            self.findings.append(Finding(rel, line, where, problem + suffix))


def _code_only(text: str) -> str:
    """The text with comments and the literal parts of strings and heredocs blanked (newlines kept), so
    that only expressions, including `${…}` interpolations, are searched for references."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "#" or text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i)
            end = n if end < 0 else end + 2
            out.append("\n" * text.count("\n", i, end))
            i = end
        elif c == '"' or text.startswith("<<", i):
            heredoc = re.match(r"<<-?(\w+)\n", text[i:])
            if c == "<" and not heredoc:
                out.append(c)
                i += 1
                continue
            if heredoc:
                close = re.compile(r"\n\s*" + heredoc.group(1) + r"\b")
                i += heredoc.end()
            else:
                close = re.compile(r'(?<!\\)"')
                i += 1
            while i < n:
                if text.startswith("${", i):
                    depth, j = 0, i + 1
                    while j < n:
                        depth += {"{": 1, "}": -1}.get(text[j], 0)
                        j += 1
                        if depth == 0:
                            break
                    out.append(" " + text[i + 2:j - 1] + " ")
                    i = j
                    continue
                closing = close.match(text, i)
                if closing:
                    out.append("\n" * text.count("\n", i, closing.end()))
                    i = closing.end()
                    break
                out.append("\n" if text[i] == "\n" else " ")
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _walk(schema: Node, segments: list[str]) -> str | None:
    """The first segment of an attribute path that the schema does not have (None when all exist)."""
    node: Any = schema
    for i, segment in enumerate(segments):
        if not isinstance(node, dict):
            return None  # a map or an object value: its keys are data, not schema
        readable = {**node.get("args", {}), **node.get("nested", {}), **node.get("computed", {})}
        if segment not in readable and not (i == 0 and segment == "id"):
            return ".".join(segments[: i + 1])
        node = node.get("nested", {}).get(segment) or node.get("computed", {}).get(segment)
    return None


def _distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def folders(root: Path) -> list[Path]:
    return sorted({tf.parent for tf in root.rglob("*.tf") if ".terraform" not in tf.parts})


def check_tree(root: Path, relative_to: Path | None = None) -> list[Finding]:
    checker = Checker()
    for folder in folders(root):
        checker.check_folder(folder, relative_to or root)
    return checker.findings
