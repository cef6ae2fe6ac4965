"""Running `orchestra gateway` as a real process, the way an operator does."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.conftest import ROOT, free_port


@contextlib.contextmanager
def gateway_process(
    tmp_path: Path, pools: dict[str, Any], env: dict[str, str] | None = None, **settings: Any
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`orchestra gateway --config FILE --port P` until the block ends; yields its URL and process."""
    port = free_port()
    config = tmp_path / f"gateway-{port}.yaml"
    config.write_text(yaml.safe_dump({"gateway": {"pools": pools, **settings}}))
    log = (tmp_path / f"gateway-{port}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestra", "gateway", "--config", str(config), "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / f"gateway-{port}.log").read_text()
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "gateway did not become ready"
            time.sleep(0.1)
        yield base, process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(30)
        log.close()
