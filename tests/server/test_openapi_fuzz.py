"""Schemathesis over the server's own OpenAPI document: requests of every valid shape (and edge values) get no 5xx.

A real server process with the test graphs and a tenant key; bounded examples per operation and a fixed seed, so
the run is reproducible and stays short.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT, free_port


def test_no_request_the_openapi_document_allows_gets_a_server_error(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "ORCHESTRA_SERVER_KEYS": "acme=fuzz-key"}
    env.pop("REDIS_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.server.serve_process", str(port), str(tmp_path / "data"), "5"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=(tmp_path / "server.log").open("wb"),
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/ok", timeout=1).status_code == 200:
                    break
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        fuzz = subprocess.run(
            [str(Path(sys.executable).parent / "st"), "run", f"{base}/openapi.json", "--checks", "not_a_server_error",
             "--max-examples", "6", "--seed", "20261130", "--request-timeout", "20", "-H", "X-Api-Key: fuzz-key",
             "--generation-deterministic", "--suppress-health-check", "all"],
            cwd=tmp_path, capture_output=True, text=True, timeout=240,
        )  # fmt: skip
        report = fuzz.stdout + fuzz.stderr
        assert fuzz.returncode == 0, report[-6000:]
        assert "Server error" not in report
        generated = re.search(r"(\d+) generated, (\d+) passed", report)
        assert generated, report[-3000:]
        assert int(generated[1]) == int(generated[2]) > 500
        assert server.poll() is None  # still serving after all of it
        assert httpx.get(f"{base}/ok", timeout=5).status_code == 200
    finally:
        server.terminate()
        server.wait(30)
