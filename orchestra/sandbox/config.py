"""The `sandbox:` section of `config/orchestra.yaml`."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchestra.sandbox.model import DEFAULT_AS_OF


class SandboxConfig(BaseModel):
    """The embedded demo world and the host that serves its websites and deployments."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(42, description="Seed of the demo world; the same seed always builds the same world.")
    companies: int = Field(200, ge=10, le=2000, description="How many fictional companies the world has.")
    as_of: str = Field(
        DEFAULT_AS_OF.isoformat(),
        description="The world's today, YYYY-MM-DD: every date in it is relative to this one. `today` takes the "
        "build's date (the same world, its dates moved); `orchestra sandbox reset` moves it on.",
    )
    host: str = Field("127.0.0.1", description="Address the sandbox host binds (websites, deployments).")
    port: int = Field(8780, ge=1, le=65535, description="Port of the sandbox host.")

    @field_validator("as_of")
    @classmethod
    def _date_or_today(cls, value: str) -> str:
        if value == "today":
            return value
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"as_of {value!r} is not a date; write it like 2026-11-01, or `today`") from None
        return value

    def as_of_date(self, today: dt.date) -> dt.date:
        """The as-of date a build uses; `today` is the build's date, given by the caller (never read here)."""
        return today if self.as_of == "today" else dt.date.fromisoformat(self.as_of)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"
