"""Prometheus and Alertmanager configuration checked by their own tools.

promtool checks prometheus/prometheus.yml (and the rule files it loads) and runs the rule unit tests
in prometheus/tests/; amtool checks prometheus/alertmanager.yml with its templates and the routing of
critical and warning alerts. The binaries come from Debian's `prometheus` and
`prometheus-alertmanager` packages (CI installs them); without them these tests skip loudly.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PROM = REPO / "prometheus"
INSTALL_HINT = "install it with: apt-get install -y prometheus prometheus-alertmanager"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"!!! {name} NOT FOUND: rule/config checks did not run; {INSTALL_HINT} !!!")
    return path


def _run(*args: str | Path) -> str:
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=REPO, timeout=120)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(map(str, args))} failed:\n{output}"
    return output


def test_promtool_check_config():
    out = _run(_tool("promtool"), "check", "config", PROM / "prometheus.yml")
    assert "2 rule files found" in out


def test_promtool_check_rules():
    _run(_tool("promtool"), "check", "rules", *sorted((PROM / "rules").glob("*.yml")))


def test_promtool_test_rules():
    tests = sorted((PROM / "tests").glob("*.yml"))
    assert tests, "no promtool test files"
    _run(_tool("promtool"), "test", "rules", *tests)


def test_every_alert_has_a_unit_test_and_a_quiet_case():
    alerts = {
        r["alert"]
        for g in yaml.safe_load((PROM / "rules" / "alerts.yml").read_text())["groups"]
        for r in g["rules"]
        if "alert" in r
    }
    fired, quiet = set(), set()
    for path in (PROM / "tests").glob("*.yml"):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                (fired if case.get("exp_alerts") else quiet).add(case["alertname"])
    assert alerts - fired == set(), f"alerts without a firing test: {alerts - fired}"
    assert alerts - quiet == set(), f"alerts without a quiet test: {alerts - quiet}"


def test_every_recording_rule_is_tested():
    records = {
        r["record"]
        for g in yaml.safe_load((PROM / "rules" / "recording.yml").read_text())["groups"]
        for r in g["rules"]
    }
    text = (PROM / "tests" / "recording_test.yml").read_text()
    assert {r for r in records if r not in text} == set()


def test_alert_annotations_and_runbooks():
    runbooks = (REPO / "docs" / "runbooks.md").read_text()
    headings = {line[3:].strip().lower() for line in runbooks.splitlines() if line.startswith("## ")}
    for group in yaml.safe_load((PROM / "rules" / "alerts.yml").read_text())["groups"]:
        for rule in group["rules"]:
            name = rule["alert"]
            assert rule["labels"]["severity"] in {"critical", "warning"}, name
            assert rule["labels"].get("component"), name
            assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), name
            assert rule["annotations"]["runbook_url"] == f"docs/runbooks.md#{name.lower()}"
            assert name.lower() in headings, f"docs/runbooks.md has no section '## {name}'"


def test_amtool_check_config():
    out = _run(_tool("amtool"), "check-config", PROM / "alertmanager.yml")
    assert "SUCCESS" in out


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "alertname=AirflowSchedulerHeartbeatMissing"], "email-and-slack"),
        (["severity=critical", "alertname=AirflowDeadlineMissed", "dag_id=etl"], "email-and-slack"),
        (["severity=warning", "alertname=AirflowDagRunFailed", "dag_id=etl"], "slack"),
        (["alertname=SomethingWithoutSeverity"], "slack"),
    ],
)
def test_amtool_routes(labels, receiver):
    _run(
        _tool("amtool"), "config", "routes", "test", f"--config.file={PROM / 'alertmanager.yml'}",
        f"--verify.receivers={receiver}", *labels,
    )


def test_alertmanager_secrets_are_files_not_inline():
    config = yaml.safe_load((PROM / "alertmanager.yml").read_text())
    text = (PROM / "alertmanager.yml").read_text()
    for key in ("api_url:", "auth_password:", "smtp_auth_password:", "hooks.slack.com"):
        assert key not in text, f"alertmanager.yml must reference secrets by file, found {key!r}"
    for receiver in config["receivers"]:
        for slack in receiver.get("slack_configs", []):
            assert slack["api_url_file"]
        for email in receiver.get("email_configs", []):
            assert email["auth_password_file"]


def test_amtool_renders_the_templates():
    text = (
        '{{ template "airdeck.slack.title" . }}{{ template "airdeck.slack.text" . }}'
        '{{ template "airdeck.email.subject" . }}{{ template "airdeck.email.html" . }}'
    )
    _run(_tool("amtool"), "template", "render", f"--template.glob={PROM / 'templates' / '*.tmpl'}",
         f"--template.text={text}")
