"""Every resource, data source and provider block of terraform/ against the providers' schemas of each
version its constraints admit (tests/terraform/provider-schemas.json.gz, from the cdktf bindings), and
proof that the checker catches each kind of mistake it is there for."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.terraform import provider_schemas
from tests.terraform.provider_schemas import ROOT, TERRAFORM
from tests.terraform.schema_check import Checker, admits, check_tree, folders, top_blocks


def test_recorded_bindings_name_their_provider_versions() -> None:
    data = provider_schemas.load()
    for provider, versions in provider_schemas.BINDINGS.items():
        recorded = data["providers"][provider]
        assert sorted(b["binding"] for b in recorded.values()) == sorted(
            f"@cdktf/provider-{provider}@{v}" for v in versions)
        for version, binding in recorded.items():
            assert binding["provider"] == version and binding["provider_schema"], (provider, version)


def test_every_used_type_is_recorded() -> None:
    data = provider_schemas.load()
    for provider, kinds in provider_schemas.used_types().items():
        for kind, types in kinds.items():
            for rtype in types:
                missing = [v for v, b in data["providers"][provider].items() if rtype not in b[kind]]
                assert not missing, (f"{kind} {rtype} is not in provider-schemas.json.gz for {provider} {missing}: "
                                     "run python -m tests.terraform.provider_schemas")


def test_terraform_matches_the_provider_schemas_of_every_admitted_version() -> None:
    findings = check_tree(TERRAFORM, ROOT)
    blocks = sum(1 for folder in folders(TERRAFORM) for tf in folder.glob("*.tf")
                 for b in top_blocks(tf.read_text(encoding="utf-8")) if b.kind in ("resource", "data", "provider"))
    assert blocks > 50, blocks
    assert not findings, f"{len(findings)} problems in {blocks} blocks:\n" + "\n".join(map(str, findings))


@pytest.mark.parametrize(("constraint", "version", "expected"), [
    (">= 5.80, < 7.0", "5.80.0", True), (">= 5.80, < 7.0", "7.0.0", False), ("~> 6.0", "6.25.0", True),
    ("~> 6.0", "7.0.0", False), ("~> 2.17", "3.1.1", False), ("~> 2.36", "2.30.0", False),
    ("~> 2.36.1", "2.37.0", False), ("~> 2.36.1", "2.36.9", True), ("= 3.1.1", "3.1.1", True),
    (">= 3.6", "3.7.2", True), ("!= 2.17.0", "2.17.0", False),
])
def test_version_constraints(constraint: str, version: str, expected: bool) -> None:
    assert admits(constraint, version) is expected


BROKEN_MODULE = """
resource "aws_eks_cluster" "this" {
  role_arm = "arn:aws:iam::123456789012:role/x"
  vpc_config {
    endpoint_private_acess = true
  }
}

resource "aws_iam_openid_connect_provider" "this" {
  url             = aws_eks_cluster.this.identity[0].oidc[0].issuerr
  client_id_list  = [aws_iam_role.missing.arn]
  thumbprint_list = [aws_eks_cluster.this.certificate_authority[0].data]
}

resource "helm_release" "this" {
  name  = "airdeck"
  chart = "airdeck"
  set {
    name  = "a"
    value = "b"
  }
  dynamic "set_sensitive" {
    for_each = {}
    content {
      name   = set_sensitive.key
      valeu  = set_sensitive.value
    }
  }
  postrender = { binary_path = "x", argz = [] }
}
"""

VERSIONS = """
terraform {
  required_providers {
    aws  = { source = "hashicorp/aws", version = ">= 5.80, < 7.0" }
    helm = { source = "hashicorp/helm", version = "%s" }
  }
}
"""

HELM_PROVIDER_BLOCK = """
provider "helm" {
  kubernetes {
    host = "https://example.invalid"
  }
}
"""

HELM_PROVIDER_ATTRIBUTE = """
provider "helm" {
  kubernetes = {
    host = "https://example.invalid"
  }
}
"""


def _findings(tmp_path: Path, files: dict[str, str]) -> list[str]:
    module = tmp_path / "module"
    module.mkdir(parents=True)
    for name, text in files.items():
        (module / name).write_text(text, encoding="utf-8")
    return [str(f) for f in Checker().check_folder(module, tmp_path)]


def test_broken_configuration_is_caught(tmp_path: Path) -> None:
    found = _findings(tmp_path, {"versions.tf": VERSIONS % ">= 2.17, < 4.0", "main.tf": BROKEN_MODULE})
    text = "\n".join(found)
    expected = [
        "main.tf:3: resource aws_eks_cluster.this: unknown argument role_arm; did you mean role_arn?",
        "main.tf:2: resource aws_eks_cluster.this: required argument name is missing",
        "main.tf:2: resource aws_eks_cluster.this: required argument role_arn is missing",
        "main.tf:5: resource aws_eks_cluster.this: unknown argument vpc_config.endpoint_private_acess; "
        "did you mean endpoint_private_access?",
        "main.tf:4: resource aws_eks_cluster.this: required argument vpc_config.subnet_ids is missing",
        "main.tf:10: reference: aws_eks_cluster.this.identity.oidc.issuerr: aws_eks_cluster has no attribute "
        "identity.oidc.issuerr (in aws 5.100.0, aws 5.80.0, aws 6.0.0, aws 6.25.0)",
        "main.tf:11: reference: reference to aws_iam_role.missing, which this module does not declare",
        "main.tf:18: resource helm_release.this: set is an attribute here: write `set = { … }` "
        "(or a list of objects), not a block (in helm 3.1.1)",
        "main.tf:22: resource helm_release.this: set_sensitive is an attribute here: a dynamic block cannot "
        "set it; write `set_sensitive = [for … : { … }]` (in helm 3.1.1)",
        "main.tf:24: resource helm_release.this: required argument set_sensitive.value is missing (in helm 2.17.0)",
        "main.tf:26: resource helm_release.this: unknown argument set_sensitive.valeu; did you mean value? "
        "(in helm 2.17.0)",
        "main.tf:29: resource helm_release.this: postrender is a block here: write `postrender { … }`, "
        "not `postrender = …` (in helm 2.17.0)",
        "main.tf:29: resource helm_release.this: unknown attribute postrender.argz; did you mean args? "
        "(in helm 3.1.1)",
    ]
    for line in expected:
        assert any(line in f for f in found), f"expected\n  {line}\namong\n{text}"
    # the references that are right are not reported: certificate_authority[0].data exists
    assert "certificate_authority" not in text
    assert len(found) == len(expected), text


def test_helm_provider_shape_follows_the_admitted_major(tmp_path: Path) -> None:
    # helm 2.x: `kubernetes { … }` is the block; `kubernetes = { … }` is refused
    two_ok = _findings(tmp_path / "a", {"versions.tf": VERSIONS % "~> 2.17", "providers.tf": HELM_PROVIDER_BLOCK})
    two_bad = _findings(tmp_path / "b", {"versions.tf": VERSIONS % "~> 2.17",
                                         "providers.tf": HELM_PROVIDER_ATTRIBUTE})
    three_ok = _findings(tmp_path / "c", {"versions.tf": VERSIONS % "~> 3.0",
                                          "providers.tf": HELM_PROVIDER_ATTRIBUTE})
    three_bad = _findings(tmp_path / "d", {"versions.tf": VERSIONS % "~> 3.0", "providers.tf": HELM_PROVIDER_BLOCK})
    assert two_ok == [] and three_ok == [], (two_ok, three_ok)
    assert two_bad == ["module/providers.tf:3: provider helm: kubernetes is a block here: write `kubernetes { … }`, "
                       "not `kubernetes = …` (in helm 2.17.0)"], two_bad
    assert three_bad == ["module/providers.tf:3: provider helm: kubernetes is an attribute here: write "
                         "`kubernetes = { … }` (or a list of objects), not a block (in helm 3.1.1)"], three_bad


def test_a_constraint_without_recorded_schema_is_reported(tmp_path: Path) -> None:
    found = _findings(tmp_path, {"versions.tf": VERSIONS % "~> 4.0", "main.tf": ""})
    assert any("the constraint '~> 4.0' admits no provider version with a recorded schema" in f for f in found)


@pytest.mark.skipif(not os.environ.get("AIRDECK_CHECK_PROVIDER_SCHEMAS"),
                    reason="downloads ~400 MB from npm: run with AIRDECK_CHECK_PROVIDER_SCHEMAS=1 "
                           "(docs/dev/contributing.md)")
def test_data_file_is_up_to_date() -> None:
    done = subprocess.run([sys.executable, "-m", "tests.terraform.provider_schemas", "--check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=1800, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
