"""A scripted OpenAI-compatible chat server on 127.0.0.1, for tests and for recording eval suites against a model
that follows a script: they reach it through the real LiteLLM client."""

from __future__ import annotations

import asyncio
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


def failure(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    """An error response in OpenAI's shape: 500 for an outage, 429 for a rate limit, 400 with code
    `context_length_exceeded` for a prompt too long for the model."""
    return {"_status": status, "error": {"message": message, "type": "api_error", "code": code}}


def stall(seconds: float, then: dict[str, Any]) -> dict[str, Any]:
    """Answer `then`, but only after `seconds`: a provider that times out."""
    return {"_stall": seconds, "then": then}


def scripted_llm(script: Script) -> tuple[Starlette, list[dict[str, Any]]]:
    """An app answering `/v1/chat/completions` with `script(request_body)`: a message, a `failure` or a `stall`;
    the requests it got are recorded."""
    received: list[dict[str, Any]] = []

    async def completions(request: Request) -> JSONResponse:
        body = await request.json()
        received.append(body)
        message = script(body)
        if "_stall" in message:
            await asyncio.sleep(message["_stall"])
            message = message["then"]
        if "_status" in message:
            return JSONResponse({"error": message["error"]}, status_code=message["_status"])
        return JSONResponse({
            "id": f"chatcmpl-{len(received)}", "object": "chat.completion", "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if message.get("tool_calls") else "stop"}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
        })  # fmt: skip

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])]), received
