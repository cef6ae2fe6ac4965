"""The alert rules (deploy/helm/orchestra/files/alerts.yaml) with Prometheus' own tool: `promtool check rules`, and
`promtool test rules` on tests/prometheus/alerts_test.yaml (each alert fires on what should fire it, not on its
healthy neighbours). promtool comes with Debian's `prometheus` package (`make setup`)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.conftest import ROOT

RULES = ROOT / "deploy" / "helm" / "orchestra" / "files" / "alerts.yaml"
TESTS = ROOT / "tests" / "prometheus" / "alerts_test.yaml"


def promtool(*arguments: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.fail("promtool is missing: make setup installs Debian's prometheus package")
    return subprocess.run([tool, *arguments], capture_output=True, text=True, timeout=120, cwd=TESTS.parent)


def test_the_rules_are_valid() -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 7 rules found" in checked.stdout


def test_every_alert_fires_on_its_cause_and_only_there() -> None:
    tested = promtool("test", "rules", TESTS.name)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    alerts = {rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]}
    covered = {case["alertname"] for test in yaml.safe_load(TESTS.read_text())["tests"]
               for case in test["alert_rule_test"]}  # fmt: skip
    assert covered == alerts  # no alert without a test


def test_every_alert_has_a_runbook_entry() -> None:
    runbook = (ROOT / "docs" / "operations.md").read_text()
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            assert f"### {rule['alert']}" in runbook, rule["alert"]
            assert rule["annotations"]["runbook"] == f"docs/operations.md#{rule['alert'].lower()}"
