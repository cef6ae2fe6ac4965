"""Errors of the gateway, grouped by who must act, each with its JSON-RPC code.

Codes in -32000..-32099 are MCP's implementation-defined range; `data` always says whether retrying makes
sense, so clients never have to parse the message.
"""

from __future__ import annotations

from typing import Any

from mcp import types


class GatewayError(Exception):
    """A call the gateway could not complete; `code` and `data` go to the client as a JSON-RPC error."""

    code = types.INTERNAL_ERROR
    retryable = False

    def __init__(self, message: str, **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.data = data

    def to_error(self) -> types.ErrorData:
        return types.ErrorData(code=self.code, message=self.message, data={"retryable": self.retryable, **self.data})


# Upstream failures, raised inside a pool and decided on there (retry or report).
class ReplicaUnreachable(GatewayError):
    """The replica could not be reached: the call was never sent, so any tool may be retried."""

    code = -32012
    retryable = True


class ReplicaReset(GatewayError):
    """The replica died or dropped the connection while the call was in flight."""

    code = -32013


# What clients see.
class NoHealthyReplica(GatewayError):
    code = -32012
    retryable = True


class CallOutcomeUnknown(GatewayError):
    """A write failed mid-call; it is never repeated, and it may or may not have taken effect."""

    code = -32013


class CallTimeout(GatewayError):
    code = -32001
    retryable = True


class Overloaded(GatewayError):
    """A circuit breaker is open: too many calls in flight or waiting."""

    code = -32011
    retryable = True


class RateLimited(GatewayError):
    code = -32010
    retryable = True


class SessionLost(GatewayError):
    """The upstream session owned by this client session is gone; the client must initialize again."""

    code = -32014


class ReplyTooLarge(GatewayError):
    """The upstream's reply exceeded the pool's `max_message_size`; it was dropped, the replica kept."""

    code = -32015


class StateUnavailable(GatewayError):
    """The shared state store (Redis) cannot be reached; nothing was done."""

    code = -32016
    retryable = True


class UnknownTool(GatewayError):
    code = types.INVALID_PARAMS


class ToolNotAllowed(GatewayError):
    """The tool exists upstream, but this gateway's `tools` filter does not expose it."""

    code = types.INVALID_PARAMS


class EgressDenied(GatewayError):
    """A URL argument points where the pool's egress policy does not allow."""

    code = types.INVALID_PARAMS
