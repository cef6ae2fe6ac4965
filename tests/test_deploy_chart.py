"""The Helm chart (deploy/helm/orchestra): `helm lint` and `helm template` with the shipped values files, every
rendered object checked against the Kubernetes schemas (strict: no unknown field), and what the issue asks of each
object. Helm comes from `make setup` (scripts/fetch-helm.sh)."""

from __future__ import annotations

import subprocess
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.conftest import ROOT

CHART = ROOT / "deploy" / "helm" / "orchestra"
HELM = ROOT / "var" / "tools" / "helm"
KUBERNETES = "1.30.0"
VALUES = {
    "default": [],
    **{p.stem: ["-f", str(p)] for p in sorted((ROOT / "deploy" / "helm" / "values").glob("*.yaml"))},
}
CRDS = {"ServiceMonitor", "PrometheusRule"}  # the Prometheus Operator's, not in the Kubernetes schemas


def helm(*arguments: str) -> subprocess.CompletedProcess[str]:
    if not HELM.exists():
        pytest.fail(f"{HELM} is missing: run make setup (scripts/fetch-helm.sh)")
    return subprocess.run([str(HELM), *arguments], capture_output=True, text=True, timeout=120, check=False)


def rendered(*values: str) -> list[dict[str, Any]]:
    done = helm("template", "t", str(CHART), "--kube-version", KUBERNETES, *values)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


@pytest.mark.parametrize("name", VALUES)
def test_the_chart_lints_and_every_object_it_renders_is_valid_kubernetes(name: str) -> None:
    linted = helm("lint", str(CHART), "--strict", *VALUES[name])
    assert linted.returncode == 0, linted.stdout + linted.stderr
    objects = rendered(*VALUES[name])
    assert objects
    for thing in objects:
        if thing["kind"] not in CRDS:
            kubernetes_validate.validate(thing, KUBERNETES, strict=True)


def test_a_value_outside_the_schema_is_refused_by_name() -> None:
    refused = helm("lint", str(CHART), "--set", "gateway.autoscaling.targetCPU=170", "--set", "redis.backup.keep=0")
    assert refused.returncode != 0
    assert "gateway.autoscaling.targetCPU: Must be less than or equal to 100" in refused.stdout
    assert "redis.backup.keep: Must be greater than or equal to 1" in refused.stdout
    missing = helm("template", "t", str(CHART), "--kube-version", KUBERNETES, "--set", "redis.enabled=false")
    assert "redis.externalUrl is required" in missing.stderr


def test_gateway_and_server_scale_2_to_10_at_70_cpu_80_memory_with_probes_and_budgets() -> None:
    objects = rendered()
    autoscalers = by_kind(objects, "HorizontalPodAutoscaler")
    assert set(autoscalers) == {"t-orchestra-gateway", "t-orchestra-server"}
    for scaler in autoscalers.values():
        spec = scaler["spec"]
        assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 10)
        targets = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in spec["metrics"]}
        assert targets == {"cpu": 70, "memory": 80}
    deployments = by_kind(objects, "Deployment")
    gateway = deployments["t-orchestra-gateway"]["spec"]["template"]["spec"]
    container = gateway["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert gateway["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert "replicas" not in deployments["t-orchestra-gateway"]["spec"]  # the autoscaler decides
    assert {p["spec"]["minAvailable"] for p in by_kind(objects, "PodDisruptionBudget").values()} == {1}
    server = deployments["t-orchestra-server"]["spec"]["template"]["spec"]["containers"][0]
    assert server["args"][-2:] == ["--gateway", "http://t-orchestra-gateway:8700"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["REDIS_URL"] == "redis://t-orchestra-redis:6379/0"


def test_the_config_is_the_shipped_one_minus_the_pools_switched_off() -> None:
    shipped_text = (ROOT / "config" / "orchestra.yaml").read_text()
    assert (CHART / "files" / "orchestra.yaml").read_text() == shipped_text, (
        "the chart's config is a copy of config/orchestra.yaml: cp config/orchestra.yaml deploy/helm/orchestra/files/"
    )
    shipped = yaml.safe_load(shipped_text)
    [config_map] = by_kind(rendered(*VALUES["production"]), "ConfigMap").values()
    config = yaml.safe_load(config_map["data"]["orchestra.yaml"])
    assert set(config["gateway"]["pools"]) == set(shipped["gateway"]["pools"]) - {"apify", "zenrows"}
    assert config["models"] == shipped["models"]


def test_keys_come_from_a_secret_of_the_chart_or_one_named_and_never_from_the_config_map() -> None:
    listed = rendered(*VALUES["external-redis"])
    [secret] = by_kind(listed, "Secret").values()
    assert secret["stringData"]["ORCHESTRA_SERVER_KEYS"] == "acme=change-me"
    deployment = by_kind(listed, "Deployment")["t-orchestra-server"]["spec"]["template"]["spec"]["containers"][0]
    assert deployment["envFrom"] == [{"secretRef": {"name": secret["metadata"]["name"]}}]
    env = {e["name"]: e.get("value") for e in deployment["env"]}
    assert env["REDIS_URL"] == "rediss://redis.example.com:6380/0"
    assert not by_kind(listed, "StatefulSet")  # no Redis of the chart's own
    named = rendered(*VALUES["production"])
    assert not by_kind(named, "Secret")
    server = by_kind(named, "Deployment")["t-orchestra-server"]["spec"]["template"]["spec"]["containers"][0]
    assert server["envFrom"] == [{"secretRef": {"name": "orchestra-keys"}}]
    assert "change-me" not in yaml.safe_dump(by_kind(named, "ConfigMap"))


def test_redis_keeps_its_data_and_is_backed_up_nightly() -> None:
    objects = rendered()
    [redis] = by_kind(objects, "StatefulSet").values()
    assert "--appendonly" in redis["spec"]["template"]["spec"]["containers"][0]["args"]
    assert redis["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "8Gi"
    [backup] = by_kind(objects, "CronJob").values()
    assert backup["spec"]["schedule"] == "0 2 * * *"
    command = backup["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    assert "redis-cli -h t-orchestra-redis --rdb" in command
    assert "tail -n +8" in command  # seven kept


def test_only_the_server_reaches_the_gateway_and_only_the_gateway_reaches_the_internet() -> None:
    policies = by_kind(rendered(), "NetworkPolicy")
    gateway = policies["t-orchestra-gateway"]["spec"]
    [allowed] = gateway["ingress"][0]["from"]
    assert allowed["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "server"
    assert gateway["egress"] == [{}]
    server = policies["t-orchestra-server"]["spec"]
    reached = [peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
               for rule in server["egress"] for peer in rule["to"] if "podSelector" in peer]  # fmt: skip
    assert reached == ["gateway", "redis"]
    assert all("ipBlock" not in peer for rule in server["egress"] for peer in rule["to"])  # no internet by default
    with_models = by_kind(rendered(*VALUES["production"]), "NetworkPolicy")["t-orchestra-server"]["spec"]["egress"]
    assert any("ipBlock" in peer for rule in with_models for peer in rule["to"])  # models named: their port 443


def test_service_monitors_scrape_both_with_the_named_key_when_the_operator_is_there() -> None:
    assert not by_kind(rendered(), "ServiceMonitor")
    monitors = by_kind(rendered(*VALUES["production"]), "ServiceMonitor")
    assert set(monitors) == {"t-orchestra-gateway", "t-orchestra-server"}
    endpoint = monitors["t-orchestra-gateway"]["spec"]["endpoints"][0]
    assert (endpoint["path"], endpoint["interval"]) == ("/metrics", "15s")
    assert endpoint["authorization"]["credentials"] == {"name": "orchestra-keys", "key": "ORCHESTRA_METRICS_KEY"}
    for monitor in monitors.values():  # the label kube-prometheus-stack selects monitors by
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_the_prometheus_rule_holds_the_tested_alert_rules() -> None:
    assert not by_kind(rendered(), "PrometheusRule")
    [rule] = by_kind(rendered(*VALUES["production"]), "PrometheusRule").values()
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    tested = yaml.safe_load((CHART / "files" / "alerts.yaml").read_text())
    assert rule["spec"] == tested  # the very file promtool tests (tests/test_alert_rules.py)
