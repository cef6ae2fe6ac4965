"""Which files a deployment takes: a build folder inside the deploy workspace, minus what must never be public.

An agent names the folder, so it could name any folder of the host (`/home/me/../other`, a symlink out of the
builds). `source_folder` resolves `..` and symlinks first and accepts only a folder inside the workspace; `scan`
then lists the files to publish: no tooling folders, nothing hidden but `.well-known/`, and a folder holding a
secret is refused whole, so the user hears about it before anything is published.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from pathlib import Path

MAX_FILES = 2000
MAX_BYTES = 50 * 1024 * 1024
# Never uploaded, like Vercel's default ignore list: version-control internals and local tooling must not be served.
IGNORED_NAMES = frozenset({".git", ".hg", ".svn", ".vercel", "node_modules", "__pycache__", ".venv", ".DS_Store"})
# The one hidden folder a static site needs (security.txt, assetlinks.json, ...); every other hidden entry is left out.
PUBLIC_HIDDEN = frozenset({".well-known"})
# Names of secrets (matched case-insensitively): their presence refuses the whole deployment rather than skipping
# them quietly, because a build folder holding a key is a mistake the user must hear about before anything ships
# (and the real Vercel pool, which replaces this one, would publish them).
SECRET_PATTERNS = (
    ".env", ".env.*", "*.env", "*.env.*", "secrets.*", "*.secret", "*.secrets", "client_secret*",
    "*.tfstate", "*.tfvars",
    ".npmrc", ".pypirc", ".netrc", ".pgpass", ".git-credentials", ".htpasswd",
    ".ssh", ".aws", ".gnupg", ".kube", ".docker", "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*",
    "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore", "*.ppk", "*.kdbx", "credentials.json",
)  # fmt: skip


class SourceError(ValueError):
    """The folder cannot be deployed; the message says why and what to do instead."""


def source_folder(workspace: Path, directory: str | Path) -> Path:
    """The real folder `directory` names inside `workspace`: absolute, or relative to the workspace.

    `..` and symlinks are resolved first, so neither can lead outside; the workspace itself is refused too, since
    it holds every project's build. Raises SourceError naming the workspace otherwise.
    """
    workspace = Path(workspace).resolve()
    if "\0" in str(directory):
        raise SourceError(f"folder {directory!r} contains a NUL character; pass a folder inside {workspace}")
    try:
        source = (workspace / directory).resolve()  # an absolute `directory` replaces the workspace in the join
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise SourceError(f"could not resolve folder {str(directory)!r}: {exc}; pass a real folder") from exc
    if source == workspace:
        problem = f"is the deploy workspace {workspace} itself, which holds every project's build"
    elif not source.is_relative_to(workspace):
        problem = f"resolves to {source}, outside the deploy workspace {workspace}"
    elif not source.exists():
        raise SourceError(f"folder {source} does not exist; build the site into it first")
    elif not source.is_dir():
        raise SourceError(f"{source} is a file, not a folder; pass the folder that contains index.html")
    else:
        return source
    raise SourceError(
        f"folder {str(directory)!r} {problem}; deploy one build folder inside {workspace} (for example "
        f"{workspace / 'my-site'}), given as its absolute path or relative to the workspace"
    )


def _is_secret(name: str) -> bool:
    return any(fnmatch.fnmatch(name.lower(), pattern) for pattern in SECRET_PATTERNS)


def _reraise(error: OSError) -> None:
    raise error  # os.walk skips unreadable directories silently otherwise, and the site would miss files


def _published(name: str) -> bool:
    """Whether an entry of this name is deployed at all: no tooling folders, and nothing hidden but .well-known."""
    return name not in IGNORED_NAMES and (not name.startswith(".") or name in PUBLIC_HIDDEN)


def scan(source: Path, root: Path) -> list[tuple[str, Path]]:
    """Every file of `source` to deploy as (relative POSIX path, real path), sorted; `root` (the deployment store,
    should it sit inside `source`) is never included. Raises SourceError for anything that cannot be served safely.
    """
    try:
        return _walk(source, root)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise SourceError(f"could not read {source}: {exc}; fix the permissions or remove that entry") from exc


def _walk(source: Path, root: Path) -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    total = 0
    store = root.resolve()
    for current, dirnames, filenames in os.walk(source, onerror=_reraise, followlinks=False):
        here = Path(current)
        secrets_here = sorted(name for name in [*dirnames, *filenames] if _is_secret(name))
        if secrets_here:
            where = here.relative_to(source).as_posix()
            shown = ", ".join(name if where == "." else f"{where}/{name}" for name in secrets_here)
            raise SourceError(
                f"{source} holds what looks like a secret ({shown}); nothing was deployed. Move secrets and keys "
                "out of the build folder: deployments are public"
            )
        # Prune in place so os.walk does not descend; never copy the store into itself when it sits inside source.
        dirnames[:] = sorted(d for d in dirnames if _published(d) and (here / d).resolve() != store)
        for name in [*dirnames, *sorted(filenames)]:
            path = here / name
            rel = path.relative_to(source).as_posix()
            if not _published(name):
                continue
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(source):
                    raise SourceError(
                        f"{rel} is a symlink to {target}, outside the folder being deployed; "
                        "copy that file into the folder instead"
                    )
                if target.is_dir():
                    raise SourceError(f"{rel} is a symlink to a directory; replace it with a real directory")
                if any(not _published(part) or _is_secret(part) for part in target.relative_to(source).parts):
                    raise SourceError(
                        f"{rel} is a symlink to {target}, a hidden or secret file that is never deployed; "
                        "remove the link"
                    )
                if not target.is_file():
                    raise SourceError(f"{rel} is a broken symlink; remove it or point it at a file")
            elif path.is_dir():
                continue  # os.walk visits it itself
            st = path.stat()
            if not stat.S_ISREG(st.st_mode):
                raise SourceError(f"{rel} is not a regular file (a socket, pipe or device); remove it")
            if st.st_nlink > 1:  # a hard link can be any file of the same disk, and nothing in its name says so
                raise SourceError(f"{rel} is hard-linked to another file; copy its content into the build instead")
            found.append((rel, path))
            total += st.st_size
            if len(found) > MAX_FILES:
                raise SourceError(
                    f"{source} has more than {MAX_FILES} files; deploy only the built site "
                    "(for example its dist/ folder)"
                )
            if total > MAX_BYTES:
                raise SourceError(
                    f"{source} holds more than {MAX_BYTES // (1024 * 1024)} MB; deploy only the built site "
                    "and leave large media out"
                )
    return sorted(found)
