"""Monitoring with a real Prometheus (Debian's `prometheus`) on 127.0.0.1: it scrapes the session's real gateway and
a real `orchestra serve` while they do the demo's jobs, every PromQL expression of the Grafana dashboard returns
data, and the "replica down" alert (its `for:` shortened here) fires when the server is SIGKILLed and resolves when
it is back."""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from langgraph_sdk import get_client

from tests.conftest import ROOT, free_port
from tests.sandbox.conftest import SERVER_KEY, Sandbox, orchestra_serve, sandbox_gateway

pytestmark = pytest.mark.integration

DASHBOARD = ROOT / "deploy" / "monitoring" / "grafana" / "orchestra.json"
ALERTS = ROOT / "deploy" / "helm" / "orchestra" / "files" / "alerts.yaml"


def dashboard_expressions() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def prometheus_config(work: Path, gateway: str, server: str) -> Path:
    rules = yaml.safe_load(ALERTS.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule["for"] = "2s"  # the test's own values: an alert in seconds, not minutes
    (work / "rules.yaml").write_text(yaml.safe_dump(rules))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "900ms"},
        "rule_files": [str(work / "rules.yaml")],
        "scrape_configs": [
            {"job_name": "orchestra-gateway", "static_configs": [{"targets": [httpx.URL(gateway).netloc.decode()]}]},
            {"job_name": "orchestra-server", "authorization": {"credentials": SERVER_KEY},
             "static_configs": [{"targets": [httpx.URL(server).netloc.decode()]}]},
        ],
    }  # fmt: skip
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    return work / "prometheus.yml"


async def query(http: httpx.AsyncClient, expression: str) -> list[dict[str, Any]]:
    answer = (await http.get("/api/v1/query", params={"query": expression})).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


async def alert_state(http: httpx.AsyncClient, name: str, job: str) -> str | None:
    alerts = (await http.get("/api/v1/alerts")).json()["data"]["alerts"]
    states = [a["state"] for a in alerts if a["labels"]["alertname"] == name and a["labels"].get("job") == job]
    return states[0] if states else None


async def until(check: Any, seconds: float, what: str) -> Any:
    for _ in range(int(seconds * 4)):
        if outcome := await check():
            return outcome
        await asyncio.sleep(0.25)
    pytest.fail(f"{what} did not happen within {seconds:g} s")


async def demo_jobs(url: str) -> None:
    """The demo's jobs through the server: a sales brief, a market sizing, and a deployment paused for approval and
    approved (two runs of design_to_deployment, so its durations move between scrapes)."""
    client = get_client(url=url, api_key=SERVER_KEY)
    for task in ("Research Copealo Works for our sales call tomorrow", "Size the telehealth market"):
        thread = await client.threads.create()
        await client.runs.wait(
            thread["thread_id"], "supervisor", input={"messages": [{"role": "user", "content": task}]}
        )
    thread = await client.threads.create()
    deploy = {"messages": [{"role": "user", "content": "Deploy the pricing page from Figma"}]}
    paused = await client.runs.wait(thread["thread_id"], "supervisor", input=deploy)
    assert paused.get("__interrupt__"), paused
    await asyncio.sleep(2.5)  # the paused run's metrics scraped before the resumed run's
    done = await client.runs.wait(thread["thread_id"], "supervisor", command={"resume": {"action": "approve"}})
    assert "Deployed as" in done["answer"]


async def test_prometheus_scrapes_a_demo_run_answers_every_dashboard_query_and_sees_a_replica_go_down(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is missing: make setup installs Debian's prometheus package")
    server_port = free_port()
    config_file = ROOT / "config" / "orchestra.yaml"
    # A gateway of this test's own: the server it kills leaves browser sessions behind, which must not fill the
    # session's shared gateway.
    async with (
        sandbox_gateway(sandbox.paths.root.parent, sandbox.host_url) as (gateway_url, _),
        orchestra_serve(sandbox, config_file, port=server_port, gateway_url=gateway_url) as served,
    ):
        port = free_port()
        prometheus = await asyncio.create_subprocess_exec(
            binary, f"--config.file={prometheus_config(tmp_path, gateway_url, served.url)}",
            f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
            stdout=subprocess.DEVNULL, stderr=(tmp_path / "prometheus.log").open("wb"),
        )  # fmt: skip
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:

                async def ready() -> bool:
                    try:
                        return (await http.get("/-/ready")).status_code == 200
                    except httpx.HTTPError:
                        return False

                await until(ready, 30, "Prometheus ready")
                await until(lambda: query(http, 'up{job="orchestra-server"} == 1'), 30, "the server scraped")
                await demo_jobs(served.url)

                for expression in dashboard_expressions():

                    async def answers(expression: str = expression) -> bool:
                        found = await query(http, expression)
                        return any(not math.isnan(float(sample["value"][1])) for sample in found)

                    await until(answers, 30, f"data for the dashboard's {expression!r}")

                served.process.send_signal(signal.SIGKILL)  # a replica dies
                await served.process.wait()

                async def firing() -> bool:
                    return await alert_state(http, "OrchestraReplicaDown", "orchestra-server") == "firing"

                await until(firing, 30, "OrchestraReplicaDown firing")
                async with orchestra_serve(sandbox, config_file, port=server_port, gateway_url=gateway_url):

                    async def resolved() -> bool:
                        return await alert_state(http, "OrchestraReplicaDown", "orchestra-server") is None

                    await until(resolved, 30, "OrchestraReplicaDown resolved")
        finally:
            prometheus.terminate()
            await prometheus.wait()
