"""`scripts/cloud-upgrade`: snapshot → terraform apply with the new image tag → `helm test`, in that
order, and the rollback through Terraform printed when a step fails. terraform, helm and the clouds'
CLIs cannot act on a real cloud here: stand-ins on PATH record their arguments and answer as they
would (the Terraform state JSON is the shape `terraform show -json` prints)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "cloud-upgrade"

VALUES = ('"images":\n  "airdeck":\n    "repository": "123.dkr.ecr.eu-west-1.amazonaws.com/airdeck"\n'
          '    "tag": "0.1.0"\n"mode": "production"\n"workers":\n  "tag": "not-this"\n')

DATABASES = {
    "aws": ("aws_db_instance", {"identifier": "acme-airdeck-db"}),
    "gcp": ("google_sql_database_instance", {"name": "acme-airdeck-pg", "project": "acme-prod"}),
    "azure": ("azurerm_postgresql_flexible_server", {"name": "acme-airdeck-psql", "resource_group_name": "acme-rg"}),
}


def _state(cloud: str) -> dict[str, object]:
    kind, values = DATABASES[cloud]
    return {"format_version": "1.0", "values": {"root_module": {"child_modules": [
        {"address": f"module.{cloud}", "resources": [{"address": f"module.{cloud}.{kind}.this", "type": kind,
                                                       "name": "this", "values": values}]},
        {"address": "module.airdeck", "resources": [{"address": "module.airdeck.helm_release.airdeck",
                                                      "type": "helm_release", "name": "airdeck",
                                                      "values": {"name": "acme", "namespace": "airflow",
                                                                 "values": [VALUES]}}]}]}}}


def _tools(folder: Path, cloud: str, fail: str | None = None) -> tuple[dict[str, str], Path]:
    bin_dir, log = folder / "bin", folder / "calls.log"
    bin_dir.mkdir()
    (folder / "state.json").write_text(json.dumps(_state(cloud)))
    for tool in ("terraform", "helm", "aws", "gcloud", "az"):
        script = bin_dir / tool
        script.write_text(f"""#!/bin/sh
echo "{tool} $*" >> {log}
case "$*" in *"show -json"*) cat {folder / 'state.json'}; exit 0;; esac
[ "{tool}" = "{fail or ''}" ] && exit 3
exit 0
""")
        script.chmod(0o755)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(folder)}, log


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_snapshot_then_apply_then_canary(tmp_path: Path, cloud: str) -> None:
    env, log = _tools(tmp_path, cloud)
    done = subprocess.run([str(SCRIPT), "--dir", "terraform/examples/x", "--tag", "0.2.0", "--var-file", "p.tfvars",
                           "--yes"], env=env, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    assert calls[0] == "terraform -chdir=terraform/examples/x show -json"
    apply = next(i for i, c in enumerate(calls) if " apply " in c)
    snapshot = [i for i, c in enumerate(calls) if c.split()[0] in ("aws", "gcloud", "az")]
    assert snapshot and max(snapshot) < apply  # the way back exists before anything changes
    assert calls[apply] == ('terraform -chdir=terraform/examples/x apply -input=false -var image={repository='
                            '"123.dkr.ecr.eu-west-1.amazonaws.com/airdeck",tag="0.2.0"} -var-file=p.tfvars '
                            '-auto-approve')
    assert calls[-1] == "helm test acme --namespace airflow --timeout 20m --logs"
    assert not any("upgrade" in c.split()[:2] or "rollback" in c for c in calls if c.startswith("helm"))
    first = calls[snapshot[0]]
    if cloud == "aws":
        assert first.startswith("aws rds create-db-snapshot --db-instance-identifier acme-airdeck-db "
                                "--db-snapshot-identifier acme-before-0-2-0-")
        assert calls[snapshot[1]].startswith("aws rds wait db-snapshot-available --db-snapshot-identifier acme-")
    elif cloud == "gcp":
        assert first.startswith("gcloud sql backups create --instance=acme-airdeck-pg --project=acme-prod "
                                "--description=acme-before-0-2-0-")
    else:
        assert first.startswith("az postgres flexible-server backup create --resource-group acme-rg --name "
                                "acme-airdeck-psql --backup-name acme-before-0-2-0-")
    assert "ok: release acme runs 0.2.0" in done.stderr


def test_a_failing_canary_prints_the_rollback_through_terraform(tmp_path: Path) -> None:
    env, log = _tools(tmp_path, "aws", fail="helm")
    done = subprocess.run([str(SCRIPT), "--dir", "ex", "--tag", "0.2.0"], env=env, capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 1
    assert "no `helm rollback`" in done.stderr
    assert "scripts/cloud-upgrade --dir ex --tag 0.1.0 --rollback" in done.stderr  # the previous tag, from the state
    assert "aws rds restore-db-instance-from-db-snapshot --db-instance-identifier acme-airdeck-db-restored" \
        in done.stderr
    assert "Traceback" not in done.stderr
    rollback = subprocess.run([str(SCRIPT), "--dir", "ex", "--tag", "0.1.0", "--rollback"], env=env,
                              capture_output=True, text=True, check=False, timeout=60)
    calls = log.read_text().splitlines()
    assert rollback.returncode == 1  # the stand-in helm still fails
    assert sum(1 for c in calls if c.startswith("aws rds create-db-snapshot")) == 1  # no snapshot on rollback
    assert calls[-2].endswith('tag="0.1.0"}')


def test_a_failed_snapshot_changes_nothing(tmp_path: Path) -> None:
    env, log = _tools(tmp_path, "gcp", fail="gcloud")
    done = subprocess.run([str(SCRIPT), "--dir", "ex", "--tag", "0.2.0"], env=env, capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 1 and "nothing after this step was changed" in done.stderr
    assert not any(" apply " in c for c in log.read_text().splitlines())


def test_refuses_latest_and_a_folder_without_a_deployment(tmp_path: Path) -> None:
    env, _log = _tools(tmp_path, "aws")
    latest = subprocess.run([str(SCRIPT), "--dir", "ex", "--tag", "latest"], env=env, capture_output=True, text=True,
                            check=False)
    assert latest.returncode == 2 and "not a pinned image tag" in latest.stderr
    (tmp_path / "state.json").write_text(json.dumps({"values": {"root_module": {}}}))
    empty = subprocess.run([str(SCRIPT), "--dir", "ex", "--tag", "0.2.0"], env=env, capture_output=True, text=True,
                           check=False)
    assert empty.returncode == 1 and "no airdeck deployment in the Terraform state of ex" in empty.stderr
    only_python = tmp_path / "only-python"
    only_python.mkdir()
    (only_python / "python3").symlink_to(os.path.realpath(sys.executable))
    missing = subprocess.run([str(SCRIPT), "--dir", "ex", "--tag", "0.2.0"], env={**env, "PATH": str(only_python)},
                             capture_output=True, text=True, check=False)
    assert missing.returncode == 1 and "terraform is not installed or not on PATH" in missing.stderr
