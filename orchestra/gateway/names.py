"""How names and URIs are namespaced on the endpoints that serve several pools (`/tiers/<tier>/mcp`, `/mcp`).

- Tools and prompts are named `<pool>__<name>`, fitted to `^[a-zA-Z0-9_-]{1,64}$` (a hash suffix keeps fitted
  names unique); the endpoint's catalogue maps them back.
- Resource URIs and URI templates are `<pool>+<uri>`: `everything+demo://resource/static/document/a.md`. The
  pool's name becomes part of the URI's scheme (RFC 3986 allows `+` there, and pool names are valid scheme
  characters), so the result is still a URI, and it is reversible without a table: pool names never contain `+`,
  so the first `+` ends the pool's name whatever the upstream URI holds (`git+ssh://...` included).

On `/pools/<pool>/mcp`, names and URIs are the upstream's own. An aggregating endpoint also answers a name or URI
sent without its pool when exactly one of its pools has it (clients and suites that know a server's own names);
listings always show the namespaced form, which does not change when a pool joins the endpoint.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

SEPARATOR = "__"
URI_MARK = "+"
_INVALID = re.compile(r"[^a-zA-Z0-9_-]")
_MAX_NAME = 64


def namespaced_name(pool: str, name: str, taken: set[str] | dict[str, object]) -> str:
    """`<pool>__<name>`, made to fit `^[a-zA-Z0-9_-]{1,64}$` and unique among `taken`."""
    fitted = f"{pool}{SEPARATOR}{_INVALID.sub('_', name)}"
    if len(fitted) > _MAX_NAME or fitted in taken:
        digest = hashlib.sha1(f"{pool}/{name}".encode()).hexdigest()[:8]
        fitted = f"{fitted[: _MAX_NAME - 9]}_{digest}"
    return fitted


def namespaced_uri(pool: str, uri: str) -> str:
    return f"{pool}{URI_MARK}{uri}"


def split_uri(uri: str) -> tuple[str, str] | None:
    """(pool, upstream URI) of a namespaced URI, or None when it names no pool."""
    pool, mark, upstream = uri.partition(URI_MARK)
    return (pool, upstream) if mark and pool and upstream else None


def namespace_block(pool: str, block: object) -> object:
    """A content block with its resource URI namespaced (resource links, embedded resources); others unchanged."""
    if not isinstance(block, dict):
        return block
    kind = block.get("type")
    if kind == "resource_link" and isinstance(block.get("uri"), str):
        return {**block, "uri": namespaced_uri(pool, block["uri"])}
    resource = block.get("resource")
    if kind == "resource" and isinstance(resource, dict) and isinstance(resource.get("uri"), str):
        return {**block, "resource": {**resource, "uri": namespaced_uri(pool, resource["uri"])}}
    return block


def by_own_name(name: str, catalog: Mapping[str, tuple[Any, Any]]) -> list[str]:
    """The endpoint names of the entries whose upstream name is `name`: what a name sent without its pool means."""
    return [key for key, (_, item) in catalog.items() if getattr(item, "name", None) == name]
