"""Trained models shipped with Orchestra: a joblib file and a JSON card (metrics, data hash, library versions).

The card records the model file's SHA-256; loading refuses a file that does not match it, so a half-written or
edited artifact fails loudly instead of routing badly.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import joblib

ARTIFACTS = Path(__file__).parent / "artifacts"


class ArtifactError(RuntimeError):
    """A shipped model is missing or does not match its card."""


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save(name: str, model: Any, card: dict[str, Any], folder: Path = ARTIFACTS) -> Path:
    """Write `<name>.joblib` and `<name>.json` (the card, with the model file's hash); returns the model's path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.joblib"
    joblib.dump(model, path, compress=3)
    card = {**card, "artifact": path.name, "artifact_sha256": sha256_of(path)}
    (folder / f"{name}.json").write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    return path


def card(name: str, folder: Path = ARTIFACTS) -> dict[str, Any]:
    path = folder / f"{name}.json"
    if not path.is_file():
        raise ArtifactError(f"{path} is missing: run `python -m orchestra.routing.train {name}`")
    return json.loads(path.read_text())


def load(name: str, folder: Path = ARTIFACTS) -> tuple[Any, dict[str, Any]]:
    """The model and its card, after checking the model file against the hash the card records."""
    meta = card(name, folder)
    path = folder / meta["artifact"]
    if not path.is_file() or sha256_of(path) != meta["artifact_sha256"]:
        retrain = f"python -m orchestra.routing.train {name}"
        raise ArtifactError(f"{path} does not match {name}.json: retrain with `{retrain}`")
    return joblib.load(path), meta
