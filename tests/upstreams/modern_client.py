"""A real MCP 2026-07-28 client (mcp 2.x's `Client`, run from .venv-mcp2) for tests of the gateway's modern path.

It calls the tools named on the command line at URL, answering sampling, elicitation and roots the way a host
would (the SDK runs the multi round-trip loop: each `input_required` is answered and the call retried), and
prints one JSON object: the protocol version it settled on, the tools it saw, each call's text (or error), and
every input request it was asked.

    .venv-mcp2/bin/python tests/upstreams/modern_client.py URL TOOL[:JSON_ARGUMENTS] ...
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from mcp import Client, types


async def main(url: str, calls: list[str]) -> dict[str, Any]:
    asked: list[str] = []

    async def sampling(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        asked.append("sampling")
        text = types.TextContent(type="text", text="modern says hi")
        return types.CreateMessageResult(role="assistant", content=text, model="scripted")

    async def elicitation(context: Any, params: Any) -> types.ElicitResult:
        asked.append(f"elicitation:{getattr(params, 'message', '')}")
        return types.ElicitResult(action="accept", content={"name": "Grace"})

    async def roots(context: Any) -> types.ListRootsResult:
        asked.append("roots")
        return types.ListRootsResult(roots=[types.Root(uri="file:///home/grace", name="home")])

    report: dict[str, Any] = {"calls": {}, "asked": asked}
    async with Client(
        url, mode="2026-07-28", sampling_callback=sampling, elicitation_callback=elicitation,
        list_roots_callback=roots, cache=None,
    ) as client:  # fmt: skip
        report["protocol_version"] = client.protocol_version
        report["tools"] = [tool.name for tool in (await client.list_tools()).tools]
        for call in calls:
            name, _, arguments = call.partition(":")
            try:
                result = await client.call_tool(name, json.loads(arguments) if arguments else {})
            except Exception as exc:  # the report says what failed; the test decides
                report["calls"][name] = {"error": f"{type(exc).__name__}: {exc}"}
                continue
            texts = [block.text for block in result.content if isinstance(block, types.TextContent)]
            report["calls"][name] = {"text": "\n".join(texts), "is_error": bool(result.is_error)}
    return report


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2:]))))
