"""Which of an upstream's requests to its client (sampling, elicitation, roots) may reach a given client.

A client is asked only what it declared it supports: in `initialize` (legacy sessions) or in each request's
`_meta` (MCP 2026-07-28). Anything else is answered for it with an error the upstream can act on.
"""

from __future__ import annotations

from typing import Any

from mcp import types

ASKABLE = {"sampling/createMessage": "sampling", "elicitation/create": "elicitation", "roots/list": "roots"}


def refusal(
    capabilities: dict[str, Any], method: str, params: dict[str, Any], declared_in: str
) -> dict[str, Any] | None:
    """Why `method` cannot be asked of a client with these capabilities (a JSON-RPC error), or None when it can."""
    capability = ASKABLE.get(method)
    if capability is None:
        return {"code": types.METHOD_NOT_FOUND, "message": f"the gateway does not pass {method[:100]!r} to clients"}
    declared = capabilities.get(capability)
    what = capability
    if capability == "elicitation":
        mode = str(params.get("mode") or "form")[:20]
        what = f"elicitation ({mode} mode)"
    if capability == "elicitation" and isinstance(declared, dict):
        if mode == "url" and declared.get("url") is None:
            declared = None
        if mode == "form" and declared.get("form") is None and declared.get("url") is not None:
            declared = None  # an empty elicitation capability means form mode, as before modes existed
    if declared is None:
        return {"code": types.METHOD_NOT_FOUND, "message": f"the client did not declare {what} in {declared_in}, "
                f"so the gateway cannot ask it ({method}); this tool needs a client that supports it"}  # fmt: skip
    return None
