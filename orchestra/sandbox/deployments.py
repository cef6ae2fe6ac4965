"""The deploy sandbox's on-disk store: immutable static-site deployments and per-project production aliases.

It stands in for Vercel's deployment storage and is shared by two processes that never talk to each other: the
`deploy` MCP server (which writes) and the web host (which only reads). Everything goes through the filesystem:

    ROOT/<deployment_id>/files/...          the deployed files, copied from the source folder, never changed again
    ROOT/<deployment_id>/deployment.json    its metadata (see `Deployment`)
    ROOT/aliases.json                       {"<project>": {"production": "<id>", "history": [older ids, newest last]}}
    ROOT/.lock                              flock'ed by writers of aliases.json

Which files a deployment takes (only from the deploy workspace, never hidden files or secrets) is decided in
orchestra.sandbox.deploy_sources.

A deployment is staged in a hidden directory next to the others and renamed into place only once complete, and
aliases.json is replaced with os.replace, so a reader (or a restart after a crash) sees a deployment either whole
or not at all, and never a torn aliases.json. Readers take no lock; writers serialise on ROOT/.lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import string
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from orchestra.sandbox.deploy_sources import MAX_BYTES, SourceError, scan, source_folder

PROJECT_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")
ID_RE = re.compile(r"^dpl_[A-Za-z0-9]{24}$")
_ID_ALPHABET = string.ascii_letters + string.digits
_STAGING_PREFIX = ".staging-"
_STALE_STAGING_SECONDS = 3600


class DeploymentError(ValueError):
    """Bad input or an impossible request; the message says what was wrong and what to do instead."""


@dataclass(frozen=True)
class Deployment:
    """One immutable deployment, as recorded in its deployment.json."""

    id: str
    project: str
    created_at: str  # ISO-8601 UTC with microseconds, so deployments made within a second still sort
    files: int
    bytes: int
    sha256: str  # over every (relative path, content) pair in path order: equal content gives an equal digest
    source: str  # the absolute source folder it was copied from
    state: str = "READY"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Resolved:
    """What the host should serve for a request path."""

    deployment_id: str
    file: Path | None  # None: the deployment exists but has no such file (serve its 404 page)
    directory: bool  # the path named a directory, so `file` is its index.html


# -- validation and paths -------------------------------------------------------------------------------------------


def check_project(project: str) -> str:
    if not isinstance(project, str) or not PROJECT_RE.fullmatch(project):
        raise DeploymentError(
            f"invalid project name {project!r}: use 1-48 characters of lowercase letters, digits and '-', "
            "starting with a letter or digit (for example 'acme-site')"
        )
    return project


def check_id(deployment_id: str) -> str:
    if not isinstance(deployment_id, str) or not ID_RE.fullmatch(deployment_id):
        raise DeploymentError(
            f"{deployment_id!r} is not a deployment id (they look like 'dpl_' followed by 24 letters and digits); "
            "call list_deployments to see the ids"
        )
    return deployment_id


def files_dir(root: Path, deployment_id: str) -> Path:
    """The directory holding a deployment's files."""
    return Path(root) / check_id(deployment_id) / "files"


def _new_id() -> str:
    return "dpl_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- atomic writes and locking ----------------------------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json_atomic(path: Path, data: Any) -> None:
    """Write to a temp file in the same directory, then os.replace it over `path`: readers see old or new, whole."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_dir(path.parent)


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Serialise writers across processes; read-modify-write of aliases.json happens only inside this."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _read_aliases(root: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads((Path(root) / "aliases.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return data if isinstance(data, dict) else {}


# -- creating deployments -------------------------------------------------------------------------------------------


def _copy_into(files: list[tuple[str, Path]], dest: Path) -> tuple[int, str]:
    """Copy the files into `dest`, returning (total bytes, content sha256); data is fsynced before the rename."""
    digest = hashlib.sha256()
    total = 0
    for rel, path in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        digest.update(rel.encode() + b"\0")
        with open(path, "rb") as src, open(target, "xb") as out:
            while chunk := src.read(1024 * 1024):
                total += len(chunk)
                if total > MAX_BYTES:  # the folder grew while we were copying it
                    raise DeploymentError(f"the files grew past {MAX_BYTES // (1024 * 1024)} MB while being copied")
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        digest.update(b"\0")
    return total, digest.hexdigest()


def _sweep_staging(root: Path) -> None:
    """Remove staging directories a crashed writer left behind (old enough that no live writer still owns them)."""
    cutoff = time.time() - _STALE_STAGING_SECONDS
    for entry in root.glob(_STAGING_PREFIX + "*"):
        with contextlib.suppress(OSError):
            if entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)


def create_deployment(root: Path, project: str, source_dir: Path | str, *, workspace: Path) -> Deployment:
    """Copy `source_dir`, a folder inside `workspace`, into a new immutable deployment of `project`; return it.

    The first deployment of a project becomes its production deployment (as on Vercel); later ones wait for
    `promote`. Hidden files and folders (but `.well-known/`) and tooling folders are left out; secrets (.env,
    private keys, .ssh/, ... see deploy_sources.SECRET_PATTERNS) refuse the deployment. Raises DeploymentError
    for a bad project name or an unusable source folder; on any failure nothing new is visible under `root`.
    """
    root = Path(root)
    check_project(project)
    try:
        source = source_folder(workspace, source_dir)
        files = scan(source, root)
    except SourceError as exc:
        raise DeploymentError(str(exc)) from exc
    if not files:
        raise DeploymentError(f"folder {source} is empty; put the site's files (at least index.html) in it first")
    if "index.html" not in {rel for rel, _ in files}:
        raise DeploymentError(
            f"folder {source} has no index.html at its top level; a static site needs one to serve at '/' "
            "(deploy the folder that contains index.html)"
        )
    root.mkdir(parents=True, exist_ok=True)
    _sweep_staging(root)
    deployment_id = _new_id()
    staging = root / f"{_STAGING_PREFIX}{deployment_id}"
    try:
        staging.mkdir()
        total, digest = _copy_into(files, staging / "files")
        deployment = Deployment(
            id=deployment_id,
            project=project,
            created_at=_now(),
            files=len(files),
            bytes=total,
            sha256=digest,
            source=str(source),
        )
        _write_json_atomic(staging / "deployment.json", deployment.to_dict())
        with _locked(root):
            os.rename(staging, root / deployment_id)  # the moment the deployment becomes visible
            _fsync_dir(root)
            aliases = _read_aliases(root)
            if not aliases.get(project, {}).get("production"):
                aliases[project] = {"production": deployment_id, "history": []}
                _write_json_atomic(root / "aliases.json", aliases)
    except OSError as exc:
        raise DeploymentError(f"could not copy {source}: {exc}; nothing was deployed") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return deployment


# -- reading ----------------------------------------------------------------------------------------------------------


def _load(root: Path, deployment_id: str) -> Deployment | None:
    try:
        data = json.loads((Path(root) / deployment_id / "deployment.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return None
    return Deployment(**data)


def get_deployment(root: Path, deployment_id: str) -> Deployment:
    """The deployment with this id; DeploymentError if there is none."""
    deployment = _load(root, check_id(deployment_id))
    if deployment is None:
        raise DeploymentError(f"no deployment {deployment_id}; call list_deployments to see the ids that exist")
    return deployment


def list_deployments(root: Path, project: str | None = None) -> list[Deployment]:
    """All deployments (of one project, if given), newest first."""
    if project is not None:
        check_project(project)
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for entry in root.iterdir():
        deployment = _load(root, entry.name) if ID_RE.fullmatch(entry.name) else None
        if deployment is not None and (project is None or deployment.project == project):
            found.append(deployment)
    return sorted(found, key=lambda d: (d.created_at, d.id), reverse=True)


def production_id(root: Path, project: str) -> str | None:
    """The id of the project's production deployment, or None if it has never been deployed."""
    return _read_aliases(root).get(check_project(project), {}).get("production")


def aliases(root: Path) -> dict[str, dict[str, Any]]:
    """The whole alias table: {project: {"production": id, "history": [older production ids, newest last]}}."""
    return _read_aliases(root)


# -- production alias -----------------------------------------------------------------------------------------------


def promote(root: Path, deployment_id: str) -> tuple[str, str | None]:
    """Make a deployment its project's production; returns (project, previous production id or None).

    Promoting the current production deployment changes nothing (and returns its own id as the previous one).
    """
    root = Path(root)
    project = get_deployment(root, deployment_id).project
    with _locked(root):
        table = _read_aliases(root)
        entry = table.get(project, {"production": None, "history": []})
        previous = entry.get("production")
        if previous == deployment_id:
            return project, previous
        history = [h for h in entry.get("history", []) if h != deployment_id]
        if previous:
            history.append(previous)
        table[project] = {"production": deployment_id, "history": history}
        _write_json_atomic(root / "aliases.json", table)
    return project, previous


def rollback(root: Path, project: str) -> tuple[str, str]:
    """Point production back at the previous production deployment; returns (new production id, rolled-back id).

    The rolled-back deployment does not enter the history: rolling back twice goes two steps back. Promote it
    again to undo a rollback.
    """
    root = Path(root)
    check_project(project)
    with _locked(root):
        table = _read_aliases(root)
        entry = table.get(project)
        if not entry or not entry.get("production"):
            raise DeploymentError(f"project {project!r} has no deployments; deploy it first (list_deployments)")
        current = entry["production"]
        history = list(entry.get("history", []))
        while history and _load(root, history[-1]) is None:
            history.pop()  # skip ids whose deployment no longer exists on disk
        if not history:
            raise DeploymentError(
                f"project {project!r} has no earlier production deployment to roll back to (production is "
                f"{current}); promote a specific deployment with promote_deployment (list_deployments shows them)"
            )
        target = history.pop()
        table[project] = {"production": target, "history": history}
        _write_json_atomic(root / "aliases.json", table)
    return target, current


# -- serving ----------------------------------------------------------------------------------------------------------


def resolve(root: Path, path: str) -> Resolved:
    """The file to serve for a host request path: `/d/<deployment_id>/<path>` or `/p/<project>/<path>`.

    `/` and directory paths map to their index.html. Raises DeploymentError when the path names no deployment
    (unknown id, project without production, or another prefix); returns `file=None` for a missing file.
    """
    parts = path.lstrip("/").split("/")
    if len(parts) < 2 or parts[0] not in ("d", "p"):
        raise DeploymentError(f"{path!r} is not a deployment path; use /d/<deployment_id>/ or /p/<project>/")
    kind, name, rest = parts[0], parts[1], parts[2:]
    if kind == "d":
        deployment_id = get_deployment(root, name).id
    else:
        found = production_id(root, name)
        if found is None:
            raise DeploymentError(f"project {name!r} has no production deployment; deploy it first")
        deployment_id = found
    base = files_dir(root, deployment_id)
    segments = [s for s in rest if s not in ("", ".")]
    # Reject rather than normalise: '..' or separators inside a segment only ever come from attempts to escape.
    if any(s == ".." or "\0" in s or "\\" in s for s in segments):
        return Resolved(deployment_id, None, False)
    candidate = base.joinpath(*segments)
    directory = candidate.is_dir()
    if directory:
        candidate = candidate / "index.html"
    real = candidate.resolve()
    if not real.is_relative_to(base.resolve()) or not real.is_file():
        return Resolved(deployment_id, None, directory)
    return Resolved(deployment_id, real, directory)
