"""deploy/compose.yaml is what `docker compose config` would accept and what the stack needs: valid by the
compose-spec schema (check-jsonschema's vendored copy), every file it mounts present, every image pinned, every name
it refers to defined, the proxy, Prometheus and Grafana pointed at the services and ports that exist; and the files
it mounts valid for their own tools (Caddy, promtool, amtool). No Docker daemon here: the images are built by CI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "compose.yaml"
COMPOSE = yaml.safe_load(COMPOSE_FILE.read_text())  # PyYAML resolves the file's anchors and `<<` merges, as Compose
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
ORCHESTRA = {name: service for name, service in SERVICES.items() if name.startswith(("gateway-", "server-"))}
GATEWAYS = sorted(name for name in ORCHESTRA if name.startswith("gateway-"))
SERVERS = sorted(name for name in ORCHESTRA if name.startswith("server-"))
PROXY_UPSTREAMS = {"ORCHESTRA_SERVERS": SERVERS, "ORCHESTRA_GATEWAYS": GATEWAYS}


def tool(name: str) -> str:
    binary = shutil.which(name)
    if binary is None:
        pytest.fail(f"{name} is missing: make setup installs it (scripts/system-packages.sh)")
    return binary


def validate_compose(path: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_the_compose_file_is_valid_by_the_compose_spec_schema() -> None:
    checked = validate_compose(COMPOSE_FILE)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_schema_check_names_a_misspelt_key(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE_FILE.read_text().replace("    restart: unless-stopped\n", "    restrat: no\n", 1))
    checked = validate_compose(broken)
    assert checked.returncode == 1
    assert "'restrat' was unexpected" in checked.stdout


def test_the_stack_has_redis_two_gateways_two_servers_a_proxy_and_monitoring() -> None:
    assert len(GATEWAYS) == 2
    assert len(SERVERS) == 2
    assert {"redis", "proxy", "prometheus", "alertmanager", "grafana"} <= set(SERVICES)
    redis = SERVICES["redis"]
    assert "--appendonly" in redis["command"]
    assert redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    assert "--save" in redis["command"]
    assert any(volume.split(":")[1] == "/data" for volume in redis["volumes"]), "Redis data on a volume"


def test_every_image_is_pinned_and_orchestra_images_build_from_the_dockerfile() -> None:
    stages = set(re.findall(r"^FROM \S+ AS (\S+)$", (DEPLOY / "docker" / "Dockerfile").read_text(), re.MULTILINE))
    for name, service in SERVICES.items():
        if name in ORCHESTRA:
            build = service["build"]
            assert (DEPLOY / build["context"] / build["dockerfile"]).is_file(), name
            assert build["target"] in stages, f"{name}: no stage {build['target']}"
            assert service["image"].endswith(f"/{build['target']}:${{ORCHESTRA_TAG:-local}}"), name
        else:
            image = service["image"]
            assert re.search(r"@sha256:[0-9a-f]{64}$", image) or re.search(r":v?\d+\.\d+\.\d+$", image), (
                f"{name}: {image} is pinned neither by digest nor by exact version"
            )
    assert SERVICES["gateway-1"]["build"]["target"] == "gateway-browser", "the browser pool needs Chromium"
    assert SERVICES["server-1"]["build"]["target"] == "server"


def test_every_mounted_file_exists_and_every_named_thing_is_declared() -> None:
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts {source}, which does not exist"
            else:
                assert source in COMPOSE["volumes"], f"{name}: volume {source} is not declared"
        for network in service.get("networks", []):
            assert network in COMPOSE["networks"], f"{name}: network {network} is not declared"
        for dependency in service.get("depends_on", []):
            assert dependency in SERVICES, f"{name} depends on {dependency}, which is not a service"
    assert COMPOSE["networks"]["backend"]["internal"] is True, "Redis and the scrapes have no route out"
    assert "egress" not in SERVICES["redis"]["networks"]


def test_orchestra_services_share_redis_get_keys_from_the_env_file_and_name_their_hosts() -> None:
    example = (DEPLOY / ".env.example").read_text()
    declared = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", COMPOSE_FILE.read_text()))
    optional = set(re.findall(r"\$\{([A-Z0-9_]+):-", COMPOSE_FILE.read_text()))
    assert required | optional <= declared, f"not in deploy/.env.example: {(required | optional) - declared}"
    assert {"ORCHESTRA_SERVER_KEYS", "ORCHESTRA_GATEWAY_KEYS", "ORCHESTRA_GATEWAY_KEY"} <= declared
    assert re.search(r"^deploy/\.env$", (ROOT / ".gitignore").read_text(), re.MULTILINE), "deploy/.env git-ignored"
    for name, service in ORCHESTRA.items():
        assert service["env_file"] == [{"path": ".env", "required": True}], name
        assert service["environment"]["REDIS_URL"] == "redis://redis:6379/0", name
        assert service["depends_on"]["redis"]["condition"] == "service_healthy", name
        settings = {variable for variable in service["environment"] if variable.endswith("__REQUIRE_KEY")}
        secrets = [v for v in set(service["environment"]) - settings if re.search(r"_KEYS?$|TOKEN|PASSWORD", v)]
        assert not secrets, f"{name}: keys come from deploy/.env only, not {secrets}"
        assert service["cap_drop"] == ["ALL"], name
    for name in GATEWAYS:
        hosts = yaml.safe_load(SERVICES[name]["environment"]["ORCHESTRA_GATEWAY__HTTP__ALLOWED_HOSTS"])
        assert {"proxy:8700", f"{name}:8700"} <= set(hosts), name
    for name in SERVERS:
        hosts = yaml.safe_load(SERVICES[name]["environment"]["ORCHESTRA_SERVER__HTTP__ALLOWED_HOSTS"])
        assert f"{name}:8800" in hosts, name
        assert SERVICES[name]["command"][-2:] == ["--gateway", "http://proxy:8700"], "servers reach gateways via proxy"


def test_published_ports_are_loopback_by_default() -> None:
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            address = port.rsplit(":", 2)[0]
            assert address in ("127.0.0.1", "${ORCHESTRA_BIND:-127.0.0.1}"), f"{name} publishes {port}"
    assert not any("ports" in service for name, service in SERVICES.items() if name in ORCHESTRA or name == "redis")


def test_the_proxy_config_is_valid_for_caddy_and_points_at_the_replicas(tmp_path: Path) -> None:
    proxy = SERVICES["proxy"]
    for variable, replicas in PROXY_UPSTREAMS.items():
        port = "8800" if variable == "ORCHESTRA_SERVERS" else "8700"
        assert proxy["environment"][variable].split() == [f"{name}:{port}" for name in replicas]
    caddyfile = DEPLOY / "compose" / "Caddyfile"
    env = {**os.environ, **proxy["environment"], "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    checked = subprocess.run(
        [tool("caddy"), "validate", "--config", str(caddyfile), "--adapter", "caddyfile"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert "Valid configuration" in checked.stdout + checked.stderr


def test_prometheus_scrapes_every_replica_and_loads_the_charts_alert_rules(tmp_path: Path) -> None:
    config_file = DEPLOY / "compose" / "prometheus.yml"
    config = yaml.safe_load(config_file.read_text())
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    metrics_port = SERVICES["gateway-1"]["environment"]["ORCHESTRA_GATEWAY__METRICS__PORT"]
    assert targets["orchestra-gateway"] == [f"{name}:{metrics_port}" for name in GATEWAYS]
    assert targets["orchestra-server"] == [f"{name}:8800" for name in SERVERS]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    mounts = dict(volume.split(":")[:2] for volume in SERVICES["prometheus"]["volumes"])
    assert mounts["./helm/orchestra/files/alerts.yaml"] in config["rule_files"], "the chart's rules, one copy"
    # promtool checks the rule files too, at the paths the container sees: point them at the repository's copy.
    config["rule_files"] = [str(DEPLOY / "helm" / "orchestra" / "files" / "alerts.yaml")]
    local = tmp_path / "prometheus.yml"
    local.write_text(yaml.safe_dump(config))
    checked = subprocess.run([tool("promtool"), "check", "config", str(local)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 7 rules found" in checked.stdout


def test_alertmanager_config_is_valid() -> None:
    config = DEPLOY / "compose" / "alertmanager.yml"
    checked = subprocess.run([tool("amtool"), "check-config", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout
    assert yaml.safe_load(config.read_text())["route"]["receiver"] == "orchestra-team"


def test_grafana_is_provisioned_with_the_dashboard_and_the_stacks_prometheus() -> None:
    provisioning = DEPLOY / "compose" / "grafana" / "provisioning"
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())["datasources"]
    assert source["type"] == "prometheus"
    assert source["isDefault"] is True
    assert source["url"] == "http://prometheus:9090"
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "orchestra.yaml").read_text())["providers"]
    mounts = dict(volume.split(":")[:2] for volume in SERVICES["grafana"]["volumes"])
    dashboard = mounts["./monitoring/grafana/orchestra.json"]
    assert Path(dashboard).parent == Path(provider["options"]["path"])
    assert mounts["./compose/grafana/provisioning"] == "/etc/grafana/provisioning"
    assert SERVICES["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
