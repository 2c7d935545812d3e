"""The Terraform modules, offline: fmt, `terraform test` of the provider-free submodules and of every
variable validation, structure and secure literals (python-hcl2), checkov, READMEs, and the values the
airdeck module hands to Helm rendered by the chart for each cloud."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helm.chart import NAMESPACE, by_kind, named, pod_spec, render
from tests.helm.netpol import Endpoint, verdict
from tests.terraform import readme
from tests.terraform.readme import ROOT, TERRAFORM, load

TERRAFORM_BIN = shutil.which("terraform") or "/usr/local/bin/terraform"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
MODULES = sorted(p for p in (TERRAFORM / "modules").iterdir() if p.is_dir())
EXAMPLES = sorted(p for p in (TERRAFORM / "examples").iterdir() if p.is_dir())
PURE = ["naming", "helm-values", "aws-iam-policy"]
VALIDATIONS = Path(__file__).parent / "validations"
SKIP = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")


def terraform(*args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    if not Path(TERRAFORM_BIN).exists():
        pytest.fail("the terraform binary is missing (scripts/test expects it on PATH)")
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1", "NO_COLOR": "1",
           "TF_CLI_CONFIG_FILE": os.devnull}
    return subprocess.run([TERRAFORM_BIN, *args, "-no-color"] if args[0] in ("test", "apply", "output", "init")
                          else [TERRAFORM_BIN, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def blocks(module: Path, kind: str) -> list[tuple[str, dict[str, Any]]]:
    """(name, body) of every `kind` block (variable, output, provider, module) in a module's .tf files."""
    found = []
    for tf in sorted(module.glob("*.tf")):
        for block in load(tf).get(kind, []):
            found += list(block.items())
    return found


def resources(module: Path) -> dict[str, dict[str, Any]]:
    """'type.name' => body of every resource in a module."""
    found: dict[str, dict[str, Any]] = {}
    for tf in sorted(module.glob("*.tf")):
        for block in load(tf).get("resource", []):
            for rtype, named_ in block.items():
                for name, body in named_.items():
                    found[f"{rtype}.{name}"] = body
    return found


# -- fmt and terraform test ------------------------------------------------------------------------------


def test_fmt_check_recursive() -> None:
    for folder in (TERRAFORM, VALIDATIONS):
        done = terraform("fmt", "-check", "-recursive", "-diff", cwd=folder)
        assert done.returncode == 0, f"terraform fmt -check in {folder}:\n{done.stdout}{done.stderr}"


def _passed(done: subprocess.CompletedProcess[str]) -> int:
    assert done.returncode == 0, done.stdout + done.stderr
    match = re.search(r"Success! (\d+) passed, 0 failed\.", done.stdout)
    assert match, done.stdout
    return int(match.group(1))


@pytest.mark.parametrize("name", PURE)
def test_provider_free_submodule(name: str, tmp_path: Path) -> None:
    module = TERRAFORM / "modules" / name
    assert not blocks(module, "provider") and "required_providers" not in json.dumps(load(module / "versions.tf"))
    shutil.copytree(module, tmp_path / name)
    runs = len(re.findall(r'^run "', "".join(p.read_text() for p in (module / "tests").glob("*.tftest.hcl")), re.M))
    assert _passed(terraform("test", cwd=tmp_path / name)) == runs


def _expect_failure_runs(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for var in re.findall(r"expect_failures = \[var\.(\w+)\]", text):
        counts[var] = counts.get(var, 0) + 1
    return counts


@pytest.mark.parametrize("name", ["aws", "gcp", "azure", "airdeck", *PURE])
def test_every_validation_is_refused_by_a_test(name: str) -> None:
    module = TERRAFORM / "modules" / name
    suites = [VALIDATIONS / f"{name}.tftest.hcl"] if name not in PURE else list((module / "tests").glob("*.tftest.hcl"))
    runs = _expect_failure_runs("".join(p.read_text() for p in suites))
    for var, spec in blocks(module, "variable"):
        assert runs.get(var, 0) >= len(spec.get("validation", [])), (
            f"{module.name}: variable {var} has {len(spec.get('validation', []))} validation(s) but "
            f"{runs.get(var, 0)} expect_failures run(s)")


# Examples whose variables are validated themselves (a wrong -var fails before any provider call).
VALIDATED_EXAMPLES = ["gcp", "azure"]


@pytest.mark.parametrize("example", VALIDATED_EXAMPLES)
def test_every_validation_of_an_example_is_refused_by_a_test(example: str) -> None:
    runs = _expect_failure_runs((VALIDATIONS / f"example-{example}.tftest.hcl").read_text())
    for var, spec in blocks(TERRAFORM / "examples" / example, "variable"):
        assert runs.get(var, 0) >= len(spec.get("validation", [])), (
            f"examples/{example}: variable {var} has {len(spec.get('validation', []))} validation(s) but "
            f"{runs.get(var, 0)} expect_failures run(s)")


def _module_variables(name: str) -> Path:
    return TERRAFORM / "examples" / name.removeprefix("example-") if name.startswith("example-") \
        else TERRAFORM / "modules" / name


@pytest.mark.parametrize("name", ["aws", "gcp", "azure", "airdeck", *(f"example-{e}" for e in VALIDATED_EXAMPLES)])
def test_variable_validations_of_provider_modules(name: str, tmp_path: Path) -> None:
    # The module needs cloud providers (not downloadable here); its variables.tf alone does not.
    (tmp_path / "tests").mkdir()
    shutil.copy(_module_variables(name) / "variables.tf", tmp_path / "variables.tf")
    shutil.copy(VALIDATIONS / f"{name}.tftest.hcl", tmp_path / "tests" / f"{name}.tftest.hcl")
    runs = (VALIDATIONS / f"{name}.tftest.hcl").read_text().count('\nrun "')
    assert _passed(terraform("test", cwd=tmp_path)) == runs


EXAMPLE_SUITES = sorted(VALIDATIONS.glob("example-*.tftest.hcl"))


@pytest.mark.parametrize("suite", EXAMPLE_SUITES, ids=lambda p: p.stem.split(".")[0])
def test_example_variable_validations(suite: Path, tmp_path: Path) -> None:
    """Every validation of an example's variables.tf is refused by a run (the example's providers are not
    downloadable here; its variables.tf alone needs none)."""
    example = TERRAFORM / "examples" / suite.name.removeprefix("example-").split(".")[0]
    runs = _expect_failure_runs(suite.read_text())
    for var, spec in blocks(example, "variable"):
        assert runs.get(var, 0) >= len(spec.get("validation", [])), (
            f"examples/{example.name}: variable {var} has {len(spec.get('validation', []))} validation(s) but "
            f"{runs.get(var, 0)} expect_failures run(s) in {suite.name}")
    (tmp_path / "tests").mkdir()
    shutil.copy(example / "variables.tf", tmp_path / "variables.tf")
    shutil.copy(suite, tmp_path / "tests" / suite.name)
    assert _passed(terraform("test", cwd=tmp_path)) == suite.read_text().count('\nrun "')


def test_a_broken_validation_is_caught(tmp_path: Path) -> None:
    """The validation suites can fail: a variables.tf whose validation accepts anything fails its run."""
    (tmp_path / "tests").mkdir()
    text = (TERRAFORM / "modules" / "aws" / "variables.tf").read_text()
    weakened = text.replace("var.db_backup_retention_days >= 7", "var.db_backup_retention_days >= 0")
    assert weakened != text
    (tmp_path / "variables.tf").write_text(weakened)
    shutil.copy(VALIDATIONS / "aws.tftest.hcl", tmp_path / "tests" / "aws.tftest.hcl")
    done = terraform("test", cwd=tmp_path)
    assert done.returncode != 0 and "bad_db_backup_retention_days_is_refused" in done.stdout


# -- structure (python-hcl2) ---------------------------------------------------------------------------


@pytest.mark.parametrize("module", MODULES + EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_module_structure(module: Path) -> None:
    for name in ("versions.tf", "variables.tf", "outputs.tf", "main.tf", "README.md"):
        assert (module / name).exists(), f"{module.relative_to(ROOT)}: {name} missing"
    terraform_blocks = load(module / "versions.tf").get("terraform", [])
    assert terraform_blocks and terraform_blocks[0].get("required_version"), "required_version missing"
    declared = set()
    for block in terraform_blocks:
        for providers in block.get("required_providers", []):
            declared |= set(providers)
    used = {rtype.split("_")[0] for rtype in {key.split(".")[0] for key in resources(module)}} - {"terraform"}
    for tf in module.glob("*.tf"):
        for data in load(tf).get("data", []):
            used |= {dtype.split("_")[0] for dtype in data}
    assert used <= declared, f"{module.name}: providers used but not in required_providers: {used - declared}"
    for var, spec in blocks(module, "variable"):
        assert spec.get("type"), f"{module.name}: variable {var} has no type"
        assert len(spec.get("description", "")) > 10, f"{module.name}: variable {var} has no description"
        assert re.fullmatch(r"[a-z][a-z0-9_]*", var), f"{module.name}: variable {var} is not snake_case"
    for out, spec in blocks(module, "output"):
        assert len(spec.get("description", "")) > 10, f"{module.name}: output {out} has no description"
        assert re.fullmatch(r"[a-z][a-z0-9_]*", out), f"{module.name}: output {out} is not snake_case"
    for key in resources(module):
        assert re.fullmatch(r"[a-z0-9_]+\.[a-z][a-z0-9_]*", key), f"{module.name}: {key} is not snake_case"


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_no_provider_block_inside_modules(module: Path) -> None:
    assert not blocks(module, "provider"), f"{module.name} configures a provider; only root modules may"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_examples_configure_providers_and_call_the_modules(example: Path) -> None:
    calls = dict(blocks(example, "module"))
    assert calls[example.name]["source"] == f"../../modules/{example.name}"
    assert calls["airdeck"]["source"] == "../../modules/airdeck"
    assert calls["airdeck"]["cloud"] == example.name
    assert {"helm", "kubernetes"} <= {name for name, _ in blocks(example, "provider")}
    outputs = {name for name, _ in blocks(example, "output")}
    assert {"ui_url", "admin_password_command", "kubeconfig_command"} <= outputs


def _attr(body: dict[str, Any], path: str) -> Any:
    value: Any = body
    for part in path.split("."):
        value = value[0] if isinstance(value, list) else value
        value = value[part]
    return value[0] if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict) else value


# Literal settings that keep each cloud's resources private, encrypted, TLS-only and protected.
SECURE = {
    "aws": {
        "aws_eks_cluster.this": {"vpc_config.endpoint_private_access": True,
                                 # Public only to the operators' networks, and only when they are given.
                                 "vpc_config.public_access_cidrs": "${length(var.operator_cidrs) > 0 ? "
                                                                   "var.operator_cidrs : ['127.0.0.1/32']}",
                                 "encryption_config.resources": ["secrets"],
                                 "enabled_cluster_log_types": ["api", "audit", "authenticator", "controllerManager",
                                                               "scheduler"]},
        "aws_launch_template.node": {"metadata_options.http_tokens": "required",
                                     "block_device_mappings.ebs.encrypted": True},
        "aws_db_instance.this": {"publicly_accessible": False, "storage_encrypted": True, "multi_az": True,
                                 "deletion_protection": "${var.deletion_protection}",
                                 "skip_final_snapshot": "${!var.deletion_protection}",
                                 "performance_insights_enabled": True, "iam_database_authentication_enabled": True},
        "aws_elasticache_replication_group.this": {"transit_encryption_enabled": True,
                                                   "at_rest_encryption_enabled": True,
                                                   "transit_encryption_mode": "required"},
        "aws_s3_bucket_public_access_block.task_logs": {"block_public_acls": True, "block_public_policy": True,
                                                        "ignore_public_acls": True, "restrict_public_buckets": True},
        "aws_s3_bucket_versioning.task_logs": {"versioning_configuration.status": "Enabled"},
        "aws_s3_bucket.task_logs": {"force_destroy": "${!var.deletion_protection}"},
        "aws_kms_key.this": {"enable_key_rotation": True},
        "aws_eks_addon.vpc_cni": {"addon_name": "vpc-cni",
                                  "configuration_values": '${jsonencode({"enableNetworkPolicy": "true"})}'},
        "aws_ecr_repository.airdeck": {"image_tag_mutability": "IMMUTABLE",
                                       "image_scanning_configuration.scan_on_push": True,
                                       "encryption_configuration.encryption_type": "KMS",
                                       "force_delete": "${!var.deletion_protection}"},
        "aws_eks_access_policy_association.admin": {"access_scope.type": "cluster"},
    },
    "gcp": {
        "google_container_cluster.this": {"enable_shielded_nodes": True,
                                          "private_cluster_config.enable_private_nodes": True,
                                          "master_auth.client_certificate_config.issue_client_certificate": False,
                                          "private_cluster_config.enable_private_endpoint": False,
                                          "master_authorized_networks_config.gcp_public_cidrs_access_enabled":
                                              False,
                                          "datapath_provider": "ADVANCED_DATAPATH",
                                          "node_config.workload_metadata_config.mode": "GKE_METADATA"},
        "google_container_node_pool.this": {"node_config.shielded_instance_config.enable_secure_boot": True,
                                            "node_config.workload_metadata_config.mode": "GKE_METADATA",
                                            "management.auto_repair": True},
        "google_sql_database_instance.this": {"settings.ip_configuration.ipv4_enabled": False,
                                              "settings.ip_configuration.ssl_mode": "ENCRYPTED_ONLY",
                                              "settings.backup_configuration.enabled": True,
                                              "settings.availability_type": "REGIONAL"},
        "google_redis_instance.this": {"auth_enabled": True, "transit_encryption_mode": "SERVER_AUTHENTICATION",
                                       "connect_mode": "PRIVATE_SERVICE_ACCESS"},
        "google_storage_bucket.task_logs": {"uniform_bucket_level_access": True,
                                            "public_access_prevention": "enforced",
                                            "force_destroy": "${!var.deletion_protection}",
                                            "versioning.enabled": True},
        "google_storage_bucket_iam_member.workload": {"role": "roles/storage.objectUser"},
    },
    "azure": {
        "azurerm_kubernetes_cluster.this": {"oidc_issuer_enabled": True, "workload_identity_enabled": True,
                                            "azure_policy_enabled": True, "local_account_disabled": True,
                                            "role_based_access_control_enabled": True,
                                            "private_cluster_enabled": False,
                                            "network_profile.network_policy": "cilium",
                                            "network_profile.network_data_plane": "cilium"},
        "azurerm_postgresql_flexible_server.this": {"public_network_access_enabled": False,
                                                    "geo_redundant_backup_enabled": True,
                                                    "high_availability.mode": "ZoneRedundant"},
        "azurerm_redis_cache.this": {"non_ssl_port_enabled": False, "minimum_tls_version": "1.2",
                                     "public_network_access_enabled": False,
                                     "redis_configuration.authentication_enabled": True},
        "azurerm_storage_account.task_logs": {"public_network_access_enabled": False,
                                              "shared_access_key_enabled": False,
                                              "allow_nested_items_to_be_public": False,
                                              "https_traffic_only_enabled": True, "min_tls_version": "TLS1_2",
                                              "local_user_enabled": False, "network_rules.default_action": "Deny"},
        "azurerm_storage_container.task_logs": {"container_access_type": "private"},
        "azurerm_key_vault.this": {"purge_protection_enabled": True, "enable_rbac_authorization": True,
                                   "network_acls.default_action": "Deny"},
        "azurerm_role_assignment.workload_task_logs": {"role_definition_name": "Storage Blob Data Contributor",
                                                       "scope": "${azurerm_storage_container.task_logs.id}"},
    },
}


@pytest.mark.parametrize("cloud", SECURE)
def test_secure_literals(cloud: str) -> None:
    found = resources(TERRAFORM / "modules" / cloud)
    for key, expected in SECURE[cloud].items():
        assert key in found, f"{cloud}: {key} missing"
        for path, value in expected.items():
            assert _attr(found[key], path) == value, f"{cloud}: {key}.{path} must be {value!r}"


def test_secure_defaults_and_tls_urls() -> None:
    variables = {cloud: dict(blocks(TERRAFORM / "modules" / cloud, "variable")) for cloud in SECURE}
    assert variables["aws"]["deletion_protection"]["default"] is True
    assert variables["aws"]["operator_cidrs"]["default"] == []  # API endpoint private unless given
    assert variables["gcp"]["deletion_protection"]["default"] is True
    assert "default" not in variables["gcp"]["operator_cidrs"]
    assert variables["azure"]["deletion_protection"]["default"] is True
    assert "default" not in variables["azure"]["operator_cidrs"]
    assert "default" not in variables["azure"]["cluster_admins"]
    for cloud in SECURE:
        text = "".join(p.read_text() for p in (TERRAFORM / "modules" / cloud).glob("*.tf"))
        assert "sslmode=require" in text and "rediss://" in text and "redis://" not in text, cloud


def test_aws_parameter_group_forces_tls() -> None:
    group = resources(TERRAFORM / "modules" / "aws")["aws_db_parameter_group.this"]
    assert {"name": "rds.force_ssl", "value": "1"} in group["parameter"]


def test_azure_postgres_requires_tls() -> None:
    config = resources(TERRAFORM / "modules" / "azure")["azurerm_postgresql_flexible_server_configuration.tls"]
    assert "require_secure_transport" in config["for_each"] and "TLSv1.2" in json.dumps(config["for_each"])


# -- AWS: one apply to a URL, and a destroy that leaves nothing --------------------------------------------

AWS_EXAMPLE = TERRAFORM / "examples" / "aws"
AWS_MODULE = TERRAFORM / "modules" / "aws"


def test_aws_example_passes_the_vocabulary_through() -> None:
    """Every example variable the module has is handed to it under the same name."""
    calls = dict(blocks(AWS_EXAMPLE, "module"))
    module_vars = {name for name, _ in blocks(AWS_MODULE, "variable")}
    for var, _ in blocks(AWS_EXAMPLE, "variable"):
        if var in module_vars and var != "availability_zones":
            assert calls["aws"].get(var) == f"${{var.{var}}}", f"examples/aws: var.{var} is not passed to module.aws"
    for var in ("operator_cidrs", "host", "dns_zone", "deletion_protection", "node_min_count", "node_max_count",
                "node_instance_type", "db_instance_class", "cache_node_type", "cluster_admins", "create_registry",
                "single_nat_gateway"):
        assert var in module_vars and calls["aws"][var] == f"${{var.{var}}}", var
    outputs = {name for name, _ in blocks(AWS_EXAMPLE, "output")}
    assert {"ui_url", "admin_password_command", "kubeconfig_command", "registry_url", "image_push_commands"} <= outputs


def test_aws_ui_is_open_to_the_operators_only() -> None:
    airdeck = dict(blocks(AWS_EXAMPLE, "module"))["airdeck"]
    ingress = airdeck["ingress"]
    annotations = ingress["annotations"]
    assert ingress["class_name"] == "alb" and ingress["allowed_from"] == ["${module.aws.vpc_cidr}"]
    assert annotations["alb.ingress.kubernetes.io/inbound-cidrs"] == '${join(",", var.operator_cidrs)}'
    assert annotations["alb.ingress.kubernetes.io/listen-ports"] == '[{"HTTPS":443}]'
    assert annotations["alb.ingress.kubernetes.io/certificate-arn"] == "${module.aws.certificate_arn}"
    assert annotations["alb.ingress.kubernetes.io/target-type"] == "ip"
    assert annotations["alb.ingress.kubernetes.io/scheme"] == (
        '${var.internal_load_balancer ? "internal" : "internet-facing"}')
    cluster = resources(AWS_MODULE)["aws_eks_cluster.this"]["vpc_config"][0]
    assert cluster["endpoint_public_access"] == "${length(var.operator_cidrs) > 0}"
    # The DNS record follows the ALB the controller made for the release's Ingress.
    record = resources(AWS_EXAMPLE)["aws_route53_record.ui"]
    assert record["alias"][0]["name"] == "${data.aws_lb.ui[0].dns_name}"
    lookups = {name: body for tf in AWS_EXAMPLE.glob("*.tf") for block in load(tf).get("data", [])
               for kind, named_ in block.items() if kind == "aws_lb" for name, body in named_.items()}
    assert lookups["ui"]["depends_on"] == ["${module.airdeck}"]
    stack = "${module.airdeck.namespace}/${module.aws.prefix}-api-server"
    assert lookups["ui"]["tags"]["ingress.k8s.aws/stack"] == stack


def test_aws_release_is_destroyed_before_the_controllers_and_the_network() -> None:
    """The ALB is made by the Load Balancer Controller, outside Terraform: the release (its Ingress) must go
    first, while the controller runs, or the ALB and its security groups block the VPC's deletion."""
    assert dict(blocks(AWS_EXAMPLE, "module"))["airdeck"]["depends_on"] == ["${module.aws}"]
    found = resources(AWS_MODULE)
    for release in ("helm_release.load_balancer_controller", "helm_release.cluster_autoscaler"):
        assert "${aws_eks_node_group.this}" in found[release]["depends_on"], release
    assert "${aws_eks_addon.vpc_cni}" in found["aws_eks_node_group.this"]["depends_on"]


def test_aws_controllers_have_their_own_roles() -> None:
    found = resources(AWS_MODULE)
    role = found["aws_iam_role.controller"]
    trust = role["assume_role_policy"]
    assert "system:serviceaccount:kube-system:${each.value}" in trust and "sts.amazonaws.com" in trust
    for release, key in (("helm_release.load_balancer_controller", "load_balancer_controller"),
                         ("helm_release.cluster_autoscaler", "cluster_autoscaler")):
        values = found[release]["values"][0]
        assert f'aws_iam_role.controller["{key}"].arn' in values, release
        assert f"local.controller_service_accounts.{key}" in values, release
    assert "k8s.io/cluster-autoscaler/${aws_eks_cluster.this.name}" in found["aws_iam_role_policy.cluster_autoscaler"][
        "policy"]


def test_aws_destroy_path_follows_deletion_protection() -> None:
    found = resources(AWS_MODULE)
    database = found["aws_db_instance.this"]
    assert database["final_snapshot_identifier"] == "${module.naming.database}-final-${random_id.suffix.hex}"
    assert found["aws_secretsmanager_secret.platform"]["recovery_window_in_days"] == (
        "${var.deletion_protection ? var.secret_recovery_window_days : 0}")
    assert found["aws_kms_key.this"]["deletion_window_in_days"] == "${var.deletion_protection ? 30 : 7}"


def test_aws_example_has_a_commented_s3_backend() -> None:
    text = (AWS_EXAMPLE / "backend.tf").read_text()
    assert not load(AWS_EXAMPLE / "backend.tf"), "the backend block stays commented: the user enables it"
    block = "\n".join(line.removeprefix("# ") for line in text.splitlines() if line.startswith("# "))
    for needle in ('backend "s3"', "encrypt      = true", "use_lockfile = true", "dynamodb_table", "kms_key_id"):
        assert needle in block, needle


def test_aws_nodes_get_the_image_of_their_architecture(tmp_path: Path) -> None:
    """The node group's ami_type, evaluated by Terraform for amd64 and Graviton instance types."""
    ami_type = resources(AWS_MODULE)["aws_eks_node_group.this"]["ami_type"]
    assert ami_type.startswith("${") and ami_type.endswith("}")
    types = {"m6i.xlarge": "x86_64", "m7i-flex.large": "x86_64", "g5.xlarge": "x86_64", "c5n.2xlarge": "x86_64",
             "m7g.xlarge": "ARM_64", "m6gd.large": "ARM_64", "c7gn.medium": "ARM_64", "t4g.small": "ARM_64",
             "r8g.2xlarge": "ARM_64", "g5g.xlarge": "ARM_64"}
    (tmp_path / "main.tf").write_text(
        'variable "types" {\n  type = list(string)\n}\n\noutput "ami" {\n  value = {\n    for node_instance_type in '
        f"var.types : node_instance_type => {ami_type[2:-1].replace('var.node_instance_type', 'node_instance_type')}"
        "\n  }\n}\n")
    (tmp_path / "terraform.tfvars.json").write_text(json.dumps({"types": list(types)}))
    assert terraform("init", "-backend=false", "-input=false", cwd=tmp_path).returncode == 0
    done = terraform("apply", "-auto-approve", "-input=false", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    ami = json.loads(terraform("output", "-json", cwd=tmp_path).stdout)["ami"]["value"]
    assert ami == {name: f"AL2023_{arch}_STANDARD" for name, arch in types.items()}


def test_load_balancer_controller_policy(tmp_path: Path) -> None:
    """The controller's policy evaluates to the published document's shape (v3.5.0: 16 statements, 80
    actions), and it deletes or changes only what it tagged as its own."""
    shutil.copy(AWS_MODULE / "load-balancer-controller.tf", tmp_path / "policy.tf")
    (tmp_path / "main.tf").write_text('locals {\n  partition = "aws"\n}\n\noutput "policy" {\n'
                                      "  value = jsonencode(local.load_balancer_controller_policy)\n}\n")
    assert terraform("init", "-backend=false", "-input=false", cwd=tmp_path).returncode == 0
    done = terraform("apply", "-auto-approve", "-input=false", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    policy = json.loads(json.loads(terraform("output", "-json", cwd=tmp_path).stdout)["policy"]["value"])
    statements = policy["Statement"]
    assert len(statements) == 16 and all(s["Effect"] == "Allow" for s in statements)
    assert len({a for s in statements for a in s["Action"]}) == 80
    owned = {"Null": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}}
    for action in ("elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:DeleteTargetGroup",
                   "elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:SetSecurityGroups",
                   "ec2:DeleteSecurityGroup"):
        granting = [s for s in statements if action in s["Action"]]
        assert granting and all(s.get("Condition") == owned for s in granting), action
    for action in ("elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"):
        granting = [s for s in statements if action in s["Action"]]
        assert all("aws:RequestTag/elbv2.k8s.aws/cluster" in json.dumps(s.get("Condition")) for s in granting)
    arns = [r for s in statements for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])]
    assert all(r == "*" or r.startswith("arn:aws:") for r in arns)


# -- checkov ---------------------------------------------------------------------------------------------


def skips_without_reason(folder: Path) -> list[str]:
    """Every `#checkov:skip=ID` in .tf files below folder whose reason is missing or a token."""
    bad = []
    for tf in sorted(folder.rglob("*.tf")):
        for number, line in enumerate(tf.read_text().splitlines(), 1):
            match = SKIP.search(line)
            if match and len((match.group(2) or "").strip()) < 20:
                bad.append(f"{tf}:{number}: {match.group(1)}")
    return bad


def test_every_checkov_skip_has_a_reason() -> None:
    assert not skips_without_reason(TERRAFORM)


def test_a_skip_without_a_reason_is_caught(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "aws_s3_bucket" "x" {\n  #checkov:skip=CKV_AWS_18\n'
                                      '  #checkov:skip=CKV_AWS_144:ok\n  #checkov:skip=CKV2_AWS_62:Nothing consumes '
                                      'events of these objects.\n  bucket = "x"\n}\n')
    assert [line.rsplit(": ", 1)[1] for line in skips_without_reason(tmp_path)] == ["CKV_AWS_18", "CKV_AWS_144"]


def checkov(folder: Path) -> dict[str, Any]:
    if not CHECKOV.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHECKOV} missing: scripts/test installs checkov into .venv-checkov")
        pytest.skip(f"{CHECKOV} missing: run scripts/test to install checkov into .venv-checkov")
    done = subprocess.run([str(CHECKOV), "-d", str(folder), "--framework", "terraform", "--output", "json",
                           "--quiet", "--compact"], capture_output=True, text=True, timeout=600, check=False)
    report = json.loads(done.stdout) if done.stdout.strip() else {}
    reports = report if isinstance(report, list) else [report]
    return {"failed": [(c["check_id"], c["resource"]) for r in reports
                       for c in r.get("results", {}).get("failed_checks", [])],
            "skipped": [(c["check_id"], c.get("suppress_comment", "")) for r in reports
                        for c in r.get("results", {}).get("skipped_checks", [])],
            "passed": sum(r.get("summary", {}).get("passed", 0) for r in reports),
            "parsing_errors": sum(r.get("summary", {}).get("parsing_errors", 0) for r in reports)}


@pytest.mark.parametrize("folder", [*(TERRAFORM / "modules" / c for c in ("aws", "gcp", "azure", "airdeck")),
                                    *EXAMPLES], ids=lambda p: f"{p.parent.name}/{p.name}")
def test_checkov_finds_nothing(folder: Path) -> None:
    result = checkov(folder)
    assert result["parsing_errors"] == 0
    assert not result["failed"], result["failed"]
    assert result["passed"] > 0
    for check_id, reason in result["skipped"]:
        assert len(reason.strip()) >= 20, f"skip of {check_id} without a reason"


def test_checkov_sees_a_weakened_module(tmp_path: Path) -> None:
    """checkov really evaluates these modules: a public, unencrypted database fails it."""
    copy = tmp_path / "aws"
    shutil.copytree(TERRAFORM / "modules" / "aws", copy)
    (tmp_path / "naming").symlink_to(TERRAFORM / "modules" / "naming")
    (tmp_path / "aws-iam-policy").symlink_to(TERRAFORM / "modules" / "aws-iam-policy")
    database = (copy / "database.tf").read_text()
    weakened = (database.replace("publicly_accessible    = false", "publicly_accessible    = true")
                .replace("storage_encrypted     = true", "storage_encrypted     = false"))
    assert weakened.count("= true") == database.count("= true") and weakened != database
    (copy / "database.tf").write_text(weakened)
    failed = {check for check, _ in checkov(copy)["failed"]}
    assert {"CKV_AWS_17", "CKV_AWS_16"} <= failed


# -- READMEs ---------------------------------------------------------------------------------------------


def test_readme_tables_are_generated_from_the_code() -> None:
    for module in readme.module_dirs():
        want = readme.expected(module / "README.md", module)
        assert (module / "README.md").read_text() == want, (
            f"{module.relative_to(ROOT)}/README.md is out of date: python -m tests.terraform.readme --write")
        for var, _ in blocks(module, "variable"):
            assert f"| `{var}` |" in want


# -- the values handed to Helm, rendered by the chart ---------------------------------------------------

#: The labels every NGINX the AKS application routing operator runs carries (the default controller and each
#: NginxIngressController): its managed-by and component labels; ``app`` is the controller's own name.
AKS_NGINX_LABELS = {"app.kubernetes.io/managed-by": "aks-app-routing-operator",
                    "app.kubernetes.io/component": "ingress-controller"}

CLOUD_INPUTS: dict[str, dict[str, Any]] = {
    "aws": {"task_logs_url": "s3://airdeck-task-logs-a1b2c3/airflow/logs",
            "workload_identity": "arn:aws:iam::123456789012:role/airdeck-workload",
            "database_cidrs": ["10.0.0.0/20", "10.0.16.0/20", "10.0.32.0/20"], "broker_port": 6379,
            "enable_keda": True, "ingress": {"host": "airflow.example.com", "class_name": "alb",
                                             "annotations": {"alb.ingress.kubernetes.io/scheme": "internet-facing"},
                                             "allowed_from": ["10.0.0.0/16"]}},
    "gcp": {"task_logs_url": "gs://airdeck-task-logs-a1b2c3/airflow/logs",
            "workload_identity": "airdeck-workload@my-project.iam.gserviceaccount.com",
            "database_cidrs": ["10.100.0.0/20"], "broker_port": 6378, "enable_keda": False,
            "ingress": {"host": "airflow.example.com", "class_name": "gce-internal",
                        "allowed_from": ["35.191.0.0/16", "130.211.0.0/22"]}},
    "azure": {"task_logs_url": "wasb://task-logs@airdecktla1b2c3/airflow/logs",
              "workload_identity": "00000000-1111-2222-3333-444444444444",
              "database_cidrs": ["10.40.16.0/24", "10.40.17.0/24"], "broker_port": 6380, "enable_keda": True,
              "ingress": {"host": "airflow.example.com", "class_name": "webapprouting.kubernetes.azure.com",
                          "controller": {"namespace": "app-routing-system",
                                         "pod_labels": AKS_NGINX_LABELS}}},
}
ANNOTATION = {"aws": "eks.amazonaws.com/role-arn", "gcp": "iam.gke.io/gcp-service-account",
              "azure": "azure.workload.identity/client-id"}


def _values_call() -> str:
    """The `module "values"` block of the airdeck module, pointed at the submodule from a test root."""
    text = (TERRAFORM / "modules" / "airdeck" / "main.tf").read_text()
    block = re.search(r'module "values" \{\n(.*?)\n\}\n', text, re.S)
    assert block, "modules/airdeck/main.tf has no module \"values\" block"
    body = block.group(1).replace('"../helm-values"', f'"{TERRAFORM}/modules/helm-values"')
    return 'module "values" {\n' + body + "\n}\n"


def _configured_locals() -> str:
    """The `locals` block of modules/airdeck/configured.tf: what the module makes of `ldap`, `roles`,
    `alert_channels` and `break_glass` (its resources need the kubernetes provider; these need none)."""
    text = (TERRAFORM / "modules" / "airdeck" / "configured.tf").read_text()
    block = re.search(r"^locals \{\n.*?^\}\n", text, re.S | re.M)
    assert block, "modules/airdeck/configured.tf has no locals block"
    return block.group(0)


def compose(cloud: str, tmp_path: Path, snippet: str = "", files: dict[str, str] | None = None,
            variables: dict[str, str] | None = None) -> dict[str, Any]:
    """Run the airdeck module's own values composition (same call, same variables, same locals) with
    terraform apply, called as a module the way the examples call it. ``snippet``: more arguments of
    that call, verbatim (a docs snippet); ``variables``: root variables it uses (name -> value);
    ``files``: files it reads (path under the root -> text)."""
    root = tmp_path / cloud
    module = root / "airdeck"
    module.mkdir(parents=True)
    shutil.copy(TERRAFORM / "modules" / "airdeck" / "variables.tf", module / "variables.tf")
    (module / "main.tf").write_text(_values_call() + _configured_locals() + textwrap.dedent("""\
        output "values" {
          value     = module.values.values
          sensitive = true
        }
        output "secrets" {
          value = module.values.kubernetes_secrets
        }
        output "secret_data" {
          value     = module.values.secret_data
          sensitive = true
        }
        output "alert_connections" {
          value     = local.alert_connections
          sensitive = true
        }
        output "ldap_bind_password" {
          value     = try(var.ldap.bind_password, null)
          sensitive = true
        }
        output "ldap_ca" {
          value = local.ldap_has_ca ? nonsensitive(var.ldap.ca_pem) : null
        }
        # What helm_release.airdeck's `values` shows in a plan.
        resource "terraform_data" "release_values" {
          input = module.values.values_yaml
        }
        """))
    inputs = {"cloud": cloud.split("-")[0], "prefix": "airdeck", "namespace": "airflow",
              "airdeck": {"workers": {"concurrency": 16}, "logging": {"delete_local_after_upload": True}},
              "platform_secrets": {**{k: "x" for k in ("fernetKey", "jwtSecret", "jwtPrivateKey", "apiSecretKey",
                                                        "logFetchKey", "adminPassword", "brokerUrl")},
                                   # What every cloud module hands over: SQLAlchemy's form, with the driver.
                                   "databaseUrl": "postgresql+psycopg://airflow:pw@db.internal:5432/airflow"
                                                  "?sslmode=require"},
              "enable_kube_prometheus_stack": True, **CLOUD_INPUTS[cloud]}
    given = set(re.findall(r"^  ([a-z_]+)\s*=", textwrap.indent(textwrap.dedent(snippet), "  "), re.M))
    # JSON is HCL: every input the snippet does not give, as an argument of the call.
    arguments = "".join(f"  {key} = {json.dumps(value)}\n" for key, value in inputs.items()
                        if key not in given and key != "namespace")
    call = ('module "airdeck" {\n  source = "./airdeck"\n' + arguments
            + textwrap.indent(textwrap.dedent(snippet), "  ") + "\n}\n")
    declared = "".join(f'variable "{name}" {{\n  type      = string\n  sensitive = true\n  default   = '
                       f"{json.dumps(value)}\n}}\n" for name, value in (variables or {}).items())
    outputs = "".join(f'output "{name}" {{\n  value     = module.airdeck.{name}\n  sensitive = true\n}}\n'
                      for name in ("values", "secrets", "secret_data", "alert_connections", "ldap_bind_password",
                                   "ldap_ca"))
    (root / "main.tf").write_text(declared + call + outputs)
    for path, text in (files or {}).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    done = terraform("init", "-backend=false", "-input=false", cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    done = terraform("apply", "-auto-approve", "-input=false", cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    plan_output = done.stdout + done.stderr
    done = terraform("output", "-json", cwd=root)
    assert done.returncode == 0, done.stderr
    outputs_json = json.loads(done.stdout)
    return {**{name: outputs_json[name]["value"] for name in outputs_json}, "plan_output": plan_output}


def _keda_connection_parses(objects: list[dict[str, Any]], secret_data: dict[str, dict[str, str]]) -> None:
    """The Secret key KEDA's TriggerAuthentication reads holds a connection string a PostgreSQL client parses.

    KEDA's scaler uses pgx, which takes postgres:// and postgresql:// URLs like libpq (psycopg's
    conninfo_to_dict is libpq's own parser); SQLAlchemy's postgresql+psycopg:// is refused by both."""
    from psycopg.conninfo import conninfo_to_dict

    (auth,) = by_kind(objects, "TriggerAuthentication")
    (ref,) = [r for r in auth["spec"]["secretTargetRef"] if r["parameter"] == "connection"]
    assert ref["name"] in secret_data, f"TriggerAuthentication reads {ref['name']}, which the module does not create"
    connection = secret_data[ref["name"]][ref["key"]]
    parsed = conninfo_to_dict(connection)
    assert parsed["host"] == "db.internal" and parsed["dbname"] == "airflow" and parsed["sslmode"] == "require"


# Who serves each cloud's Ingress, and someone who must not reach the api-server (tests/helm/netpol.py).
INGRESS_PATH = {
    "aws": (Endpoint("ALB interface in the VPC", "10.0.240.17"), Endpoint("internet", "93.184.216.34")),
    "gcp": (Endpoint("GKE load balancer proxy", "35.191.3.4"), Endpoint("internet", "93.184.216.34")),
    "azure": (Endpoint("application routing NGINX", "10.40.0.50", "app-routing-system",
                       {"app": "nginx", **AKS_NGINX_LABELS},
                       {"kubernetes.io/metadata.name": "app-routing-system"}),
              Endpoint("another team's pod", "10.40.0.60", "team-b", {"app": "nginx"},
                       {"kubernetes.io/metadata.name": "team-b"})),
}


def _ingress_path_admitted(cloud: str, objects: list[dict[str, Any]]) -> None:
    """The api-server's NetworkPolicies admit what serves the Ingress (ingress.allowed_from =>
    networkPolicies.sourceCIDRs: the load balancer's addresses; ingress.controller => ingressController),
    and nobody else from outside the release."""
    if CLOUD_INPUTS[cloud]["ingress"] is None:
        return
    deployment = named(objects, "Deployment", "airdeck-api-server")["spec"]["template"]
    ports = {p["name"]: p["containerPort"] for c in deployment["spec"]["containers"] for p in c.get("ports", [])
             if "name" in p}
    api_server = Endpoint("api-server", "10.0.3.9", NAMESPACE, deployment["metadata"]["labels"],
                          {"kubernetes.io/metadata.name": NAMESPACE}, ports)
    policies = [(NAMESPACE, policy) for policy in by_kind(objects, "NetworkPolicy")]
    served_by, outsider = INGRESS_PATH[cloud]
    assert verdict(policies, served_by, api_server, ports["api"]) == "allow", f"{cloud}: {served_by.name} is refused"
    assert verdict(policies, outsider, api_server, ports["api"]) == "deny", f"{cloud}: {outsider.name} is admitted"


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_values_render_with_the_chart(cloud: str, tmp_path: Path) -> None:
    import kubernetes_validate

    composed = compose(cloud, tmp_path)
    values = composed["values"]
    objects = render(values)  # Helm's engine: values.schema.json and check-values.yaml apply
    core = [o for o in objects if "." not in o["apiVersion"].split("/")[0] or o["apiVersion"].split("/")[0]
            in ("apps", "batch", "policy", "autoscaling", "networking.k8s.io")]
    for obj in core:  # the CRDs' objects (ServiceMonitor, ScaledObject) have no built-in schema
        kubernetes_validate.validate(obj, "1.30.0", strict=True)
    # The bucket's identity reaches exactly the pods that use it, each running as its own account, and
    # those accounts are the ones the cloud module trusts (naming's task_log_service_accounts).
    identity = {ANNOTATION[cloud]: CLOUD_INPUTS[cloud]["workload_identity"]}
    accounts = {sa["metadata"]["name"]: sa["metadata"].get("annotations", {})
                for sa in by_kind(objects, "ServiceAccount")}
    runs_as = {_pod_labels(o)["app.kubernetes.io/component"]: pod_spec(o)["serviceAccountName"]  # type: ignore[index]
               for o in objects if pod_spec(o) is not None}
    with_identity = {c for c, sa in runs_as.items() if any(k in ANNOTATION.values() for k in accounts[sa])}
    assert with_identity == {"worker", "triggerer", "api-server", "migrate"}, runs_as
    assert all(accounts[runs_as[c]] == identity for c in with_identity)
    assert len(set(runs_as.values())) == len(runs_as), f"a ServiceAccount shared between components: {runs_as}"
    assert {runs_as[c] for c in with_identity} == set(trusted_service_accounts("airdeck").values())
    config = named(objects, "ConfigMap", "airdeck-config")
    assert CLOUD_INPUTS[cloud]["task_logs_url"] in json.dumps(config)
    # Every Secret a pod mounts is one the airdeck module creates.
    created = {s["name"] for s in composed["secrets"].values()}
    mounted = set()
    for obj in objects:
        spec = pod_spec(obj)
        for volume in (spec or {}).get("volumes", []):
            for source in volume.get("projected", {}).get("sources", []):
                if "secret" in source:
                    mounted.add(source["secret"]["name"])
            if "secret" in volume:
                mounted.add(volume["secret"]["secretName"])
    assert mounted and mounted <= created, mounted - created
    assert {"airdeck-database", "airdeck-broker", "airdeck-fernet-key"} <= mounted
    policies = json.dumps(by_kind(objects, "NetworkPolicy"))
    for cidr in CLOUD_INPUTS[cloud]["database_cidrs"]:
        assert cidr in policies
    assert str(CLOUD_INPUTS[cloud]["broker_port"]) in policies
    assert by_kind(objects, "ServiceMonitor") and by_kind(objects, "PrometheusRule")
    assert bool(by_kind(objects, "ScaledObject")) == CLOUD_INPUTS[cloud]["enable_keda"]
    if CLOUD_INPUTS[cloud]["enable_keda"]:
        _keda_connection_parses(objects, composed["secret_data"])
    assert bool(by_kind(objects, "Ingress")) == (CLOUD_INPUTS[cloud]["ingress"] is not None)
    _ingress_path_admitted(cloud, objects)
    # The module's own egress policy (object store, token service) selects exactly the chart's Airflow pods.
    chart_policy = named(objects, "NetworkPolicy", "airdeck-airflow")["spec"]["podSelector"]["matchExpressions"]
    components = next(e["values"] for e in chart_policy if e["key"] == "app.kubernetes.io/component")
    airdeck_module = TERRAFORM / "modules" / "airdeck"
    local_values = {k: v for block in load(airdeck_module / "main.tf").get("locals", []) for k, v in block.items()}
    assert local_values["airflow_components"] == components
    egress = resources(airdeck_module)["kubernetes_network_policy_v1.cloud_egress"]["spec"][0]
    selector = {e["key"]: e["values"] for e in egress["pod_selector"][0]["match_expressions"]}
    assert selector == {"app.kubernetes.io/instance": ["${var.prefix}"],
                        "app.kubernetes.io/component": "${local.airflow_components}"}
    worker = by_kind(objects, "StatefulSet")[0]["spec"]["template"]["metadata"]["labels"]
    assert worker["app.kubernetes.io/instance"] == "airdeck" and worker["app.kubernetes.io/component"] in components
    if cloud == "azure":  # Azure Workload Identity's webhook acts on the labelled pods: those with the identity
        labelled = {_pod_labels(o)["app.kubernetes.io/component"] for o in objects
                    if pod_spec(o) is not None and _pod_labels(o).get("azure.workload.identity/use") == "true"}
        assert labelled == with_identity


def _pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    return dict(obj["metadata"]["labels"] if obj["kind"] == "Pod" else obj["spec"]["template"]["metadata"]["labels"])


def trusted_service_accounts(name: str) -> dict[str, str]:
    """naming's task_log_service_accounts for a deployment `name` (the chart's values key => account)."""
    local_values = {k: v for block in load(TERRAFORM / "modules" / "naming" / "main.tf").get("locals", [])
                    for k, v in block.items()}
    return {key: value.replace("${var.name}", name) for key, value in local_values["task_log_service_accounts"].items()}


def test_the_fernet_key_secret_is_left_to_the_cli_after_the_first_apply(tmp_path: Path) -> None:
    """`airdeck --target kubernetes fernet rotate` rewrites the Fernet key's Secret in the cluster: the module
    ignores later changes of that key and of the rotation's state annotation (the names the CLI uses), and
    renders the labels the CLI accepts; no other Secret is labelled for rotation."""
    from airdeck.kube.fernet import ROTATED_BY, STATE
    from airdeck.kube.release import INSTANCE

    secret = resources(TERRAFORM / "modules" / "airdeck")["kubernetes_secret_v1.platform"]
    helm_values = {k: v for block in load(TERRAFORM / "modules" / "helm-values" / "main.tf").get("locals", [])
                   for k, v in block.items()}
    fernet_key = helm_values["secret_keys"]["fernetKey"]
    ignored = secret.get("lifecycle", [{}])[0].get("ignore_changes")
    assert ignored == [f'${{data["{fernet_key}"]}}', f'${{metadata[0].annotations["{STATE}"]}}'], ignored
    # No other Secret holds that key, so the rule touches the Fernet key's Secret only.
    assert list(helm_values["secret_keys"].values()).count(fernet_key) == 1
    assert secret["metadata"][0]["labels"] == "${each.value.labels}"
    labels = {key: s["labels"] for key, s in compose("aws", tmp_path)["secrets"].items()}
    assert labels.pop("fernetKey") == {"app.kubernetes.io/part-of": "airdeck", INSTANCE: "airdeck",
                                       ROTATED_BY[0]: ROTATED_BY[1]}
    assert all(ROTATED_BY[0] not in other for other in labels.values()), labels


def test_cloud_modules_trust_exactly_the_task_log_accounts() -> None:
    """IRSA's trust, GKE's workloadIdentityUser members and Azure's federated credentials: one subject per
    account of naming's task_log_service_accounts, each in the release's namespace, and nothing else."""
    assert set(trusted_service_accounts("x")) == {"apiServer", "triggerer", "workers", "migrations"}
    aws = dict(blocks(TERRAFORM / "modules" / "aws", "module"))["policy"]
    assert aws["service_accounts"] == "${values(module.naming.task_log_service_accounts)}"
    policy = {k: v for block in load(TERRAFORM / "modules" / "aws-iam-policy" / "main.tf").get("locals", [])
              for k, v in block.items()}
    assert policy["subjects"] == '${[for sa in var.service_accounts : "system:serviceaccount:${var.namespace}:${sa}"]}'
    gcp = resources(GCP)["google_service_account_iam_member.workload_identity"]
    assert gcp["for_each"] == "${module.naming.task_log_service_accounts}"
    assert gcp["member"] == "serviceAccount:${var.project_id}.svc.id.goog[${var.namespace}/${each.value}]"
    azure = {k: v for k, v in resources(TERRAFORM / "modules" / "azure").items()
             if k.startswith("azurerm_federated_identity_credential.") and v["parent_id"] ==
             "${azurerm_user_assigned_identity.workload.id}"}
    subjects = sorted(v["subject"] for v in azure.values())
    names = "module.naming.task_log_service_accounts"
    assert subjects == sorted(f"system:serviceaccount:${{var.namespace}}:${{{names}.{key}}}"
                              for key in ("apiServer", "triggerer", "workers", "migrations"))
    # written one after the other (Azure refuses concurrent credential writes under one identity)
    chained = [v for v in azure.values() if "depends_on" in v]
    assert len(chained) == len(azure) - 1


# -- GCP: operator access, the UI behind the GKE Gateway -----------------------------------------------

GCP = TERRAFORM / "modules" / "gcp"
GCP_EXAMPLE = TERRAFORM / "examples" / "gcp"
# The one vocabulary of the examples (every cloud names these the same; the sizes per cloud).
VOCABULARY = ["operator_cidrs", "host", "dns_zone", "deletion_protection", "node_min_count", "node_max_count",
              "cluster_admins", "create_registry"]
SIZES = {"gcp": ["node_machine_type", "db_tier", "cache_memory_size_gb"],
         "azure": ["node_vm_size", "db_sku_name", "cache_sku_name"]}
EXAMPLE_OUTPUTS = {"ui_url", "admin_password_command", "kubeconfig_command", "registry_url", "image_push_commands"}


@pytest.mark.parametrize("cloud", ["gcp", "azure"])
def test_example_speaks_the_vocabulary_and_passes_it_through(cloud: str) -> None:
    example = TERRAFORM / "examples" / cloud
    variables = dict(blocks(example, "variable"))
    call = dict(blocks(example, "module"))[cloud]
    for name in [*VOCABULARY, *SIZES[cloud]]:
        assert name in variables, f"examples/{cloud}: variable {name} missing"
        assert call.get(name) == f"${{var.{name}}}", f"examples/{cloud}: {name} is not passed to the module"
        assert name in dict(blocks(TERRAFORM / "modules" / cloud, "variable")), f"modules/{cloud}: {name} missing"
    assert "default" not in variables["operator_cidrs"] and variables["deletion_protection"]["default"] is True
    assert EXAMPLE_OUTPUTS <= {name for name, _ in blocks(example, "output")}


def test_gcp_operator_cidrs_open_the_cluster_api_and_the_ui_only() -> None:
    found = resources(GCP)
    cluster = found["google_container_cluster.this"]
    networks = _attr(cluster, "master_authorized_networks_config")
    assert networks["gcp_public_cidrs_access_enabled"] is False
    assert networks["dynamic"][0]["cidr_blocks"]["for_each"] == "${var.operator_cidrs}"
    # Dataplane V2 enforces NetworkPolicies; the Calico add-on is off (GKE refuses both).
    assert cluster["datapath_provider"] == "ADVANCED_DATAPATH" and "network_policy" not in cluster
    assert _attr(cluster, "addons_config.network_policy_config.disabled") is True
    assert _attr(cluster, "gateway_api_config.channel") == "CHANNEL_STANDARD"
    armor = found["google_compute_security_policy.ui"]
    allow = armor["dynamic"][0]["rule"]
    assert allow["for_each"] == "${chunklist(var.operator_cidrs, 10)}"  # Cloud Armor: 10 ranges per rule
    assert allow["content"][0]["action"] == "allow"
    default = [r for r in armor["rule"] if r["priority"] == 2147483647]
    assert default and default[0]["action"] == "deny(403)"
    assert _attr(default[0], "match.config.src_ip_ranges") == ["*"]
    # The load balancer's ranges reach the nodes on the api port only, above the deny-all rule.
    lb = found["google_compute_firewall.load_balancer"]
    assert lb["source_ranges"] == "${local.load_balancer_cidrs}" and lb["priority"] < found[
        "google_compute_firewall.deny_ingress"]["priority"]
    assert _attr(lb, "allow.ports") == ["${tostring(local.api_port)}"]


def test_gcp_certificate_dns_and_autoscaling() -> None:
    found = resources(GCP)
    certificate = found["google_certificate_manager_certificate.ui"]
    assert _attr(certificate, "managed.domains") == ["${var.host}"]
    assert _attr(certificate, "managed.dns_authorizations") == ["${google_certificate_manager_dns_authorization.ui.id}"]
    assert found["google_certificate_manager_certificate_map_entry.ui"]["hostname"] == "${var.host}"
    records = found["google_dns_record_set.ui"]
    assert records["for_each"] == '${var.dns_zone == "" ? {} : local.dns_records}'
    pool = found["google_container_node_pool.this"]
    assert _attr(pool, "autoscaling.total_min_node_count") == "${var.node_min_count}"
    assert _attr(pool, "autoscaling.total_max_node_count") == "${var.node_max_count}"
    admins = found["google_project_iam_member.cluster_admins"]
    assert admins["for_each"] == "${toset(var.cluster_admins)}" and admins["role"] == "roles/container.admin"
    registry = found["google_artifact_registry_repository.this"]
    assert registry["count"] == "${var.create_registry ? 1 : 0}" and registry["format"] == "DOCKER"
    # Destroy, then apply again: the Cloud SQL name (reserved a week after deletion) is new each time.
    assert "random_id.suffix.hex" in found["google_sql_database_instance.this"]["name"]
    outputs = dict(blocks(GCP, "output"))
    assert "--internal-ip" not in outputs["kubeconfig_command"]["value"]


def _gateway(values: dict[str, Any]) -> list[dict[str, Any]]:
    import yaml
    from helm_python import Chart

    with Chart.load(str(GCP_EXAMPLE / "gateway")) as chart:
        files = chart.render(values=values, name="airdeck-ui", namespace="airflow", is_install=True,
                             is_upgrade=False, revision=1)
    return [doc for text in files.values() for doc in yaml.safe_load_all(text) if doc]


def test_gcp_gateway_chart_serves_the_release() -> None:
    """The example's Gateway chart with the values main.tf gives it: the Gateway on the reserved address with
    the certificate map, Cloud Armor and the health check on the api-server Service the HTTPRoute targets."""
    from tests.helm.test_custom_resources import invalid

    example = dict(blocks(GCP_EXAMPLE, "resource"))["helm_release"]["gateway"]
    assert example["chart"] == "${path.module}/gateway" and example["wait"] is True
    objects = _gateway({"name": "airdeck-x-ui", "addressName": "airdeck-ui", "certificateMap": "airdeck-ui-1",
                        "securityPolicy": "airdeck-ui", "service": "airdeck-x-api-server"})
    gateway = next(o for o in objects if o["kind"] == "Gateway")
    assert gateway["metadata"]["annotations"]["networking.gke.io/certmap"] == "airdeck-ui-1"
    assert gateway["spec"]["gatewayClassName"] == "gke-l7-global-external-managed"
    assert gateway["spec"]["addresses"] == [{"type": "NamedAddress", "value": "airdeck-ui"}]
    assert [(li["protocol"], li["port"]) for li in gateway["spec"]["listeners"]] == [("HTTPS", 443)]
    assert not invalid([gateway])
    policies = {o["kind"]: o["spec"] for o in objects if o["apiVersion"] == "networking.gke.io/v1"}
    assert policies["GCPBackendPolicy"]["default"]["securityPolicy"] == "airdeck-ui"
    assert policies["HealthCheckPolicy"]["default"]["config"]["httpHealthCheck"]["requestPath"] == (
        "/api/v2/monitor/health")
    for spec in policies.values():
        assert spec["targetRef"] == {"group": "", "kind": "Service", "name": "airdeck-x-api-server"}
    # The chart's HTTPRoute attaches to this Gateway and sends to that Service.
    route = named(render({"httpRoute": {"enabled": True, "parentRefs": [{"name": "airdeck-x-ui"}],
                                        "hostnames": ["airflow.example.com"]},
                          "networkPolicies": {"sourceCIDRs": ["35.191.0.0/16", "130.211.0.0/22"]},
                          "fullnameOverride": "airdeck-x"}), "HTTPRoute", "airdeck-x-api-server")
    assert route["spec"]["parentRefs"] == [{"name": "airdeck-x-ui"}]
    assert route["spec"]["rules"][0]["backendRefs"][0]["name"] == "airdeck-x-api-server"
    main = (GCP_EXAMPLE / "main.tf").read_text()
    assert 'parentRefs = [{ name = local.gateway_name }]' in main and "name            = local.gateway_name" in main
    with pytest.raises(Exception, match="certificateMap"):
        _gateway({"addressName": "a", "securityPolicy": "p"})


def test_gcp_example_values_admit_the_load_balancer_and_keep_the_computed_policies(tmp_path: Path) -> None:
    calls = dict(blocks(GCP_EXAMPLE, "module"))["airdeck"]
    assert calls["extra_values"]["networkPolicies"]["sourceCIDRs"] == "${module.gcp.load_balancer_cidrs}"
    lb = ["35.191.0.0/16", "130.211.0.0/22"]
    extra = {"httpRoute": {"enabled": True, "parentRefs": [{"name": "airdeck-ui"}],
                           "hostnames": ["airflow.example.com"]},
             "networkPolicies": {"sourceCIDRs": lb}}
    CLOUD_INPUTS["gcp-gateway"] = {**{k: v for k, v in CLOUD_INPUTS["gcp"].items() if k != "ingress"},
                                   "extra_values": extra}
    try:
        values = compose("gcp-gateway", tmp_path)["values"]
    finally:
        del CLOUD_INPUTS["gcp-gateway"]
    objects = render(values)
    assert named(objects, "HTTPRoute", "airdeck-api-server")
    policies = json.dumps(by_kind(objects, "NetworkPolicy"))
    for cidr in [*lb, *CLOUD_INPUTS["gcp"]["database_cidrs"]]:
        assert cidr in policies


# -- Azure: operator access, the UI behind the application routing add-on -------------------------------

AZURE = TERRAFORM / "modules" / "azure"
AZURE_EXAMPLE = TERRAFORM / "examples" / "azure"


def test_azure_operator_cidrs_open_the_cluster_api_the_ui_and_the_vault_only() -> None:
    found = resources(AZURE)
    cluster = found["azurerm_kubernetes_cluster.this"]
    assert _attr(cluster, "api_server_access_profile.authorized_ip_ranges") == "${var.operator_cidrs}"
    assert _attr(cluster, "azure_active_directory_role_based_access_control.admin_group_object_ids") == (
        "${var.cluster_admins}")
    assert _attr(cluster, "network_profile.network_plugin") == "azure"
    assert _attr(cluster, "network_profile.network_plugin_mode") == "overlay"
    # The identity running Terraform can install the release in the same apply.
    deployer = found["azurerm_role_assignment.deployer_cluster_admin"]
    assert deployer["role_definition_name"] == "Azure Kubernetes Service RBAC Cluster Admin"
    assert _attr(found["azurerm_key_vault.this"], "network_acls.ip_rules") == "${var.operator_cidrs}"
    # The AKS subnet's NSG lets operator_cidrs reach 443, before its deny of the internet.
    nsg = found["azurerm_network_security_group.this"]
    allow = nsg["dynamic"][0]["security_rule"]
    assert allow["for_each"] == '${each.key == "aks" ? [1] : []}'
    rule = allow["content"][0]
    assert rule["source_address_prefixes"] == "${var.operator_cidrs}" and rule["destination_port_range"] == "443"
    assert rule["priority"] < _attr(nsg, "security_rule.priority")
    pool = found["azurerm_kubernetes_cluster_node_pool.workload"]
    assert (pool["min_count"], pool["max_count"], pool["auto_scaling_enabled"]) == (
        "${var.node_min_count}", "${var.node_max_count}", True)


def test_azure_dns_certificate_registry_and_unique_names() -> None:
    found = resources(AZURE)
    record = found["azurerm_dns_a_record.ui"]
    assert record["count"] == '${var.dns_zone == "" ? 0 : 1}'
    assert record["records"] == ["${azurerm_public_ip.ui.ip_address}"]
    dns = found["azurerm_role_assignment.cert_manager_dns"]
    assert dns["scope"] == "${var.dns_zone}" and dns["role_definition_name"] == "DNS Zone Contributor"
    assert found["azurerm_federated_identity_credential.cert_manager"]["subject"] == (
        "system:serviceaccount:cert-manager:cert-manager")
    registry = found["azurerm_container_registry.this"]
    assert registry["count"] == "${var.create_registry ? 1 : 0}" and registry["admin_enabled"] is False
    pull = found["azurerm_role_assignment.nodes_pull"]
    assert pull["role_definition_name"] == "AcrPull" and "kubelet_identity" in pull["principal_id"]
    # Destroy, then apply again: the globally unique names are new each time.
    assert "random_id.suffix.hex" in found["azurerm_postgresql_flexible_server.this"]["name"]
    assert "random_id.suffix.hex" in found["azurerm_redis_cache.this"]["name"]


def _ingress_chart(values: dict[str, Any]) -> list[dict[str, Any]]:
    import yaml
    from helm_python import Chart

    with Chart.load(str(AZURE_EXAMPLE / "ingress")) as chart:
        files = chart.render(values=values, name="airdeck-ingress", namespace="app-routing-system",
                             is_install=True, is_upgrade=False, revision=1)
    return [doc for text in files.values() for doc in yaml.safe_load_all(text) if doc]


def test_azure_ingress_chart_restricts_the_load_balancer_and_issues_the_certificate() -> None:
    controller = {"name": "airdeck-nginx", "publicIpName": "airdeck-ui", "resourceGroup": "airdeck",
                  "allowedRanges": "203.0.113.7/32,198.51.100.0/24"}
    without = _ingress_chart({"controller": controller})
    assert [o["kind"] for o in without] == ["NginxIngressController"]
    spec = without[0]["spec"]
    assert spec["ingressClassName"] == "airdeck-nginx"
    annotations = spec["loadBalancerAnnotations"]
    assert annotations["service.beta.kubernetes.io/azure-allowed-ip-ranges"] == "203.0.113.7/32,198.51.100.0/24"
    assert annotations["service.beta.kubernetes.io/azure-pip-name"] == "airdeck-ui"
    issuer = {"enabled": True, "name": "letsencrypt-airdeck", "email": "", "client_id": "cid",
              "zone_name": "example.com", "resource_group": "dns", "subscription_id": "sub"}
    objects = _ingress_chart({"controller": controller, "issuer": issuer})
    cluster_issuer = next(o for o in objects if o["kind"] == "ClusterIssuer")
    solver = cluster_issuer["spec"]["acme"]["solvers"][0]["dns01"]["azureDNS"]
    assert solver["hostedZoneName"] == "example.com" and solver["managedIdentity"] == {"clientID": "cid"}
    assert "email" not in cluster_issuer["spec"]["acme"]
    with pytest.raises(Exception, match="allowedRanges"):
        _ingress_chart({"controller": {**controller, "allowedRanges": ""}})
    # The example wires the module's outputs into it, and the release's Ingress uses its class.
    main = (AZURE_EXAMPLE / "main.tf").read_text()
    assert "allowedRanges = module.azure.ingress.allowed_ranges" in main
    assert "class_name      = module.azure.ingress.controller_name" in main
    assert '"cert-manager.io/cluster-issuer" = local.issuer' in main
    outputs = dict(blocks(AZURE, "output"))
    assert outputs["ingress"]["value"]["allowed_ranges"] == '${join(",", var.operator_cidrs)}'


def test_azure_example_values_admit_the_add_on_nginx_and_keep_the_computed_policies(tmp_path: Path) -> None:
    calls = dict(blocks(AZURE_EXAMPLE, "module"))["airdeck"]
    controller = calls["ingress"]["controller"]
    assert controller == {"namespace": "app-routing-system", "pod_labels": AKS_NGINX_LABELS}
    assert "extra_values" not in calls, "the computed policies come from ingress.controller, not a hand-made map"
    CLOUD_INPUTS["azure-nginx"] = {
        **CLOUD_INPUTS["azure"], "ingress": {"host": "airflow.example.com", "class_name": "airdeck-nginx",
                                             "tls_secret_name": "airdeck-tls", "controller": controller}}
    try:
        values = compose("azure-nginx", tmp_path)["values"]
    finally:
        del CLOUD_INPUTS["azure-nginx"]
    objects = render(values)
    assert named(objects, "Ingress", "airdeck-api-server")["spec"]["ingressClassName"] == "airdeck-nginx"
    policies = json.dumps(by_kind(objects, "NetworkPolicy"))
    for needle in ["app-routing-system", "aks-app-routing-operator", *CLOUD_INPUTS["azure"]["database_cidrs"]]:
        assert needle in policies


def _doc_snippet(name: str) -> str:
    """The HCL between <!-- snippet:NAME:begin/end --> in docs/cloud.md."""
    text = (ROOT / "docs" / "cloud.md").read_text()
    found = re.search(rf"<!-- snippet:{name}:begin -->\n```hcl\n(.*?)```\n<!-- snippet:{name}:end -->", text, re.S)
    assert found, f"docs/cloud.md has no snippet {name}"
    return found.group(1)


def test_docs_snippets_apply_and_render_with_the_chart(tmp_path: Path) -> None:
    """docs/cloud.md's `airdeck` and sign-in/roles/alert-channel snippets, verbatim as arguments of the
    module call: the plan shows no secret, the values carry none, the chart accepts the values, and
    each Secret and ConfigMap the pods need is one the module creates, holding what Airflow reads."""
    from airdeck.auth.roles import load_roles, unknown_mapped_roles
    from airdeck.config.loader import parse_config
    from airflow.models.connection import Connection

    from tests.auth.slapd import write_tls

    ca_pem = write_tls(tmp_path)[0].read_text()
    secret = {"ldap_bind_password": "ldap-" + os.urandom(8).hex(),
              "slack_webhook_url": "https://hooks.slack.com/services/T0/B0/" + os.urandom(8).hex(),
              "smtp_password": "smtp-" + os.urandom(8).hex()}
    composed = compose("aws", tmp_path, snippet=_doc_snippet("airdeck") + _doc_snippet("configured"),
                       variables=secret, files={"ldap-ca.pem": ca_pem,
                                                "security/roles.yaml": (ROOT / "security" / "roles.yaml").read_text()})
    values = composed["values"]
    for value in secret.values():
        assert value not in composed["plan_output"]
        assert value not in json.dumps(values)
    objects = render(values)  # values.schema.json and check-values.yaml apply
    config = named(objects, "ConfigMap", "airdeck-config")
    cfg = parse_config(yaml.safe_load(config["data"]["airdeck.yaml"]))  # airdeck's own model accepts it
    ldap = cfg.auth.ldap
    assert cfg.auth.mode == "ldap" and ldap is not None
    assert str(ldap.bind_password_file) == "ldap_bind_password"
    assert str(ldap.ca_file) == "ldap_ca.pem"
    assert cfg.auth.break_glass_users == ["admin"]
    roles = yaml.safe_load(config["data"]["roles.yaml"])
    assert roles == yaml.safe_load((ROOT / "security" / "roles.yaml").read_text())
    known = set(load_roles(ROOT / "security" / "roles.yaml"))
    assert unknown_mapped_roles(ldap.roles_mapping, ldap.default_role, known, "roles.yaml") == []
    assert {name: (c.type, c.connection) for name, c in cfg.alerts.channels.items()} == {
        "ops": ("slack", "alert_ops"), "oncall": ("email", "alert_oncall")}
    assert cfg.alerts.channels["oncall"].to == ["oncall@example.com"]

    # The Secrets and ConfigMaps the pods mount: the module's (platform, LDAP, channels).
    created = {s["name"] for s in composed["secrets"].values()} | {"airdeck-ldap", "airdeck-alert-ops",
                                                                  "airdeck-alert-oncall"}
    api = named(objects, "Deployment", "airdeck-api-server")["spec"]["template"]["spec"]
    sources = next(v for v in api["volumes"] if v["name"] == "secrets")["projected"]["sources"]
    assert {"secret": {"name": "airdeck-ldap", "items": [{"key": "bind-password", "path": "ldap_bind_password"}]}} \
        in sources
    assert {"configMap": {"name": "airdeck-ldap-ca", "items": [{"key": "ca.crt", "path": "ldap_ca.pem"}]}} in sources
    assert composed["ldap_bind_password"] == secret["ldap_bind_password"]  # what the Secret airdeck-ldap holds
    assert composed["ldap_ca"] == ca_pem
    dispatcher = named(objects, "Deployment", "airdeck-alert-dispatcher")["spec"]["template"]["spec"]
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in dispatcher["containers"][0]["env"] if "valueFrom" in e}
    assert env == {"AIRFLOW_CONN_ALERT_OPS": {"name": "airdeck-alert-ops", "key": "connection"},
                   "AIRFLOW_CONN_ALERT_ONCALL": {"name": "airdeck-alert-oncall", "key": "connection"}}
    assert {ref["name"] for ref in env.values()} <= created
    # What those Secrets hold is what Airflow reads as the channels' connections.
    slack = Connection.from_json(composed["alert_connections"]["ops"], conn_id="alert_ops")
    assert (slack.conn_type, slack.password) == ("slackwebhook", secret["slack_webhook_url"])
    smtp = Connection.from_json(composed["alert_connections"]["oncall"], conn_id="alert_oncall")
    assert (smtp.conn_type, smtp.host, smtp.port, smtp.login, smtp.password) == (
        "smtp", "smtp.example.com", 587, "alerts", secret["smtp_password"])
    assert smtp.extra_dejson == {"from_email": "airflow@example.com", "disable_tls": False, "disable_ssl": True}
    # The migration Job applies the roles file.
    job = by_kind(objects, "Job")[0]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert job[-3:] == ["--sync-roles", "--roles-file", "/etc/airdeck/roles.yaml"]
    # Alertmanager pages the same channels, its secrets from the same Secrets (keys the module writes).
    routed = json.dumps(by_kind(objects, "AlertmanagerConfig"))
    assert '{"name": "airdeck-alert-ops", "key": "webhook-url"}' in routed
    assert '{"name": "airdeck-alert-oncall", "key": "smtp-password"}' in routed
    assert '"smarthost": "smtp.example.com:587"' in routed and '"authUsername": "alerts"' in routed
    assert secret["slack_webhook_url"] not in routed and secret["smtp_password"] not in routed
    module = (TERRAFORM / "modules" / "airdeck" / "configured.tf").read_text()
    assert '"webhook-url" = var.alert_channels[each.key].webhook_url' in module
    assert '"smtp-password" = var.alert_channels[each.key].smtp.password' in module


def test_a_secret_put_in_airdeck_by_mistake_stays_out_of_the_plan(tmp_path: Path) -> None:
    """The old docs put a Slack webhook in `airdeck`; the chart refuses it only at `helm install`. The
    plan before that must not print it: `airdeck`, `extra_values` and the values are sensitive."""
    webhook = "https://hooks.slack.com/services/T0/B0/" + os.urandom(8).hex()
    snippet = ('airdeck = { alerts = { channels = { ops = { type = "slack", connection = "c", webhook_url = "'
               + webhook + '" } } } }\nextra_values = { commonLabels = { team = "' + webhook + '" } }\n')
    composed = compose("gcp", tmp_path, snippet=snippet)
    assert "release_values" in composed["plan_output"]  # the plan did show the consumer of the values
    assert webhook not in composed["plan_output"]
