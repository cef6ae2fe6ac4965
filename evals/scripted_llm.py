"""A scripted OpenAI-compatible chat server on 127.0.0.1, for tests and for recording eval suites against a model
that follows a script: they reach it through the real LiteLLM client."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

Script = Callable[[dict[str, Any]], dict[str, Any]]


def reply(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


def tool_call(name: str, arguments: dict[str, Any], call_id: str = "call_1") -> dict[str, Any]:
    function = {"name": name, "arguments": json.dumps(arguments)}
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": call_id, "type": "function", "function": function}],
    }


def scripted_llm(script: Script) -> tuple[Starlette, list[dict[str, Any]]]:
    """An app answering `/v1/chat/completions` with `script(request_body)`; the requests it got are recorded."""
    received: list[dict[str, Any]] = []

    async def completions(request: Request) -> JSONResponse:
        body = await request.json()
        received.append(body)
        message = script(body)
        return JSONResponse({
            "id": f"chatcmpl-{len(received)}", "object": "chat.completion", "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if message.get("tool_calls") else "stop"}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
        })  # fmt: skip

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])]), received
