"""Loading `config/orchestra.yaml` into one typed settings object.

Environment variables `ORCHESTRA_<SECTION>__<FIELD>` override the file (e.g. `ORCHESTRA_GATEWAY__PORT=9000`).
A bad file is refused with the field, the value and the fix.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from orchestra.core.models_config import ModelsConfig
from orchestra.gateway.config import GatewayConfig
from orchestra.graphs.config import RoutingConfig
from orchestra.sandbox.config import SandboxConfig
from orchestra.server.config import ServerConfig

DEFAULT_CONFIG = Path("config/orchestra.yaml")


class ConfigError(Exception):
    """The config file cannot be used; the message says where and how to fix it."""


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "orchestra"


class OrchestraSettings(BaseSettings):
    """Everything Orchestra is configured with."""

    model_config = SettingsConfigDict(env_prefix="ORCHESTRA_", env_nested_delimiter="__", extra="forbid", frozen=True)

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where Orchestra keeps its state: sandbox world, checkpoints, logs, reports.",
    )
    gateway: GatewayConfig = Field(default_factory=GatewayConfig, description="The pooled MCP gateway.")
    models: ModelsConfig = Field(default_factory=ModelsConfig, description="LLM tiers, budgets, call log.")
    routing: RoutingConfig = Field(default_factory=RoutingConfig, description="Triage and approvals.")
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig, description="The embedded demo world.")
    server: ServerConfig = Field(
        default_factory=ServerConfig, description="`orchestra serve`: threads and runs over HTTP."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the file (the file arrives as init values).
        return env_settings, init_settings


def project_root() -> Path:
    """The folder holding `node_modules/` and `config/`: the checkout Orchestra runs from."""
    return Path(__file__).resolve().parents[2]


def runtime_environment(
    settings: OrchestraSettings, environ: dict[str, str] | None = None, config_path: Path | None = None
) -> dict[str, str]:
    """The environment pools expand `${VAR}` from: the process's own, plus where Orchestra's parts are.

    Config files can then say `${ORCHESTRA_PYTHON} -m ...`, `${ORCHESTRA_BIN}/<console script>` or
    `${ORCHESTRA_HOME}/node_modules/.bin/...` and work from any virtualenv and any working directory.
    Values already set in the environment win.
    """
    defaults = {
        "ORCHESTRA_PYTHON": sys.executable,
        "ORCHESTRA_BIN": str(Path(sys.executable).parent),
        "ORCHESTRA_HOME": str(project_root()),
        "ORCHESTRA_DATA_DIR": str(settings.data_dir),
        "ORCHESTRA_SANDBOX_URL": settings.sandbox.base_url,
        "ORCHESTRA_CONFIG": str((config_path or Path(os.environ.get("ORCHESTRA_CONFIG") or DEFAULT_CONFIG)).resolve()),
    }
    return {**defaults, **(dict(os.environ) if environ is None else environ)}


def load_settings(path: Path | str | None = None) -> OrchestraSettings:
    """Settings from `path` (default `config/orchestra.yaml`, or `$ORCHESTRA_CONFIG`)."""
    path = Path(path or os.environ.get("ORCHESTRA_CONFIG") or DEFAULT_CONFIG)
    raw = _read_yaml(path)
    try:
        return OrchestraSettings(**raw)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(path, raw, exc)) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ConfigError(f"{path}: no such config file; pass --config FILE or create {DEFAULT_CONFIG}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = getattr(exc, "problem", exc)
        raise ConfigError(f"{path}:{line}: not valid YAML ({problem}); fix the syntax there") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping of sections (gateway:, ...), not {type(data).__name__}"
        )
    return data


def describe_validation_error(path: Path, raw: dict[str, Any], exc: ValidationError) -> str:
    """One line per problem: the field's dotted path, the value found, what is expected."""
    lines = [f"{path}: {exc.error_count()} problem(s) in the config file:"]
    for error in exc.errors(include_url=False):
        location = ".".join(str(part) for part in error["loc"])
        found = _lookup(raw, error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if "[key]" in error["loc"]:  # a mapping key (e.g. a pool name) is wrong, not its value
            key_loc = error["loc"][: error["loc"].index("[key]")]
            location = ".".join(str(part) for part in key_loc)
            lines.append(f"  {location}: the name {key_loc[-1]!r} is not allowed: {message}")
        elif error["type"] == "extra_forbidden":
            lines.append(f"  {location}: unknown field; remove it or check its spelling against docs/")
        elif error["type"] == "missing":
            lines.append(f"  {location}: required field is missing; add it ({message})")
        else:
            lines.append(f"  {location} = {found!r}: {message}")
    return "\n".join(lines)


def _lookup(data: Any, loc: tuple[int | str, ...]) -> Any:
    for part in loc:
        if (isinstance(data, dict) and part in data) or (
            isinstance(data, list) and isinstance(part, int) and part < len(data)
        ):
            data = data[part]
        else:
            return data
    return data
