"""The AlertmanagerConfig the chart renders from airdeck.alerts.channels, checked by Alertmanager's own amtool.

For several channel sets (Slack only, email only, both, several of each, none) the chart's
AlertmanagerConfig is validated against its CRD (the @kubernetes-models validators), then turned into the
Alertmanager configuration the Prometheus Operator would generate from it (``operator_config`` below: the
operator's receiver names ``<namespace>/<name>/<receiver>``, its ``namespace`` matcher on the top route and
the inhibition rules (matcher strategy OnNamespace), ``continue: true``, Secret key references replaced by
the Secret's value), merged under kube-prometheus-stack's default root route (receiver ``null``). amtool
checks that configuration and routes a critical and a warning platform alert: they must reach the channels
of their severity, and an alert of another namespace must not. What this cannot prove: the operator's own
conversion (modelled here for exactly the fields the chart renders; any other field fails the test) and
delivery to Slack or an SMTP server.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from helm_python import HelmError

from tests.helm.chart import NAMESPACE, ROOT, by_kind, render, render_files
from tests.helm.test_custom_resources import invalid

#: The Secrets' contents the stand-in reads (a Kubernetes Secret's value, as the operator reads it).
SECRETS = {("am-slack-ops", "url"): "https://hooks.slack.com/services/T000/B000/XXXX",
           ("am-slack-data", "url"): "https://hooks.slack.com/services/T000/B001/YYYY",
           ("am-smtp", "password"): "smtp-secret-value"}
SLACK_OPS = {"type": "slack", "connection": "slack_ops"}
SLACK_DATA = {"type": "slack", "connection": "slack_data"}
MAIL = {"type": "email", "connection": "smtp_default", "to": ["oncall@example.com", "lead@example.com"],
        "from_email": "airflow@example.com"}
AM_SLACK_OPS = {"apiURL": {"secret": "am-slack-ops", "key": "url"}, "channel": "#ops"}
AM_SLACK_DATA = {"apiURL": {"secret": "am-slack-data", "key": "url"}}
AM_MAIL = {"smarthost": "smtp.example.com:587", "authUsername": "alerts",
           "authPassword": {"secret": "am-smtp", "key": "password"}}

#: name -> (airdeck.alerts.channels, monitoring.alertmanagerConfig.channels)
CHANNEL_SETS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "slack only": ({"ops": SLACK_OPS}, {"ops": AM_SLACK_OPS}),
    "email only": ({"oncall": MAIL}, {"oncall": AM_MAIL}),
    "both": ({"ops": SLACK_OPS, "oncall": MAIL}, {"ops": AM_SLACK_OPS, "oncall": AM_MAIL}),
    "several": ({"ops": SLACK_OPS, "data": SLACK_DATA, "oncall": MAIL, "plain": {**MAIL, "to": ["x@example.com"]}},
                {"ops": AM_SLACK_OPS, "data": AM_SLACK_DATA, "oncall": AM_MAIL,
                 "plain": {"smarthost": "relay.example.com:25", "from": "relay@example.com", "requireTLS": False}}),
}


def values(channels: dict[str, Any], settings: dict[str, Any], *, templates: bool = False) -> dict[str, Any]:
    return {"airdeck": {"alerts": {"channels": channels}},
            "monitoring": {"alertmanagerConfig": {"channels": settings, "airdeckTemplates": templates}}}


def _snake(key: str) -> str:
    return {"apiURL": "api_url", "requireTLS": "require_tls"}.get(key) or re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()


def _matchers(items: list[dict[str, str]]) -> list[str]:
    out = []
    for m in items:
        assert set(m) == {"name", "value", "matchType"}, m
        out.append(f'{m["name"]}{m["matchType"]}"{m["value"]}"')
    return out


def _secret(ref: dict[str, str]) -> str:
    assert set(ref) == {"name", "key"}, ref
    return SECRETS[(ref["name"], ref["key"])]


ROUTE_KEYS = {"receiver", "groupBy", "groupWait", "groupInterval", "repeatInterval", "matchers", "routes"}
SLACK_KEYS = {"apiURL", "channel", "sendResolved", "title", "text"}
EMAIL_KEYS = {"to", "from", "smarthost", "authUsername", "authPassword", "requireTLS", "sendResolved", "headers",
              "html"}


def _route(route: dict[str, Any], prefix: str) -> dict[str, Any]:
    assert set(route) <= ROUTE_KEYS, set(route) - ROUTE_KEYS
    out: dict[str, Any] = {"receiver": prefix + route["receiver"]}
    for key in ("groupBy", "groupWait", "groupInterval", "repeatInterval"):
        if key in route:
            out[_snake(key)] = route[key]
    if "matchers" in route:
        out["matchers"] = _matchers(route["matchers"])
    if "routes" in route:
        out["routes"] = [_route(r, prefix) for r in route["routes"]]
    return out


def _receiver(receiver: dict[str, Any], prefix: str) -> dict[str, Any]:
    assert set(receiver) <= {"name", "slackConfigs", "emailConfigs"}, receiver
    out: dict[str, Any] = {"name": prefix + receiver["name"]}
    for slack in receiver.get("slackConfigs", []):
        assert set(slack) <= SLACK_KEYS, set(slack) - SLACK_KEYS
        conf = {_snake(k): (_secret(v) if k == "apiURL" else v) for k, v in slack.items()}
        out.setdefault("slack_configs", []).append(conf)
    for mail in receiver.get("emailConfigs", []):
        assert set(mail) <= EMAIL_KEYS, set(mail) - EMAIL_KEYS
        conf = {_snake(k): v for k, v in mail.items() if k not in ("authPassword", "headers")}
        if "authPassword" in mail:
            conf["auth_password"] = _secret(mail["authPassword"])
        if "headers" in mail:
            conf["headers"] = {h["key"]: h["value"] for h in mail["headers"]}
        out.setdefault("email_configs", []).append(conf)
    return out


def operator_config(amc: dict[str, Any], *, templates: bool) -> dict[str, Any]:
    """The Alertmanager configuration the Prometheus Operator generates from one AlertmanagerConfig, under
    kube-prometheus-stack's default root route (receiver null)."""
    spec, meta = amc["spec"], amc["metadata"]
    assert set(spec) <= {"route", "receivers", "inhibitRules"}, spec.keys()
    namespace = meta.get("namespace", NAMESPACE)
    prefix = f"{namespace}/{meta['name']}/"
    ns = f'namespace="{namespace}"'
    top = _route(spec["route"], prefix)
    top["matchers"] = [ns, *top.get("matchers", [])]
    top["continue"] = True
    inhibit = []
    for rule in spec.get("inhibitRules", []):
        assert set(rule) <= {"sourceMatch", "targetMatch", "equal"}, rule
        inhibit.append({"source_matchers": [ns, *_matchers(rule["sourceMatch"])],
                        "target_matchers": [ns, *_matchers(rule["targetMatch"])], "equal": rule["equal"]})
    config: dict[str, Any] = {
        "route": {"receiver": "null", "group_by": ["namespace"], "routes": [top]},
        "receivers": [{"name": "null"}, *[_receiver(r, prefix) for r in spec["receivers"]]],
        "inhibit_rules": inhibit,
    }
    if templates:
        config["templates"] = [str(ROOT / "prometheus" / "templates" / "*.tmpl")]
    return config


def _amtool() -> str:
    path = shutil.which("amtool")
    if path is None:
        pytest.skip("!!! amtool NOT FOUND: install it with: apt-get install -y prometheus-alertmanager !!!")
    return path


def _run(*args: str) -> str:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done.stdout


def routed(config: Path, *labels: str) -> list[str]:
    out = _run(_amtool(), "config", "routes", "test", f"--config.file={config}", *labels)
    return out.strip().split(",")


def _platform_alerts() -> dict[str, str]:
    """alertname -> severity of the platform's own alert rules."""
    rules = yaml.safe_load((ROOT / "prometheus" / "rules" / "alerts.yml").read_text())
    return {r["alert"]: r["labels"]["severity"] for g in rules["groups"] for r in g["rules"] if "alert" in r}


@pytest.mark.parametrize("name", list(CHANNEL_SETS))
@pytest.mark.parametrize("templates", [False, True], ids=["default-layout", "airdeck-layout"])
def test_channels_route_platform_alerts_by_severity(name: str, templates: bool, tmp_path: Path) -> None:
    channels, settings = CHANNEL_SETS[name]
    objects = render(values(channels, settings, templates=templates), name="obs")
    (amc,) = by_kind(objects, "AlertmanagerConfig")
    assert not invalid([amc])
    assert not set(SECRETS.values()) & set(yaml.safe_dump(objects).split()), "a secret value in the manifest"
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_dump(operator_config(amc, templates=templates), sort_keys=False))
    assert "SUCCESS" in _run(_amtool(), "check-config", str(config))

    native = yaml.safe_load(config.read_text())
    receivers = {r["name"]: r for r in native["receivers"]}
    critical, warning = receivers[f"{NAMESPACE}/obs/critical"], receivers[f"{NAMESPACE}/obs/warning"]
    slack = [n for n, c in channels.items() if c["type"] == "slack"]
    email = [n for n, c in channels.items() if c["type"] == "email"]
    # critical: every channel; warning: the Slack channels, or every channel without Slack
    assert len(critical.get("slack_configs", [])) == len(slack)
    assert len(critical.get("email_configs", [])) == len(email)
    assert len(warning.get("slack_configs", [])) == len(slack)
    assert len(warning.get("email_configs", [])) == (0 if slack else len(email))
    for mail, conf in zip(email, critical.get("email_configs", []), strict=True):
        assert conf["to"] == ", ".join(channels[mail]["to"])

    severities = _platform_alerts()
    assert severities["AirflowSchedulerHeartbeatMissing"] == "critical"
    for alert, severity in severities.items():
        assert routed(config, f"alertname={alert}", f"severity={severity}", f"namespace={NAMESPACE}") == [
            f"{NAMESPACE}/obs/{severity}"], alert
    assert routed(config, "alertname=KubeNodeNotReady", "severity=critical", "namespace=kube-system") == ["null"]


def test_the_platform_rules_reach_the_route_with_the_namespace_label(tmp_path: Path) -> None:
    """The PrometheusRule's alerts carry the namespace the operator's matcher requires (also the aggregated
    and absent() ones, which have no namespace from their series)."""
    channels, settings = CHANNEL_SETS["both"]
    objects = render(values(channels, settings), name="obs")
    groups = by_kind(objects, "PrometheusRule")[0]["spec"]["groups"]
    down = next(r for g in groups for r in g["rules"] if r.get("alert") == "AirdeckMetricsPipelineDown")
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_dump(operator_config(by_kind(objects, "AlertmanagerConfig")[0], templates=False)))
    labels = [f"{k}={v}" for k, v in down["labels"].items()]
    assert routed(config, "alertname=AirdeckMetricsPipelineDown", *labels) == [f"{NAMESPACE}/obs/critical"]


def test_no_channels_no_alertmanager_config() -> None:
    assert not by_kind(render({}), "AlertmanagerConfig")
    channels, settings = CHANNEL_SETS["both"]
    off = values(channels, settings)
    off["monitoring"]["alertmanagerConfig"]["enabled"] = False
    assert not by_kind(render(off), "AlertmanagerConfig")


def test_channels_without_settings_are_named_in_the_notes() -> None:
    channels, settings = CHANNEL_SETS["several"]
    partial = values(channels, {"ops": settings["ops"]})
    objects = render(partial)
    (amc,) = by_kind(objects, "AlertmanagerConfig")
    assert [len(r.get("slackConfigs", [])) for r in amc["spec"]["receivers"]] == [1, 1]
    assert not any("emailConfigs" in r for r in amc["spec"]["receivers"])
    notes = next(text for path, text in render_files(partial).items() if path.endswith("NOTES.txt"))
    assert "Alertmanager pages no alert channel" in notes and "on: data, oncall, plain." in notes
    full = next(text for path, text in render_files(values(*CHANNEL_SETS["several"])).items()
                if path.endswith("NOTES.txt"))
    assert "Alertmanager pages no" not in full


@pytest.mark.parametrize(("channels", "settings", "message"), [
    ({"ops": SLACK_OPS}, {"opps": AM_SLACK_OPS}, "channels.opps: no alert channel \"opps\" in airdeck.alerts.channels "
                                                 "(defined: ops)"),
    ({"ops": SLACK_OPS}, {"ops": {"channel": "#x"}}, "monitoring.alertmanagerConfig.channels.ops.apiURL"),
    ({"ops": SLACK_OPS}, {"ops": {**AM_SLACK_OPS, "smarthost": "h:25"}}, "ops.smarthost: channel ops is a Slack"),
    ({"m": MAIL}, {"m": {"authUsername": "u"}}, "monitoring.alertmanagerConfig.channels.m.smarthost"),
    ({"m": {**MAIL, "from_email": None}}, {"m": {"smarthost": "h:25"}}, "alertmanagerConfig.channels.m.from"),
    ({"m": MAIL}, {"m": {"smarthost": "h:25", "authPassword": {"secret": "s", "key": "k"}}}, "m.authUsername"),
    ({"m": MAIL}, {"m": {"smarthost": "h:25", "apiURL": {"secret": "s", "key": "k"}}}, "m.apiURL: channel m is an"),
])
def test_incomplete_channel_settings_fail_with_the_key(channels: dict[str, Any], settings: dict[str, Any],
                                                        message: str) -> None:
    with pytest.raises(HelmError) as raised:
        render(values(channels, settings))
    assert message in str(raised.value)


def test_a_secret_reference_is_not_a_value() -> None:
    channels, _ = CHANNEL_SETS["slack only"]
    with pytest.raises(HelmError) as raised:
        render(values(channels, {"ops": {"apiURL": "https://hooks.slack.com/services/T/B/X"}}))
    assert "apiURL" in str(raised.value)
