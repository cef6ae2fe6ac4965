"""Where the sandbox keeps its world and state, under the data directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SandboxPaths:
    root: Path

    @classmethod
    def under(cls, data_dir: Path) -> SandboxPaths:
        return cls(data_dir / "sandbox")

    @property
    def manifest(self) -> Path:
        """What was built, from which seed; written last, so its presence means the build finished."""
        return self.root / "world-manifest.json"

    @property
    def world(self) -> Path:
        return self.root / "world.json"

    @property
    def sites(self) -> Path:
        return self.root / "sites"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def crm(self) -> Path:
        return self.root / "crm.sqlite"

    @property
    def designs(self) -> Path:
        return self.root / "designs"

    @property
    def deployments(self) -> Path:
        return self.root / "deployments"

    @property
    def contact_submissions(self) -> Path:
        return self.root / "contact-submissions.jsonl"

    @property
    def models_admin(self) -> Path:
        return self.root / "models-admin.json"

    @property
    def host_state(self) -> Path:
        """The running host's pid and URL (`orchestra sandbox up`)."""
        return self.root / "host.json"
