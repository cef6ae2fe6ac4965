"""The `sandbox:` section of `config/orchestra.yaml`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SandboxConfig(BaseModel):
    """The embedded demo world and the host that serves its websites and deployments."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(42, description="Seed of the demo world; the same seed always builds the same world.")
    companies: int = Field(200, ge=10, le=2000, description="How many fictional companies the world has.")
    host: str = Field("127.0.0.1", description="Address the sandbox host binds (websites, deployments).")
    port: int = Field(8780, ge=1, le=65535, description="Port of the sandbox host.")

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"
