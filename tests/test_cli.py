"""The `orchestra` command as a user runs it, and the demo the README starts with."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from orchestra.graphs.triage import triage
from tests.conftest import ROOT, free_port


def orchestra(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestra", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_route_prints_the_triage_contract() -> None:
    result = orchestra("route", "--json", "Research brurex.example for our sales call tomorrow")
    assert result.returncode == 0
    decision = triage("Research brurex.example for our sales call tomorrow")
    assert json.loads(result.stdout) == {
        "domain": "bi",
        "complexity": "high",
        "workflow": "sales_intelligence_research",
        "confidence": decision.confidence,
    }


def test_help_starts_with_a_working_example() -> None:
    result = orchestra("--help")
    assert result.returncode == 0
    assert "Example: orchestra gateway" in result.stdout
    for command in ("gateway", "status", "tools", "config", "run", "route", "sandbox"):
        assert command in result.stdout


def test_gateway_refuses_a_bad_config_with_the_field_and_fix(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("gateway:\n  pools:\n    web:\n      tier: web\n      command: x\n      lb_policy: FASTEST\n")
    result = orchestra("gateway", "--config", str(bad))
    assert result.returncode == 2
    assert "gateway.pools.web.lb_policy = 'FASTEST'" in result.stderr
    assert "LEAST_REQUEST" in result.stderr


def test_config_check_lists_the_shipped_pools() -> None:
    result = orchestra("config", "check", "--config", "config/orchestra.yaml")
    assert result.returncode == 0
    assert "everything: tier=ai upstream=stdio session=shared on" in result.stdout
    assert "hubspot: tier=bi upstream=stdio session=shared off (set HUBSPOT_ACCESS_TOKEN to turn it on)" in (
        result.stdout
    )
    assert "config OK" in result.stdout


def test_tool_call_with_bad_arguments_or_no_gateway_says_what_to_do() -> None:
    not_json = orchestra("tools", "call", "echo", "{oops", "--pool", "everything")
    assert not_json.returncode == 2
    assert "arguments are not JSON" in not_json.stderr
    nobody = orchestra("tools", "call", "echo", "{}", "--gateway", f"http://127.0.0.1:{free_port()}")
    assert nobody.returncode == 1
    assert "no gateway answers there" in nobody.stderr


def test_the_demo_runs_end_to_end(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ORCHESTRA_DEMO_PORT": str(free_port()),
        "ORCHESTRA_DATA_DIR": str(tmp_path),
        "ORCHESTRA_SANDBOX__PORT": str(free_port()),
    }
    try:
        result = subprocess.run(
            ["bash", "scripts/demo.sh"], cwd=ROOT, capture_output=True, text=True, timeout=600, env=env
        )
    finally:
        subprocess.run([sys.executable, "-m", "orchestra", "sandbox", "down"], cwd=ROOT, env=env, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sandbox up: seed 42" in result.stdout
    assert "# Sales brief: " in result.stdout  # the headline task's brief
    assert "Offline mode: no model was used" in result.stdout
    assert "== headline task wall time: " in result.stdout
    for pool in ("browser", "fetch", "crm", "enrichment", "social", "warehouse", "design", "deploy", "models"):
        assert f"== {pool}: " in result.stdout
    assert "Echo: hello from Orchestra" in result.stdout
    assert "Pricing" in result.stdout
    assert "mcp_request_duration_seconds_count" in result.stdout
    assert "gateway refused" not in result.stderr
    assert "The sandbox host is still running at" in result.stdout  # and how to stop it, and how to chat
    assert "orchestra serve" in result.stdout
    status = orchestra("sandbox", "status", env=env)
    assert re.search(r"world: seed 42; 200 companies, \d{1,3}(,\d{3})* people", status.stdout), status.stdout
    assert "{" not in status.stdout


def test_run_uses_the_gateway_named_in_the_environment(tmp_path: Path) -> None:
    gateway = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = orchestra("run", "Research copealo.example for our sales call", env={"ORCHESTRA_GATEWAY_URL": gateway,
                                                              "ORCHESTRA_DATA_DIR": str(tmp_path)})  # fmt: skip
    assert result.returncode == 4, result.stderr
    assert f"The gateway at {gateway} is not answering" in result.stderr
    assert "starting the gateway for this run" not in result.stderr
