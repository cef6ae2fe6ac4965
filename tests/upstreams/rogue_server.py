"""An MCP server over stdio that misbehaves on purpose, written against the wire so it can break the rules.

    rogue_server.py exit-at-start   writes "fatal: missing API key" to stderr and exits 1 (a vendor without its key)
    rogue_server.py endless-cursor  every tools/list page names the same nextCursor
    rogue_server.py serve           answers; its tools send oversized lines, lone surrogates, unasked-for logs

Tools of `serve`: `echo` (text), `huge` (a reply of `megabytes` MiB, id first or last, as the Python and the
TypeScript SDKs order it), `surrogate` (text holding a lone UTF-16 surrogate), `pid`.
"""

from __future__ import annotations

import json
import os
import sys

TOOLS = [
    {"name": name, "inputSchema": {"type": "object"}, "annotations": {"readOnlyHint": True}}
    for name in ("echo", "huge", "surrogate", "pid")
]


def send(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def reply(request_id: object, result: dict[str, object]) -> None:
    send(json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result}))


def text(value: str) -> dict[str, object]:
    return {"content": [{"type": "text", "text": value}]}


def call(request_id: object, name: str, arguments: dict[str, object]) -> None:
    if name == "huge":
        size = int(float(str(arguments.get("megabytes", 2))) * 2**20)
        body = json.dumps(text("x" * size))
        if arguments.get("id_last"):
            send(f'{{"result":{body},"jsonrpc":"2.0","id":{json.dumps(request_id)}}}')
        else:
            send(f'{{"jsonrpc":"2.0","id":{json.dumps(request_id)},"result":{body}}}')
    elif name == "surrogate":
        # Written by hand: json.dumps would escape it the same way, but this is the exact byte sequence.
        send(
            '{"jsonrpc":"2.0","id":'
            + json.dumps(request_id)
            + ',"result":{"content":[{"type":"text","text":"a\\ud800b"}]}}'
        )
    elif name == "pid":
        reply(request_id, text(str(os.getpid())))
    else:
        reply(request_id, text(str(arguments.get("message", ""))))


def main(mode: str) -> None:
    if mode == "exit-at-start":
        sys.stderr.write("fatal: missing API key\n")
        sys.exit(1)
    for line in sys.stdin:
        message = json.loads(line)
        method, request_id = message.get("method"), message.get("id")
        if request_id is None:
            continue  # notifications
        if method == "initialize":
            reply(request_id, {
                "protocolVersion": message["params"]["protocolVersion"],
                "capabilities": {"tools": {}, "logging": {}},
                "serverInfo": {"name": "rogue", "version": "1"},
            })  # fmt: skip
        elif method == "tools/list":
            page: dict[str, object] = {"tools": TOOLS}
            if mode == "endless-cursor":
                page["nextCursor"] = "again"
            reply(request_id, page)
        elif method == "tools/call":
            params = message.get("params", {})
            call(request_id, params.get("name", ""), params.get("arguments") or {})
        else:
            reply(request_id, {})


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "serve")
