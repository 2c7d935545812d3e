"""The providers' schemas, offline: extracted from the prebuilt CDK-for-Terraform bindings on npm.

Each `@cdktf/provider-*` package is generated from its provider's real schema and names that provider's
version in `package.json` (`cdktf.provider.version`). For every resource, data source and provider block
that the `.tf` files under `terraform/` use, this script keeps, per admitted provider version: the
arguments with their required flags, the nested blocks and nested attributes (recursively, with their
shape: `block` = `name { … }`, `attribute` = `name = …`), and the attributes that can only be read
(computed). The result is committed as `tests/terraform/provider-schemas.json.gz` and read by
`tests/terraform/test_provider_schemas.py`.

    python -m tests.terraform.provider_schemas            # rebuild the data file (npm pack, ~400 MB download)
    python -m tests.terraform.provider_schemas --check    # exit 1 when the committed file is out of date
    python -m tests.terraform.provider_schemas --cache DIR  # keep/reuse the downloaded tarballs in DIR

How the shape is read: a list or set of objects is a block when the binding maps it as a block (or
when it holds at most one element, which the SDKv2 providers only express as a block); a list mapped
as an attribute is a nested attribute (helm 3.x `set = [...]`), or `either` when it is also computed
(the SDKv2 "attributes as blocks" mode of `aws_security_group.ingress`, `aws_route_table.route`).
Where the bindings are silent: a single nested object (`type: "struct"`) is generated alike for a
single block and an object attribute; the SDKv2 providers only declare `timeouts` that way, the
framework providers (helm 3.x `kubernetes = {...}`) object attributes. So `timeouts` is kept as
`either` and every other single object as an `attribute`.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
DATA = Path(__file__).with_name("provider-schemas.json.gz")

# Binding versions (npm) per provider: both ends of what the repository's version constraints admit, and
# the last 5.x of aws (its major changed inside the modules' range). The provider version each binding
# was generated from is read from the package itself.
BINDINGS: dict[str, list[str]] = {
    "aws": ["19.46.0", "20.1.0", "21.0.0", "21.22.1"],
    "google": ["14.0.0", "16.12.1"],
    "azurerm": ["13.9.0", "14.23.1"],
    "helm": ["11.0.0", "12.1.2"],
    "kubernetes": ["11.5.0", "12.1.1"],
    "random": ["12.0.1"],
    "tls": ["11.0.1"],
}

Node = dict[str, Any]


# -- what the repository uses ----------------------------------------------------------------------------


def tf_files(root: Path = TERRAFORM) -> list[Path]:
    return sorted(p for p in root.rglob("*.tf") if ".terraform" not in p.parts)


def used_types(root: Path = TERRAFORM) -> dict[str, dict[str, set[str]]]:
    """provider => {"resource": {types}, "data": {types}} over every `.tf` file under root."""
    used: dict[str, dict[str, set[str]]] = {p: {"resource": set(), "data": set()} for p in BINDINGS}
    for tf in tf_files(root):
        with tf.open(encoding="utf-8") as f:
            doc = hcl2.load(f)
        for kind in ("resource", "data"):
            for block in doc.get(kind, []):
                for rtype in block:
                    provider = rtype.split("_", 1)[0]
                    if provider in used:
                        used[provider][kind].add(rtype)
    return used


def folder(provider: str, kind: str, rtype: str) -> str:
    """The binding's folder for a type: aws_eks_cluster => eks-cluster, data => data-aws-eks-cluster."""
    if kind == "provider":
        return "provider"
    if kind == "data":
        return "data-" + rtype.replace("_", "-")
    return rtype[len(provider) + 1:].replace("_", "-")


# -- reading a binding -----------------------------------------------------------------------------------

ENTRY = re.compile(r'(?<![\w])([\w]+): \{\s*value: (.*?),\s*isBlock: (true|false),\s*type: "(\w+)",\s*'
                   r'storageClassType: "(\w+)",\s*\}', re.S)
STRUCT_FN = re.compile(r"(?<!\w)(\w+)ToHclTerraform\b")
MAPPER = re.compile(r"cdktf\.(?:list|hash)MapperHcl\(([\w.]+), (true|false)\)")
CAMEL = re.compile(r"(?:this\._|struct\.|struct\[\")(\w+)")
GETTER = re.compile(r"get (\w+)\(\) \{\s*return this\.(?:get\w*Attribute|interpolationForAttribute)\('([\w-]+)'\)")
CHILD = re.compile(r'this\._(\w+) = new (?:\w+\.)?(\w+)\(this, "([\w-]+)"')
ELEMENT = re.compile(r"get\((?:index|key)\) \{\s*return new (?:\w+\.)?(\w+)\(")
PROP = re.compile(r"readonly (\w+)(\?)?:")


def _blocks(text: str, head: re.Pattern[str]) -> dict[str, str]:
    """name => body of every top-level `class`/`function`/`interface` (they end with `}` at column 0)."""
    found = {}
    for match in head.finditer(text):
        end = text.find("\n}", match.end())
        found[match.group(1)] = text[match.end():end if end >= 0 else len(text)]
    return found


def _hcl_entries(body: str) -> list[tuple[str, str, str, str]]:
    """(snake name, value expression, type, list-mapper flag) of a synthesizeHclAttributes/struct body."""
    start = body.find("const attrs = {")
    if start < 0:
        return []
    end = body.find("\n        };", start)
    if end < 0:
        end = body.find("\n    };", start)
    return [(m.group(1), m.group(2), m.group(4), m.group(3)) for m in ENTRY.finditer(body[start:end])]


class Binding:
    """The generated JavaScript and declarations of one type's folder."""

    def __init__(self, js: str, dts: str) -> None:
        self.classes = _blocks(js, re.compile(r"^class (\w+) extends [\w.]+ \{", re.M))
        self.functions = _blocks(js, re.compile(r"^function (\w+)ToHclTerraform\(struct\) \{", re.M))
        interfaces = _blocks(dts, re.compile(r"^export interface (\w+)\b[^{]*\{", re.M))
        self.interfaces = {name: {m.group(1): not m.group(2) for m in PROP.finditer(body)}
                           for name, body in interfaces.items()}
        self.optional_computed = set(re.findall(r"// (\w+) - computed: true, optional: true", js))
        self.type_of = dict(re.findall(r'(?<!\w)(\w+)\.tfResourceType = "(\w+)";', js))

    def main_class(self, rtype: str) -> str | None:
        return next((c for c, t in self.type_of.items() if t == rtype), None)

    def readable(self, cls: str, seen: frozenset[str] = frozenset()) -> Node:
        """What a class (resource or output reference) lets an expression read: name => child or 0."""
        body = self.classes.get(cls, "")
        element = ELEMENT.search(body)
        if element:  # a list or map of objects: its element's attributes
            return self.readable(element.group(1), seen)
        if cls in seen:
            return {}
        out: Node = {name: 0 for _, name in GETTER.findall(body)}
        for _, child, name in CHILD.findall(body):
            out[name] = self.readable(child, seen | {cls})
        return out

    def node(self, entries: list[tuple[str, str, str, str]], required: dict[str, bool], readable: Node) -> Node:
        args: dict[str, str] = {}
        nested: dict[str, Node] = {}
        for name, value, kind, _flag in entries:
            camel = CAMEL.search(value)
            is_required = bool(camel and required.get(camel.group(1), False))
            struct = next((f for f in STRUCT_FN.findall(value) if not f.startswith("cdktf")), None)
            if struct is None or struct not in self.functions:
                args[name] = "r" if is_required else "o"
                continue
            mapper = MAPPER.search(value)
            if kind in ("list", "set") and not mapper:  # a block of at most one element
                shape = "block"
            elif kind in ("list", "set") and mapper and mapper.group(2) == "true":
                shape = "block"
            elif kind in ("list", "set") and name in self.optional_computed:  # SDKv2 "attributes as blocks"
                shape = "either"
            elif kind == "struct" and name == "timeouts":
                shape = "either"
            else:
                shape = "attribute"
            found = readable.get(name)
            sub: Node = found if isinstance(found, dict) else {}
            child = self.node(_hcl_entries(self.functions[struct]),
                              self.interfaces.get(struct[0].upper() + struct[1:], {}), sub)
            nested[name] = {"shape": shape, "required": is_required, **child}
        computed: Node = {}
        for name, child in readable.items():
            if name in args or name in nested:
                continue
            computed[name] = _as_node(child)
        out: Node = {}
        if args:
            out["args"] = dict(sorted(args.items()))
        if nested:
            out["nested"] = dict(sorted(nested.items()))
        if computed:
            out["computed"] = dict(sorted(computed.items()))
        return out

    def schema(self, rtype: str) -> Node | None:
        cls = self.main_class(rtype)
        if cls is None:
            return None
        return self.node(_hcl_entries(self.classes[cls]), self.interfaces.get(cls + "Config", {}),
                         self.readable(cls))


def _as_node(readable: Any) -> Any:
    """A readable-only child (computed block) in the node shape: {"computed": {...}}, or 0 for a leaf."""
    if not isinstance(readable, dict) or not readable:
        return 0
    return {"computed": {name: _as_node(child) for name, child in sorted(readable.items())}}


def read_tarball(path: Path, provider: str, used: dict[str, set[str]]) -> dict[str, Any]:
    """One binding tarball => {"binding", "provider", "provider_schema", "resource", "data"}."""
    wanted = {("provider", provider): "provider"}
    for kind in ("resource", "data"):
        for rtype in used[kind]:
            wanted[(kind, rtype)] = folder(provider, kind, rtype)
    folders = set(wanted.values())
    files: dict[str, dict[str, list[str]]] = {f: {"js": [], "dts": []} for f in folders}
    package: dict[str, Any] = {}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            parts = member.name.split("/")
            if member.name == "package/package.json":
                package = json.load(tar.extractfile(member) or io.BytesIO(b"{}"))
            elif len(parts) >= 4 and parts[1] == "lib" and parts[2] in folders and member.isfile():
                text = (tar.extractfile(member) or io.BytesIO()).read().decode("utf-8")
                if member.name.endswith(".d.ts"):
                    files[parts[2]]["dts"].append(text)
                elif member.name.endswith(".js"):
                    files[parts[2]]["js"].append(text)
    bindings = {f: Binding("\n".join(v["js"]), "\n".join(v["dts"])) for f, v in files.items()}
    out: dict[str, Any] = {"binding": f"{package['name']}@{package['version']}",
                           "provider": package["cdktf"]["provider"]["version"], "resource": {}, "data": {}}
    out["provider_schema"] = bindings["provider"].schema(provider)
    for (kind, rtype), name in sorted(wanted.items()):
        if kind != "provider":
            out[kind][rtype] = bindings[name].schema(rtype)
    return out


def build(cache: Path | None = None) -> dict[str, Any]:
    used = used_types()
    data: dict[str, Any] = {"rebuild": "python -m tests.terraform.provider_schemas", "providers": {}}
    with tempfile.TemporaryDirectory() as tmp:
        where = cache or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        for provider, versions in BINDINGS.items():
            for version in versions:
                tarball = where / f"cdktf-provider-{provider}-{version}.tgz"
                if not tarball.exists():
                    print(f"npm pack @cdktf/provider-{provider}@{version}", file=sys.stderr)
                    subprocess.run(["npm", "pack", "--silent", f"@cdktf/provider-{provider}@{version}",
                                    "--pack-destination", str(where)], check=True, stdout=subprocess.DEVNULL)
                one = read_tarball(tarball, provider, used[provider])
                data["providers"].setdefault(provider, {})[one["provider"]] = one
        for provider, versions_ in data["providers"].items():
            for kind in ("resource", "data"):
                for rtype in used[provider][kind]:
                    if all(v[kind][rtype] is None for v in versions_.values()):
                        print(f"warning: {kind} {rtype} found in no @cdktf/provider-{provider} binding",
                              file=sys.stderr)
    return data


def encode(data: dict[str, Any]) -> bytes:
    text = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return gzip.compress(text, compresslevel=9, mtime=0)


def load() -> dict[str, Any]:
    return dict(json.loads(gzip.decompress(DATA.read_bytes())))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="rebuild in memory and compare with the committed file")
    parser.add_argument("--cache", type=Path, help="folder keeping the downloaded binding tarballs")
    args = parser.parse_args(argv)
    try:
        blob = encode(build(args.cache))
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"error: could not download or read a @cdktf/provider-* package ({exc}); "
              "check that npm reaches the registry", file=sys.stderr)
        return 2
    if args.check:
        if not DATA.exists() or gzip.decompress(DATA.read_bytes()) != gzip.decompress(blob):
            print(f"{DATA.relative_to(ROOT)} is out of date: run python -m tests.terraform.provider_schemas",
                  file=sys.stderr)
            return 1
        print(f"{DATA.relative_to(ROOT)} is up to date")
        return 0
    DATA.write_bytes(blob)
    print(f"wrote {DATA.relative_to(ROOT)} ({len(blob)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
