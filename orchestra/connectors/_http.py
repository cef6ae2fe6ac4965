"""The one HTTP helper every connector shares.

Why it exists: each adapter talks to a different vendor, but they must all behave the same way for an agent —
the key is read from the environment only when a tool runs (so importing a connector needs no secret), every call
has bounded timeouts, and every failure becomes one short sentence the agent can act on ("the API key in
$APOLLO_API_KEY was refused; check it", "rate limited by Apollo, retry after 30 s", ...). Secrets never reach a
message or a log line: messages are built from status codes and vendor error text with the key scrubbed out, and
httpx's own request log has key-bearing query parameters redacted.
"""

from __future__ import annotations

import email.utils
import logging
import math
import os
import re
import time
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from mcp.server.fastmcp.exceptions import ToolError

logger = logging.getLogger("orchestra.connectors")

AuthStyle = Literal["header", "bearer", "query"]

USER_AGENT = "orchestra-connector/0.1"
DEFAULT_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10.0
_DETAIL_MAX = 200

# Query parameters that carry credentials; their values are masked wherever a URL could be logged.
_SECRET_QUERY = re.compile(r"(?i)([?&](?:apikey|api_key|key|token|access_token)=)[^&\s\"'#]*")


class ConnectorError(ToolError):
    """A vendor call failed; the message is safe to show an agent (no secrets, no URLs with keys)."""


@dataclass(frozen=True)
class Vendor:
    """How to reach one vendor: where, which env var holds the key, and how the key is sent."""

    name: str
    base_url: str
    key_env: str
    auth: AuthStyle
    auth_name: str = ""
    timeout_s: float = DEFAULT_TIMEOUT_S
    extra_headers: tuple[tuple[str, str], ...] = ()

    def api_key(self) -> str:
        """The key, read now (never at import), or a clear error naming the variable to set."""
        value = os.environ.get(self.key_env, "").strip()
        if not value:
            raise ConnectorError(f"{self.key_env} is not set; the {self.name} connector needs an API key there")
        return value


def required_env(name: str, purpose: str) -> str:
    """A non-secret setting from the environment, read at call time, or an error naming the variable."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConnectorError(f"{name} is not set; it must hold {purpose}")
    return value


class _RedactSecretsFilter(logging.Filter):
    """Masks key-bearing query parameters in httpx's "HTTP Request: GET <url>" lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        redacted = _SECRET_QUERY.sub(r"\1***", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def _install_log_redaction() -> None:
    for name in ("httpx", "httpcore"):
        target = logging.getLogger(name)
        if not any(isinstance(f, _RedactSecretsFilter) for f in target.filters):
            target.addFilter(_RedactSecretsFilter())


def redact(text: str, *secrets: str) -> str:
    """`text` with every secret and every key-bearing query parameter masked."""
    for secret in secrets:
        if len(secret) >= 4:  # shorter "keys" are test artefacts; masking them would garble ordinary words
            text = text.replace(secret, "***")
    return _SECRET_QUERY.sub(r"\1***", text)


def make_client(vendor: Vendor, *, timeout_s: float | None = None) -> httpx.AsyncClient:
    """An AsyncClient for `vendor`: base URL, auth from the environment (read now), bounded timeouts."""
    key = vendor.api_key()
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **dict(vendor.extra_headers)}
    params: dict[str, str] = {}
    if vendor.auth == "header":
        headers[vendor.auth_name] = key
    elif vendor.auth == "bearer":
        headers["Authorization"] = f"Bearer {key}"
    else:
        params[vendor.auth_name] = key
    _install_log_redaction()
    seconds = timeout_s or vendor.timeout_s
    return httpx.AsyncClient(
        base_url=vendor.base_url,
        headers=headers,
        params=params,
        timeout=httpx.Timeout(seconds, connect=min(CONNECT_TIMEOUT_S, seconds)),
    )


def _retry_after_seconds(value: str | None) -> int | None:
    """Retry-After as whole seconds; it may be a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0, math.ceil(float(value)))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0, math.ceil(when.timestamp() - time.time()))


def _vendor_detail(response: httpx.Response) -> str:
    """The vendor's own one-line reason, if its error body has one."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:_DETAIL_MAX] if text and not text.startswith("<") else ""
    if isinstance(body, dict) and isinstance(body.get("data"), dict) and "message" in body["data"]:
        body = body["data"]  # Portkey nests its reason as {"success": false, "data": {"message": ...}}
    if isinstance(body, dict):
        for key in ("error_message", "message", "detail", "title", "error", "errors"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("detail")
            if isinstance(value, list) and value:
                value = value[0] if isinstance(value[0], str) else None
            if isinstance(value, str) and value.strip():
                return value.strip()[:_DETAIL_MAX]
    return ""


def describe_failure(vendor: Vendor, failure: httpx.Response | Exception, *, keyless: bool = False) -> str:
    """One sentence for an agent: what went wrong with `vendor` and what to do about it.

    `keyless` marks a request that carried no key (a public file download), so a 401/403 there is not the key's
    fault.
    """
    secret = os.environ.get(vendor.key_env, "").strip()
    name = vendor.name
    if isinstance(failure, httpx.TimeoutException):
        return f"cannot reach {name} (no answer in time); retry later"
    if isinstance(failure, httpx.HTTPError):
        return f"cannot reach {name} ({type(failure).__name__}); check the network and retry"
    if isinstance(failure, Exception):
        return redact(f"{name} call failed: {failure}", secret)
    status = failure.status_code
    detail = redact(_vendor_detail(failure), secret)
    said = f"; {name} said: {detail}" if detail else ""
    if status in (401, 403) and not keyless:
        return f"the API key in ${vendor.key_env} was refused by {name} (HTTP {status}); check it{said}"
    if status == 429:
        seconds = _retry_after_seconds(failure.headers.get("Retry-After"))
        if seconds is not None:
            return f"rate limited by {name}, retry after {seconds} s"
        return f"rate limited by {name}; retry later"
    if status >= 500:
        return f"{name} failed (HTTP {status}); retry later"
    return f"{name} rejected the request (HTTP {status}){said}"


async def request(
    vendor: Vendor,
    method: str,
    path: str,
    *,
    client: httpx.AsyncClient | None = None,
    params: dict[str, Any] | None = None,
    json_body: Any = None,
    timeout_s: float | None = None,
) -> httpx.Response:
    """Send one request to `vendor`; a transport failure or HTTP error status raises ConnectorError."""
    owned = client is None
    http = client or make_client(vendor, timeout_s=timeout_s)
    try:
        logger.debug("%s %s %s", vendor.name, method, path)
        response = await http.request(method, path, params=params, json=json_body)
    except httpx.HTTPError as exc:
        raise ConnectorError(describe_failure(vendor, exc)) from None
    finally:
        if owned:
            await http.aclose()
    if response.status_code >= 400:
        raise ConnectorError(describe_failure(vendor, response))
    return response


def parse_json(vendor: Vendor, response: httpx.Response) -> Any:
    """The JSON body, or a clear error when the vendor answered with something else."""
    try:
        return response.json()
    except ValueError:
        raise ConnectorError(
            f"{vendor.name} answered HTTP {response.status_code} with a body that is not JSON"
        ) from None


def expect_object(vendor: Vendor, body: Any) -> dict[str, Any]:
    """`body` when it is a JSON object; otherwise a clear error rather than an AttributeError deep in a tool."""
    if not isinstance(body, dict):
        raise ConnectorError(f"{vendor.name} answered with an unexpected shape ({type(body).__name__}, not an object)")
    return body


async def request_json(
    vendor: Vendor,
    method: str,
    path: str,
    *,
    client: httpx.AsyncClient | None = None,
    params: dict[str, Any] | None = None,
    json_body: Any = None,
    timeout_s: float | None = None,
) -> Any:
    """`request`, then the parsed JSON body."""
    response = await request(
        vendor, method, path, client=client, params=params, json_body=json_body, timeout_s=timeout_s
    )
    return parse_json(vendor, response)


async def get_public_json(vendor: Vendor, url: str, *, timeout_s: float | None = None) -> Any:
    """GET a public file the vendor hosts (no key is sent), with the same error wording."""
    _install_log_redaction()
    seconds = timeout_s or vendor.timeout_s
    timeout = httpx.Timeout(seconds, connect=min(CONNECT_TIMEOUT_S, seconds))
    async with httpx.AsyncClient(timeout=timeout, headers={"User-Agent": USER_AGENT}) as http:
        try:
            response = await http.get(url)
        except httpx.HTTPError as exc:
            raise ConnectorError(describe_failure(vendor, exc)) from None
    if response.status_code >= 400:
        raise ConnectorError(describe_failure(vendor, response, keyless=True))
    return parse_json(vendor, response)
