"""`${VAR}` and `${VAR:-default}` references in config values.

Secrets stay out of the config file: it holds references, and they are expanded only where a value is used
(spawning a replica, opening a connection), so the loaded settings never carry a secret around.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class MissingEnvironmentError(LookupError):
    """A `${VAR}` reference names a variable that is unset and has no default."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        super().__init__(f"set the environment variable(s) {', '.join(names)}")


def env_references(text: str, environ: Mapping[str, str]) -> list[str]:
    """Names referenced in `text` that are unset in `environ` and have no default."""
    return [m.group(1) for m in _REFERENCE.finditer(text) if m.group(1) not in environ and m.group(2) is None]


def expand_env(text: str, environ: Mapping[str, str]) -> str:
    """`text` with every reference replaced; raises `MissingEnvironmentError` naming what to set."""
    missing = env_references(text, environ)
    if missing:
        raise MissingEnvironmentError(missing)
    return _REFERENCE.sub(lambda m: environ.get(m.group(1), m.group(2) or ""), text)
