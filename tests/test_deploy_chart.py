"""The Helm chart (deploy/helm/orchestra): `helm lint` and `helm template` with the shipped values files, every
rendered object checked against the Kubernetes schemas (strict: no unknown field), and what the issue asks of each
object. Helm comes from `make setup` (scripts/fetch-helm.sh)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from orchestra.core.settings import load_settings
from orchestra.gateway.admission import Admission
from orchestra.server.auth import Access
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
    assert "redis.enabled is false: set redis.externalUrl" in missing.stderr


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
    disabled = yaml.safe_load((ROOT / "deploy" / "helm" / "values" / "production.yaml").read_text())["gateway"][
        "disabledPools"
    ]
    assert {"apify", "zenrows", "crm", "warehouse"} <= set(disabled)
    assert set(config["gateway"]["pools"]) == set(shipped["gateway"]["pools"]) - set(disabled)
    assert config["models"] == shipped["models"]


def test_switching_off_the_pools_others_replace_leaves_a_config_orchestra_loads(tmp_path: Path) -> None:
    objects = rendered("--set", "gateway.disabledPools={crm,design,warehouse,deploy}")
    [config_map] = by_kind(objects, "ConfigMap").values()
    config = tmp_path / "orchestra.yaml"
    config.write_text(config_map["data"]["orchestra.yaml"])
    pools = load_settings(config).gateway.pools  # raises on a pool that replaces one no longer there
    assert not {"crm", "design", "warehouse", "deploy"} & set(pools)
    assert "design" not in pools["figma"].replaces


def test_keys_come_from_a_secret_of_the_chart_or_one_named_and_never_from_the_config_map() -> None:
    listed = rendered(*VALUES["external-redis"])
    [secret] = by_kind(listed, "Secret").values()
    assert secret["stringData"]["ORCHESTRA_SERVER_KEYS"] == "acme=change-me"
    deployment = by_kind(listed, "Deployment")["t-orchestra-server"]["spec"]["template"]["spec"]["containers"][0]
    assert deployment["envFrom"] == [{"secretRef": {"name": secret["metadata"]["name"]}}]
    env = {e["name"]: e.get("value") for e in deployment["env"]}
    assert "REDIS_URL" not in env  # with its password, it comes from the Secret
    assert secret["stringData"]["REDIS_URL"].startswith("rediss://:change-me@")
    assert "change-me@" not in yaml.safe_dump(by_kind(listed, "Deployment"))
    assert not by_kind(listed, "StatefulSet")  # no Redis of the chart's own
    egress = by_kind(listed, "NetworkPolicy")["t-orchestra-server"]["spec"]["egress"]
    assert {"to": [{"ipBlock": {"cidr": "10.2.0.5/32"}}]} in egress  # the server reaches the external Redis
    plain = rendered("--set", "redis.enabled=false", "--set", "redis.externalUrl=redis://redis.internal:6379/0")
    server = by_kind(plain, "Deployment")["t-orchestra-server"]["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "REDIS_URL", "value": "redis://redis.internal:6379/0"} in server["env"]
    for refused, why in (
        ("redis.externalUrl=rediss://:S3cret@redis.example.com:6380/0", "holds credentials"),
        ("redis.externalUrl=redis://redis.example.com:6379/0?Password=S3cret", "holds credentials"),
        ("redis.externalUrl=", "set redis.externalUrl, or REDIS_URL in the keys' Secret"),
    ):
        failed = helm("template", "t", str(CHART), "--kube-version", "1.30.0", "--set", "redis.enabled=false",
                      "--set", refused)  # fmt: skip
        assert failed.returncode != 0
        assert why in failed.stderr
        assert "S3cret" not in failed.stderr
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
    production = by_kind(rendered(*VALUES["production"]), "NetworkPolicy")["t-orchestra-server"]["spec"]["ingress"]
    scrapers = [peer for rule in production for peer in rule["from"]]  # the Ingress controller and Prometheus
    assert {peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for peer in scrapers} == {
        "ingress-nginx",
        "monitoring",
    }


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


@pytest.mark.parametrize("pod_ip", ["10.244.1.7", "fd00:10:244::7"])
@pytest.mark.parametrize("component", ["gateway", "server"])
def test_each_pod_starts_on_0_0_0_0_and_answers_its_probes_and_scrapes_by_pod_ip_but_no_other_host(
    component: str, pod_ip: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The settings each container gets, read by the real loaders: the bind is allowed, and the Host headers the
    kubelet's probes and Prometheus send (the pod's IP), the Service's name and an Ingress host pass, others not."""
    objects = rendered("--set", f"{component}.allowedHosts[0]=chat.example.com")
    spec = by_kind(objects, "Deployment")[f"t-orchestra-{component}"]["spec"]["template"]["spec"]
    [container] = spec["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert next(e for e in container["env"] if e["name"] == "POD_IP")["valueFrom"]["fieldRef"]["fieldPath"] == (
        "status.podIP"
    )
    section = component.upper()
    hosts = env[f"ORCHESTRA_{section}__HTTP__ALLOWED_HOSTS"].replace("$(POD_IP)", pod_ip)  # as the kubelet does
    monkeypatch.setenv(f"ORCHESTRA_{section}__HTTP__ALLOWED_HOSTS", hosts)
    settings = load_settings(ROOT / "config" / "orchestra.yaml")
    port = container["ports"][0]["containerPort"]
    probe = f"[{pod_ip}]:{port}" if ":" in pod_ip else f"{pod_ip}:{port}"
    if component == "server":
        access = Access(settings.server, {"ORCHESTRA_SERVER_KEYS": "acme=k"})
        access.check_bind("0.0.0.0")  # raises when the bind would go unprotected

        def allowed(host: str) -> bool:
            return access.host_allowed(host, "0.0.0.0")
    else:
        admission = Admission(settings.gateway.model_copy(update={"host": "0.0.0.0"}), {})
        assert not admission.wildcard_bind_without_hosts

        def allowed(host: str) -> bool:
            return admission.host_allowed(host)

    for host in (probe, f"t-orchestra-{component}:{port}", "chat.example.com"):
        assert allowed(host), host
    for host in ("evil.example", "10.244.1.8:8800", "chat.example.com.evil.example"):
        assert not allowed(host), host


def test_a_client_stays_on_one_gateway_pod() -> None:
    service = by_kind(rendered(), "Service")["t-orchestra-gateway"]
    assert service["spec"]["sessionAffinity"] == "ClientIP"  # held calls and streams live in one gateway process
    assert service["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"] == 600


def test_scrape_jobs_are_named_as_the_alerts_and_dashboard_expect_whatever_the_release() -> None:
    objects = rendered(*VALUES["production"])
    services = by_kind(objects, "Service")
    for monitor in by_kind(objects, "ServiceMonitor").values():
        selector = monitor["spec"]["selector"]["matchLabels"].items()
        [service] = [s for s in services.values() if s["metadata"]["labels"].items() >= selector]
        job = service["metadata"]["labels"][monitor["spec"]["jobLabel"]]
        assert job in ("orchestra-gateway", "orchestra-server")
    rules = yaml.safe_load((CHART / "files" / "alerts.yaml").read_text())
    down = next(rule for group in rules["groups"] for rule in group["rules"] if rule["alert"] == "OrchestraReplicaDown")
    assert 'job=~"orchestra-(gateway|server)"' in down["expr"]
