"""What both conformance servers serve alike, free of any one SDK: tiny media payloads (built in code rather than
shipped as files), and the plain resources and prompts of the suite's scenarios.

Standard library and pydantic only, so both servers can import it: `conformance_server.py` runs on the main venv
(mcp 1.x) and `modern_conformance_server.py` on `.venv-mcp2` (mcp 2.x). Their servers' `resource` and `prompt`
decorators take the same arguments, so `serve_plain_scenarios` registers these with either.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from typing import Annotated, Any

from pydantic import Field


def png(width: int = 1, height: int = 1, rgb: tuple[int, int, int] = (255, 0, 0)) -> bytes:
    """A solid-colour PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def wav(samples: int = 800, rate: int = 8000) -> bytes:
    """A short silent 8-bit mono WAV."""
    data = b"\x80" * samples
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate, 1, 8)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


PNG_BASE64 = base64.b64encode(png()).decode()  # a 1x1 red pixel
WAV_BASE64 = base64.b64encode(wav()).decode()  # 0.1 s of silence


def static_text() -> str:
    return "This is the content of the static text resource."


def static_binary() -> bytes:
    return png()


def watched_resource() -> str:
    return "Watched resource content."


def template_data(id: str) -> str:
    return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})


def test_simple_prompt() -> str:
    """A prompt without arguments."""
    return "This is a simple prompt for testing."


def test_prompt_with_arguments(
    arg1: Annotated[str, Field(description="First test argument")],
    arg2: Annotated[str, Field(description="Second test argument")],
) -> str:
    """A prompt with two required arguments."""
    return f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"


def serve_plain_scenarios(server: Any) -> None:
    """Register the resources and prompts above with a FastMCP (mcp 1.x) or MCPServer (mcp 2.x) server."""
    server.resource("test://static-text", mime_type="text/plain", description="A static text resource")(static_text)
    binary = server.resource(
        "test://static-binary", mime_type="image/png", description="A static binary resource (PNG)"
    )
    binary(static_binary)
    watched = server.resource(
        "test://watched-resource", mime_type="text/plain", description="A resource to subscribe to"
    )
    watched(watched_resource)
    template = server.resource(
        "test://template/{id}/data", mime_type="application/json", description="Data for an id (resource template)"
    )
    template(template_data)
    server.prompt()(test_simple_prompt)
    server.prompt()(test_prompt_with_arguments)
