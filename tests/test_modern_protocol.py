"""The gateway's own model of MCP 2026-07-28 (`orchestra.gateway.modern`): which requests are modern, the header
rules of its HTTP binding, and the round trip of mirrored values. Unit tests: no servers."""

from __future__ import annotations

from typing import Any

import pytest

from orchestra.gateway.modern import (
    ModernError,
    check_headers,
    check_parameter_headers,
    check_single_headers,
    decode_header,
    encode_header,
    is_modern,
    parameter_headers,
    request_meta,
)

META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}
SCHEMA = {
    "type": "object",
    "properties": {
        "region": {"type": "string", "x-mcp-header": "Region"},
        "limit": {"type": "integer", "x-mcp-header": "Limit"},
        "filter": {"type": "object", "properties": {"dry": {"type": "boolean", "x-mcp-header": "Dry"}}},
    },
}


def test_a_request_is_modern_by_its_version_header_or_its_meta_never_by_a_legacy_header() -> None:
    assert is_modern({"mcp-protocol-version": "2026-07-28"}, {})
    assert is_modern({}, {"_meta": META})
    assert not is_modern({"mcp-protocol-version": "2025-11-25"}, {"_meta": {"progressToken": 1}})
    assert not is_modern({}, None)


@pytest.mark.parametrize(
    ("meta", "complaint"),
    [
        (None, "params._meta is required"),
        ({"io.modelcontextprotocol/clientCapabilities": {}}, "protocolVersion"),
        ({"io.modelcontextprotocol/protocolVersion": "2026-07-28"}, "clientCapabilities"),
        ({**META, "io.modelcontextprotocol/clientCapabilities": []}, "clientCapabilities"),
        ({**META, "io.modelcontextprotocol/logLevel": "loud"}, "logLevel"),
        ({**META, "io.modelcontextprotocol/protocolVersion": "x" * 65}, "protocolVersion"),
    ],
)
def test_bad_meta_is_invalid_params_with_http_400_naming_the_field(meta: Any, complaint: str) -> None:
    with pytest.raises(ModernError) as refused:
        request_meta({} if meta is None else {"_meta": meta})
    assert (refused.value.code, refused.value.status) == (-32602, 400)
    assert complaint in refused.value.message


def headers(**values: str) -> dict[str, str]:
    base = {"mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "echo"}
    return {**base, **{k.replace("_", "-"): v for k, v in values.items()}}


@pytest.mark.parametrize(
    "sent",
    [
        headers(),
        headers(mcp_name="  echo\t"),  # surrounding whitespace is not part of a header value
        headers(mcp_name="=?base64?ZWNobw==?="),
    ],
)
def test_matching_headers_pass(sent: dict[str, str]) -> None:
    check_headers(sent, "tools/call", {"name": "echo"}, request_meta({"_meta": META}))


@pytest.mark.parametrize(
    "sent",
    [
        {"mcp-method": "tools/call", "mcp-name": "echo"},  # no version header
        headers(mcp_protocol_version="2025-11-25"),
        headers(mcp_method="TOOLS/CALL"),  # values are case-sensitive
        headers(mcp_name="Echo"),
        headers(mcp_name="=?base64?ZWNobw?="),  # bad padding
        headers(mcp_name="=?base64?ZW!!Nobw==?="),
        headers(mcp_name="echo\x01"),
        {k: v for k, v in headers().items() if k != "mcp-name"},
    ],
)
def test_a_missing_malformed_or_different_header_is_a_header_mismatch(sent: dict[str, str]) -> None:
    with pytest.raises(ModernError) as refused:
        check_headers(sent, "tools/call", {"name": "echo"}, request_meta({"_meta": META}))
    assert (refused.value.code, refused.value.status) == (-32020, 400)


def test_a_value_that_looks_like_the_sentinel_without_its_end_is_taken_literally() -> None:
    assert decode_header("=?base64?ZWNobw==", "Mcp-Name") == "=?base64?ZWNobw=="


@pytest.mark.parametrize(
    "value", ["us-west1", "Hello, 世界", " padded ", "line1\nline2", "=?base64?literal?=", 42, True]
)
def test_mirrored_values_round_trip(value: Any) -> None:
    encoded = encode_header(value)
    assert encoded.isascii()
    assert "\n" not in encoded
    expected = ("true" if value else "false") if isinstance(value, bool) else str(value)
    assert decode_header(encoded, "Mcp-Param-X") == expected


def test_parameter_headers_mirror_annotated_arguments_and_are_checked_against_them() -> None:
    arguments = {"region": "eu west", "limit": 5, "filter": {"dry": False}}
    sent = {name.lower(): value for name, value in parameter_headers(SCHEMA, arguments).items()}
    assert sent == {"mcp-param-region": "eu west", "mcp-param-limit": "5", "mcp-param-dry": "false"}
    check_parameter_headers(sent, SCHEMA, arguments)
    check_parameter_headers({**sent, "mcp-param-limit": "5.0"}, SCHEMA, arguments)  # numbers compare as numbers
    check_parameter_headers({}, SCHEMA, {})  # no value, no header expected
    for wrong in ({**sent, "mcp-param-region": "us"}, {k: v for k, v in sent.items() if k != "mcp-param-dry"}):
        with pytest.raises(ModernError) as refused:
            check_parameter_headers(wrong, SCHEMA, arguments)
        assert refused.value.code == -32020


def test_numbers_of_any_size_compare_exactly_and_never_crash() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "x-mcp-header": "N"}}}
    huge = 10**400
    check_parameter_headers({"mcp-param-n": str(huge)}, schema, {"n": huge})
    for sent in (str(huge + 1), "1e400x", "NaN", "sNaN", "Infinity"):
        with pytest.raises(ModernError) as refused:
            check_parameter_headers({"mcp-param-n": sent}, schema, {"n": huge})
        assert refused.value.code == -32020


def test_each_mirrored_header_may_come_once() -> None:
    check_single_headers(["Mcp-Method", "mcp-name", "Mcp-Param-A", "Mcp-Param-B", "accept", "accept"])
    for names in (["mcp-name", "Mcp-Name"], ["MCP-Protocol-Version", "mcp-protocol-version"], ["mcp-param-a"] * 2):
        with pytest.raises(ModernError) as refused:
            check_single_headers(names)
        assert refused.value.code == -32020
