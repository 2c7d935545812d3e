"""Every Terraform variable, output, command and chart values key that docs/cloud.md and the examples' and
modules' READMEs name exists where the passage says it does (tests/terraform/doc_refs.py)."""

from __future__ import annotations

from pathlib import Path

from tests.terraform import doc_refs


def test_the_extraction_reads_the_cloud_docs() -> None:
    universe = doc_refs.Universe()
    refs = [r for doc, scope in doc_refs.documents() for r in doc_refs.extract(doc, scope, universe.all_inputs())]
    kinds = {r.kind for r in refs}
    assert {"variable", "command", "values", "name"} <= kinds, kinds
    assert len(refs) > 60, len(refs)
    # the per-cloud sections of docs/cloud.md are read as being about that cloud's example
    assert {r.scope for r in refs if r.doc == "docs/cloud.md"} >= {"examples/aws", "examples/gcp", "examples/azure"}


def test_everything_the_cloud_docs_name_exists() -> None:
    found = doc_refs.findings()
    assert not found, f"{len(found)} references to nothing:\n" + "\n".join(found)


BROKEN_DOC = """# Example

## AWS

```sh
terraform init
terraform apply -var region=eu-west-1 -var nosuch_var=1
terraform aply
terraform output ui_url
terraform output -raw nosuch_output
scripts/image REGISTRY/airdeck
scripts/nosuch
airdeck fernet rotate
airdeck nosuch
helm upgrade airdeck helm/airdeck --set apiServer.replicaz=2,images.airdeck.repository=x
helm upgrade airdeck helm/nochart
```

```hcl
module "aws" {
  source    = "../../modules/aws"
  name      = "airdeck"
  nosucharg = 1
}
```

```hcl
region     = "eu-west-1"
bogus_name = 1
```

Set `db_allocated_storage = 50` and read `images.airdeck.repository`, `apiServer.nosuch`, `workers.keda`
and `api_server.base_url` of `airdeck.yaml`.
"""


def test_each_kind_of_mistake_is_found(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(BROKEN_DOC, encoding="utf-8")
    universe = doc_refs.Universe()
    found = doc_refs.check(doc_refs.extract(doc, "", universe.all_inputs(), root=tmp_path), universe)
    expected = [
        "doc.md:7: nosuch_var is not a variable of examples/aws",
        "doc.md:8: `terraform aply` is not a terraform command",
        "doc.md:10: nosuch_output is not an output of examples/aws",
        "doc.md:12: scripts/nosuch does not exist",
        "doc.md:14: `airdeck nosuch` is not an airdeck command (choices: ",
        "doc.md:15: apiServer.replicaz is not a chart values key",
        "doc.md:16: helm/nochart does not exist",
        "doc.md:23: nosucharg is not a variable of modules/aws",
        "doc.md:29: bogus_name is not a variable of examples/aws",
        "doc.md:32: db_allocated_storage is not a variable of examples/aws (it is one of modules/aws)",
        "doc.md:32: apiServer.nosuch is not a chart values key",
    ]
    for line in expected:
        assert any(f.startswith(line) for f in found), f"expected\n  {line}\namong\n" + "\n".join(found)
    assert len(found) == len(expected), "\n".join(found)
