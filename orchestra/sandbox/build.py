"""Building the sandbox's world into the data directory, and knowing whether it is built."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from typing import Any

from orchestra.sandbox.config import SandboxConfig
from orchestra.sandbox.crm_store import CrmStore
from orchestra.sandbox.figma import build_design_files
from orchestra.sandbox.paths import SandboxPaths
from orchestra.sandbox.sites import build_sites
from orchestra.sandbox.warehouse import build_warehouse
from orchestra.sandbox.world import generate_world

FORMAT = 2  # bump when the generated files change shape, so old worlds are rebuilt


def read_manifest(paths: SandboxPaths) -> dict[str, Any] | None:
    try:
        return json.loads(paths.manifest.read_text())
    except (FileNotFoundError, ValueError):
        return None


def is_current(paths: SandboxPaths, config: SandboxConfig) -> bool:
    manifest = read_manifest(paths)
    return manifest is not None and all(manifest.get(k) == v for k, v in _manifest_key(config).items())


def _manifest_key(config: SandboxConfig) -> dict[str, Any]:
    # The setting, not the date it gave: a world built with `as_of: today` stays current until a reset.
    return {"format": FORMAT, "seed": config.seed, "companies": config.companies, "as_of_setting": config.as_of}


def build_sandbox(
    paths: SandboxPaths, config: SandboxConfig, *, progress: Any = print, today: dt.date | None = None
) -> dict[str, Any]:
    """(Re)build the world from `config.seed` as of `config.as_of` (`today`, when that is `today`: by default the
    machine's date, the only input of the build that is not in the config). Deployments and the CRM's later writes
    are state, not world: a rebuild after a seed change starts them afresh too, since they refer to the old world's
    ids."""
    as_of = config.as_of_date(today or dt.date.today())
    if paths.root.exists():
        shutil.rmtree(paths.root)
    paths.root.mkdir(parents=True)
    progress(f"generating the world (seed {config.seed}, {config.companies} companies, as of {as_of})")
    world = generate_world(config.seed, config.companies, as_of)
    paths.world.write_text(world.to_json(), encoding="utf-8")
    progress("writing company websites")
    build_sites(world, paths.sites)
    progress("building the warehouse")
    build_warehouse(world, paths.warehouse)
    progress("loading the CRM")
    CrmStore(paths.crm).initialize(world)
    progress("writing design files")
    designs = build_design_files(paths.designs, seed=config.seed)
    paths.deployments.mkdir()
    counts = {
        "companies": len(world.companies), "people": len(world.people), "crm_companies": len(world.crm_company_ids),
        "deals": len(world.deals), "social_posts": len(world.social_posts), "design_files": len(designs),
    }  # fmt: skip
    manifest = _manifest_key(config) | {"as_of": world.as_of, "counts": counts}
    paths.manifest.write_text(json.dumps(manifest, indent=2))  # last: its presence means the build finished
    return manifest


def ensure_built(paths: SandboxPaths, config: SandboxConfig, *, progress: Any = print) -> dict[str, Any]:
    if is_current(paths, config):
        return read_manifest(paths) or {}
    return build_sandbox(paths, config, progress=progress)


def remove_sandbox(paths: SandboxPaths) -> None:
    if paths.root.exists():
        shutil.rmtree(paths.root)
