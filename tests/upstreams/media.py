"""Tiny media payloads for the test upstreams, built in code rather than shipped as files.

Standard library only, so both conformance servers can import it: `conformance_server.py` runs on the main venv
(mcp 1.x) and `modern_conformance_server.py` on `.venv-mcp2` (mcp 2.x).
"""

from __future__ import annotations

import base64
import struct
import zlib


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
