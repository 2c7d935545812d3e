"""Airflow connections from existing Kubernetes Secrets (values key ``connections``): the
``AIRFLOW_CONN_<ID>`` environment appears exactly in the containers that resolve each connection, the
value never enters the chart's output, bad entries fail the render with their key path, and a git
bundle opens exactly the egress its URL needs, from the dag-processor and the workers only."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.helm.chart import CHART, NAMESPACE, by_kind, ci_values, pod_spec, render
from tests.helm.netpol import Endpoint, verdict

CI_FILE = CHART / "ci" / "07-git-connections-values.yaml"
SENTINEL = "s3cr3t-c0nn-t0ken"


def _conn_env(objects: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """``object/container`` -> ``{env name: secretKeyRef}`` of every AIRFLOW_CONN_ variable, for every
    container (init containers, Jobs and the test pod included)."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for obj in objects:
        spec = pod_spec(obj)
        if spec is None:
            continue
        for c in [*spec.get("initContainers", []), *spec["containers"]]:
            env = {e["name"]: e for e in c.get("env", []) if e["name"].startswith("AIRFLOW_CONN_")}
            for e in env.values():
                assert set(e) == {"name", "valueFrom"}, e  # a reference, never a literal value
            found[f"{obj['metadata']['name']}/{c['name']}"] = {k: v["valueFrom"]["secretKeyRef"]
                                                                for k, v in env.items()}
    return found


def test_env_is_exactly_on_the_containers_that_resolve_each_connection() -> None:
    got = _conn_env(render(ci_values(CI_FILE)))
    git = {"name": "airdeck-git-team-a", "key": "connection"}
    slack = {"name": "airdeck-slack", "key": "webhook"}
    warehouse = {"name": "airdeck-warehouse", "key": "uri"}
    expected = {
        "airdeck-dag-processor/dag-processor": {"AIRFLOW_CONN_GIT_TEAM_A": git},
        "airdeck-worker/worker": {"AIRFLOW_CONN_GIT_TEAM_A": git, "AIRFLOW_CONN_WAREHOUSE_DB": warehouse},
        "airdeck-triggerer/triggerer": {"AIRFLOW_CONN_WAREHOUSE_DB": warehouse},
        "airdeck-api-server/api-server": {"AIRFLOW_CONN_WAREHOUSE_DB": warehouse},
        "airdeck-alert-dispatcher/alert-dispatcher": {"AIRFLOW_CONN_SLACK_ALERTS": slack},
    }
    assert {k: v for k, v in got.items() if v} == expected
    # Everything else (scheduler, init containers, migration Job, canary, statsd) has none.
    assert "airdeck-scheduler/scheduler" in got and "airdeck-canary/canary" in got
    assert any(k.startswith("airdeck-migrate-") for k in got)


def test_explicit_components_and_shared_connections() -> None:
    values = {
        "airdeck": {"dags": {"bundles": [{"name": "a", "git": {"url": "https://git.example.com/a.git",
                                                               "connection": "shared"}}]},
                    "alerts": {"channels": {"c": {"type": "slack", "connection": "shared"}}}},
        "connections": {"shared": {"secret": "s", "key": "k"},
                        "plugin_conn": {"secret": "p", "key": "k", "components": ["scheduler", "api-server"]}},
    }
    got = {k: set(v) for k, v in _conn_env(render(values)).items() if v}
    assert got == {
        "airdeck-dag-processor/dag-processor": {"AIRFLOW_CONN_SHARED"},
        "airdeck-worker/worker": {"AIRFLOW_CONN_SHARED"},
        "airdeck-alert-dispatcher/alert-dispatcher": {"AIRFLOW_CONN_SHARED"},
        "airdeck-scheduler/scheduler": {"AIRFLOW_CONN_PLUGIN_CONN"},
        "airdeck-api-server/api-server": {"AIRFLOW_CONN_PLUGIN_CONN"},
    }
    # Without connections nothing changes: no AIRFLOW_CONN_ anywhere.
    assert not any(_conn_env(render({})).values())


def test_connections_change_the_pod_templates_that_use_them() -> None:
    def template(values: dict[str, Any], name: str) -> str:
        obj = next(o for o in render(values) if o["metadata"]["name"] == name
                   and o["kind"] in ("Deployment", "StatefulSet"))
        return json.dumps(obj["spec"]["template"], sort_keys=True)

    one = {"connections": {"warehouse_db": {"secret": "w1", "key": "uri"}}}
    two = {"connections": {"warehouse_db": {"secret": "w2", "key": "uri"}}}
    assert template(one, "airdeck-worker") != template(two, "airdeck-worker")  # rolls the workers
    assert template(one, "airdeck-scheduler") == template(two, "airdeck-scheduler")  # not the scheduler


def test_no_connection_value_reaches_a_configmap_or_the_output() -> None:
    values = ci_values(CI_FILE)
    objects = render(values)
    text = yaml.safe_dump_all(objects)
    for cm in by_kind(objects, "ConfigMap"):
        body = json.dumps(cm)
        assert "AIRFLOW_CONN" not in body and "airdeck-git-team-a" not in body, cm["metadata"]["name"]
    assert not by_kind(objects, "Secret")  # the chart never holds a connection's value
    assert text.count("airdeck-git-team-a") == 2  # only the two secretKeyRefs (dag-processor, worker)
    # A value pasted into the values instead of a Secret reference is refused, and not echoed.
    from helm_python import HelmError

    hostile = {"connections": {"warehouse_db": {"secret": "w", "key": "uri",
                                                "uri": f"postgresql://etl:{SENTINEL}@db/x"}}}
    with pytest.raises(HelmError) as raised:
        render(hostile)
    assert "/connections/warehouse_db" in str(raised.value) and "uri" in str(raised.value)
    assert SENTINEL not in str(raised.value)


@pytest.mark.parametrize(("values", "path"), [
    ({"connections": {"git_team_a": {"secert": "s", "key": "k"}}}, "/connections/git_team_a"),
    ({"connections": {"git_team_a": {"secret": "s"}}}, "/connections/git_team_a"),
    ({"connections": {"git_team_a": {"secret": "s", "key": "k", "components": ["workers"]}}},
     "/connections/git_team_a/components/0"),
    ({"connections": {"git team a": {"secret": "s", "key": "k"}}}, "/connections"),
    ({"connections": {"x": {"secret": "Not_A_Name", "key": "k"}}}, "/connections/x/secret"),
    ({"connections": ["git_team_a"]}, "/connections"),
    ({"networkPolicies": {"git": {"too": []}}}, "/networkPolicies/git"),
])
def test_schema_rejects_bad_connection_entries_with_the_key_path(values: dict[str, Any], path: str) -> None:
    from helm_python import HelmError

    with pytest.raises(HelmError) as raised:
        render(values)
    assert path in str(raised.value)


def test_two_ids_that_share_an_environment_variable_fail_the_render() -> None:
    from helm_python import HelmError

    with pytest.raises(HelmError) as raised:
        render({"connections": {"git_a": {"secret": "a", "key": "k"}, "GIT_A": {"secret": "b", "key": "k"}}})
    assert "AIRFLOW_CONN_GIT_A" in str(raised.value) and "keep one" in str(raised.value)


def _outside_egress(policies: list[dict[str, Any]], component: str, port: int, ip: str = "198.51.100.10") -> bool:
    """Whether ``component``'s pods may open TCP ``port`` to address ``ip`` outside the cluster."""
    pod = Endpoint(component, "10.244.1.1", NAMESPACE, {"app.kubernetes.io/name": "airdeck",
                                                         "app.kubernetes.io/instance": "airdeck",
                                                         "app.kubernetes.io/component": component})
    return verdict([(NAMESPACE, p) for p in policies], pod, Endpoint("outside", ip), port) == "allow"


def _no_task_egress(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` without the tasks' general egress, so that only the flow under test opens a port."""
    return {**values, "networkPolicies": {**values.get("networkPolicies", {}), "taskEgress": {"enabled": False}}}


def _bundles(*urls: str) -> dict[str, Any]:
    return {"airdeck": {"dags": {"bundles": [{"name": f"b{i}", "git": {"url": u}} for i, u in enumerate(urls)]}}}


def test_git_bundles_open_egress_from_dag_processor_and_workers_only() -> None:
    policies = by_kind(render(_no_task_egress(ci_values(CI_FILE))), "NetworkPolicy")
    for component in ("dag-processor", "worker"):
        assert _outside_egress(policies, component, 443, "10.20.0.5"), component
        assert not _outside_egress(policies, component, 443), component  # outside git.to
        assert not _outside_egress(policies, component, 22, "10.20.0.5"), component
    # (The alert dispatcher has 443 for Slack in this file, by its own rule; see test_chart.)
    for component in ("scheduler", "triggerer", "api-server", "canary", "migrate"):
        assert not _outside_egress(policies, component, 443, "10.20.0.5"), component
    git = next(p for p in policies if p["metadata"]["name"] == "airdeck-git")
    assert git["spec"]["egress"][0]["to"] == [{"ipBlock": {"cidr": "10.20.0.0/24"}}]

    policies = by_kind(render(_no_task_egress(_bundles("https://git.example.com:8443/a.git", "ssh://git@git.example.com/b.git",
                                       "git@github.com:org/c.git", "git://git.example.com/d.git",
                                       "http://git.example.com/e.git", "ssh://git@git.example.com:2222/f.git"))),
                       "NetworkPolicy")
    git = next(p for p in policies if p["metadata"]["name"] == "airdeck-git")
    assert sorted(x["port"] for x in git["spec"]["egress"][0]["ports"]) == [22, 80, 2222, 8443, 9418]
    assert "to" not in git["spec"]["egress"][0]  # no peers given: any address, these ports only
    for port in (22, 80, 2222, 8443, 9418):
        assert _outside_egress(policies, "worker", port) and not _outside_egress(policies, "scheduler", port)
    assert not _outside_egress(policies, "worker", 443)

    # A local repository (file://), a folder bundle or no bundle: no git egress at all.
    for values in (_bundles("file:///srv/git/a.git"), {"airdeck": {"dags": {"bundles": [
            {"name": "local", "folder": "/opt/dags"}]}}}, {}):
        names = [p["metadata"]["name"] for p in by_kind(render(values), "NetworkPolicy")]
        assert "airdeck-git" not in names, values


def test_checkov_skip_of_env_secrets_is_only_on_workloads_with_connections() -> None:
    for values in (ci_values(CI_FILE), {}):
        objects = render(values)
        with_env = {k.split("/")[0] for k, v in _conn_env(objects).items() if v}
        skipped = {o["metadata"]["name"] for o in objects
                   if any(str(v).startswith("CKV_K8S_35=") for v in o["metadata"].get("annotations", {}).values())}
        assert skipped == with_env


def test_remote_task_logs_open_egress_to_the_store_only_where_logs_travel() -> None:
    values: dict[str, Any] = {"airdeck": {"logging": {"remote": "s3://logs/airflow",
                                                      "endpoint": "http://minio.storage:9000"}}}
    policies = by_kind(render(_no_task_egress(values)), "NetworkPolicy")
    logs = next(p for p in policies if p["metadata"]["name"] == "airdeck-task-logs")
    assert sorted(x["port"] for x in logs["spec"]["egress"][0]["ports"]) == [443, 9000]
    for component in ("worker", "api-server", "triggerer", "migrate"):
        assert _outside_egress(policies, component, 9000), component
    for component in ("scheduler", "dag-processor", "alert-dispatcher", "canary"):
        assert not _outside_egress(policies, component, 9000), component
    assert len(logs["spec"]["egress"]) == 1  # no metadata server unless asked for
    values["networkPolicies"] = {"taskLogs": {"metadataServer": True, "to": [{"ipBlock": {"cidr": "10.9.0.0/16"}}]}}
    logs = next(p for p in by_kind(render(values), "NetworkPolicy") if p["metadata"]["name"] == "airdeck-task-logs")
    assert logs["spec"]["egress"][0]["to"] == [{"ipBlock": {"cidr": "10.9.0.0/16"}}]
    assert logs["spec"]["egress"][1]["to"] == [{"ipBlock": {"cidr": "169.254.169.254/32"}}]
    assert "airdeck-task-logs" not in [p["metadata"]["name"] for p in by_kind(render({}), "NetworkPolicy")]
    with pytest.raises(Exception, match="taskLogs"):
        render({"networkPolicies": {"taskLogs": {"metadataSever": True}}})
