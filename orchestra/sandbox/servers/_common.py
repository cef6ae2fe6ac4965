"""What every sandbox server does first: find the data directory and the built world."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from orchestra.core.settings import default_data_dir
from orchestra.sandbox.model import World
from orchestra.sandbox.paths import SandboxPaths


def sandbox_paths(description: str, argv: list[str] | None = None) -> SandboxPaths:
    """`--data-dir DIR` (default `$ORCHESTRA_DATA_DIR`, else the user's data directory)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data-dir", type=Path, default=None, help="Orchestra's data directory")
    args = parser.parse_args(argv)
    data_dir = args.data_dir or Path(os.environ.get("ORCHESTRA_DATA_DIR") or default_data_dir())
    return SandboxPaths.under(data_dir)


class WorldSource:
    """Loads the world on first use (never at import), with a clear error when it was not built."""

    def __init__(self, paths: SandboxPaths) -> None:
        self.paths = paths
        self._world: World | None = None

    def get(self) -> World:
        if self._world is None:
            if not self.paths.manifest.exists():
                raise RuntimeError(f"the sandbox world is not built in {self.paths.root}; run `orchestra sandbox up`")
            self._world = World.load(self.paths.world)
        return self._world
