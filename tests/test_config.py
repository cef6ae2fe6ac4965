"""Loading config/orchestra.yaml: good files load, bad files are refused with the field, the value and the fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestra.core.envref import MissingEnvironmentError, expand_env
from orchestra.core.settings import ConfigError, load_settings
from orchestra.core.units import parse_duration, parse_rate
from orchestra.gateway.config import PoolConfig
from orchestra.gateway.router import namespaced_name

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "orchestra.yaml"
    path.write_text(text)
    return path


def test_the_shipped_config_loads() -> None:
    settings = load_settings(ROOT / "config" / "orchestra.yaml")
    assert settings.gateway.host == "127.0.0.1"
    assert settings.gateway.pools


def test_units_in_config_values() -> None:
    config = PoolConfig.model_validate(
        {"tier": "web", "command": "npx server --flag 'two words'", "timeout": "1.5m", "rate_limit": "120/minute"}
    )
    assert config.command == ["npx", "server", "--flag", "two words"]
    assert config.timeout == 90.0
    assert config.rate_limit.requests.per_second == 2.0
    assert parse_duration("250ms") == 0.25
    assert parse_rate("10/seconds").count == 10


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("gateway:\n  pools:\n    web:\n      tier: web\n      command: x\n      lb_policy: FASTEST\n",
         r"gateway\.pools\.web\.lb_policy = 'FASTEST': Input should be 'LEAST_REQUEST', 'ROUND_ROBIN' or 'RANDOM'"),
        ("gateway:\n  pools:\n    web:\n      tier: web\n      command: x\n      timeout: soon\n",
         r"gateway\.pools\.web\.timeout = 'soon': 'soon' is not a duration; write it like '30s'"),
        ("gateway:\n  pools:\n    web:\n      tier: web\n      command: x\n      replicas: {min: 5, max: 2}\n",
         r"replicas\.min \(5\) is above replicas\.max \(2\); raise max or lower min"),
        ("gateway:\n  pools:\n    web:\n      tier: web\n",
         r"a pool needs exactly one upstream: `command` \(stdio\), `url` or `urls` \(HTTP\)"),
        ("gateway:\n  pools:\n    Web_Pool:\n      tier: web\n      command: x\n",
         r"gateway\.pools\.Web_Pool: the name 'Web_Pool' is not allowed: .*should match pattern "
         r"'\^\[a-z\]\[a-z0-9-\]\{0,23\}\$'"),
        ("gateway:\n  pools:\n    web:\n      tier: web\n      command: x\n      replica: 3\n",
         r"gateway\.pools\.web\.replica: unknown field; remove it or check its spelling"),
        ("gateway:\n  pools:\n    web:\n      tier: web\n      command: x\n      rate_limit: lots\n",
         r"'lots' is not a rate; write it like '1000/minute'"),
        ("gateway:\n  pools:\n    web:\n      tier: shop\n      command: x\n",
         r"gateway\.pools\.web\.tier = 'shop': Input should be 'web', 'design', 'bi' or 'ai'"),
        ("gateway:\n  pools: [\n", r"line \d+, column \d+: not valid YAML"),
        ("- just\n- a list\n", r"the top level must be a mapping"),
    ],
)  # fmt: skip
def test_bad_files_are_refused_with_field_value_and_fix(tmp_path: Path, yaml_text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(write(tmp_path, yaml_text))
    assert re.search(expected, str(refused.value)), str(refused.value)


def test_missing_file_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="pass --config FILE"):
        load_settings(tmp_path / "absent.yaml")


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRA_GATEWAY__PORT", "9123")
    settings = load_settings(write(tmp_path, "gateway:\n  port: 8000\n"))
    assert settings.gateway.port == 9123


def test_env_references_are_expanded_only_when_used_and_missing_ones_are_named() -> None:
    assert expand_env("Bearer ${TOKEN}", {"TOKEN": "s3cret"}) == "Bearer s3cret"
    assert expand_env("${REDIS_URL:-}", {}) == ""
    assert expand_env("${HOST:-127.0.0.1}:1", {}) == "127.0.0.1:1"
    with pytest.raises(MissingEnvironmentError, match="HUBSPOT_TOKEN"):
        expand_env("${HUBSPOT_TOKEN}", {})
    pool = PoolConfig.model_validate(
        {"tier": "bi", "command": ["hubspot-mcp"], "env": {"PRIVATE_APP_ACCESS_TOKEN": "${HUBSPOT_TOKEN}"}}
    )
    assert pool.missing_env({}) == ["HUBSPOT_TOKEN"]
    assert pool.missing_env({"HUBSPOT_TOKEN": "x"}) == []
    assert "${HUBSPOT_TOKEN}" in pool.model_dump_json()  # the secret itself is never held in settings


def test_namespaced_names_fit_the_rule_and_never_collide() -> None:
    rule = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
    taken: set[str] = set()
    names = [
        namespaced_name("web", "browser.navigate", taken),
        namespaced_name("web", "browser/navigate", taken | {"web__browser_navigate"}),
        namespaced_name("warehouse", "x" * 80, taken),
        namespaced_name("warehouse", "x" * 81, taken),
    ]
    assert all(rule.match(name) for name in names)
    assert names[0] == "web__browser_navigate"
    assert len(set(names)) == 4


def test_the_config_reference_in_docs_is_up_to_date() -> None:
    from orchestra.core.config_docs import update_references

    assert update_references(ROOT / "docs", write=False) == []
