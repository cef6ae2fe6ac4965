"""IBM's MCP ContextForge gateway in front of the same upstream, for a side-by-side row in the benchmark.

It lives in its own virtualenv under var/ (its dependencies must not mix with ours), is configured offline
(its own secret and token tools, SQLite, localhost upstreams allowed, its rate limit off) and runs in its
faster mode, `USE_STATEFUL_SESSIONS=true`: one upstream session per client session instead of one per call.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench.processes import process

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "var" / "contextforge-venv"
VERSION = "1.0.7.post20260921"
ADMIN = "admin@example.com"


class Unavailable(RuntimeError):
    """ContextForge could not be installed or started here; the benchmark reports the reason."""


def ensure_installed() -> Path:
    binary = VENV / "bin" / "mcpgateway"
    if not binary.exists():
        subprocess.run(["python3", "-m", "venv", str(VENV)], check=True)
        install = subprocess.run(
            [str(VENV / "bin" / "pip"), "install", "--quiet", f"mcp-contextforge-gateway=={VERSION}"],
            capture_output=True,
            text=True,
        )
        if install.returncode != 0:
            raise Unavailable(f"pip install mcp-contextforge-gateway=={VERSION} failed: {install.stderr[-300:]}")
    return binary


def _secrets(work: Path) -> dict[str, str]:
    target = work / "contextforge-secrets.env"
    subprocess.run(
        [str(VENV / "bin" / "python"), "-m", "mcpgateway.scripts.init_secrets", "--output", str(target), "--force"],
        check=True,
        capture_output=True,
        cwd=work,
    )
    pairs = (line.split("=", 1) for line in target.read_text().splitlines() if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


@contextlib.contextmanager
def contextforge(upstream: str, work: Path, port: int) -> Iterator[tuple[str, dict[str, str], int]]:
    """Start ContextForge, register `upstream`, yield (MCP URL of a virtual server, auth headers, pid)."""
    binary = ensure_installed()
    env = {
        **os.environ,
        **_secrets(work),
        "HOST": "127.0.0.1", "PORT": str(port), "DATABASE_URL": f"sqlite:///{work / 'contextforge.db'}",
        "ENVIRONMENT": "development", "PLATFORM_ADMIN_EMAIL": ADMIN, "MCPGATEWAY_UI_ENABLED": "false",
        "MCPGATEWAY_ADMIN_API_ENABLED": "true", "AUTH_REQUIRED": "true", "SSRF_ALLOW_LOCALHOST": "true",
        "PLUGINS_ENABLED": "false", "OBSERVABILITY_ENABLED": "false", "OTEL_ENABLE_OBSERVABILITY": "false",
        "CACHE_TYPE": "memory", "RATE_LIMITING_ENABLED": "false", "MCPGATEWAY_CATALOG_ENABLED": "false",
        "LLMCHAT_ENABLED": "false", "LOG_LEVEL": "ERROR", "USE_STATEFUL_SESSIONS": "true",
    }  # fmt: skip
    token = subprocess.run(
        [str(VENV / "bin" / "python"), "-m", "mcpgateway.utils.create_jwt_token", "--username", ADMIN,
         "--exp", "120", "--secret", env["JWT_SECRET_KEY"]],
        check=True, capture_output=True, text=True, env=env, cwd=work,
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    headers = {"authorization": f"Bearer {token}"}
    argv = [str(binary), "--host", "127.0.0.1", "--port", str(port)]
    with process(argv, env, work / "contextforge.log", cwd=work) as child:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            if child.poll() is not None or time.monotonic() > deadline:
                raise Unavailable(f"ContextForge did not start; see {work / 'contextforge.log'}")
            time.sleep(0.2)
        with httpx.Client(base_url=base, headers=headers, timeout=30) as api:
            gateway = {"name": "everything", "url": upstream, "transport": "STREAMABLEHTTP"}
            api.post("/v1/gateways", json=gateway).raise_for_status()
            tools = [t["id"] for t in api.get("/v1/tools").json() if t["name"] == "everything-echo"]
            server = api.post("/v1/servers", json={"server": {"name": "bench", "associated_tools": tools}})
            server.raise_for_status()
        yield f"{base}/servers/{server.json()['id']}/mcp", headers, child.pid
