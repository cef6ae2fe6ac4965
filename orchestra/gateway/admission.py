"""Who may reach the MCP endpoints: the Host and Origin checks MCP prescribes against DNS rebinding, and API keys.

A web page can make a browser send requests to a gateway on 127.0.0.1 (directly, or after rebinding its own
name to 127.0.0.1). Such requests carry the page's `Origin`, and after rebinding a foreign `Host`; both are
refused with 403 unless the operator listed them. Keys are compared in constant time and identified by a
hash prefix, so no key ever reaches a log, a session record or Redis.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from orchestra.gateway.config import GatewayConfig
from orchestra.gateway.wire import JsonReply

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})
_WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})


class Refused(Exception):
    """The request may not pass; `response` says why."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def split_host(value: str) -> tuple[str, str | None]:
    """`name[:port]` (IPv6 in brackets) as (lower-case name, port or None)."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value.partition("]")
        return f"{name}]", rest.removeprefix(":") or None
    name, _, port = value.partition(":")
    return name, port or None


class Admission:
    """Decides whether a request reaches an MCP endpoint, and with which key id."""

    def __init__(self, config: GatewayConfig, environ: Mapping[str, str]) -> None:
        self.keys = [key.strip() for key in environ.get(config.auth.keys_env, "").split(",") if key.strip()]
        self._any_host = "*" in config.http.allowed_hosts
        self._hosts = {split_host(entry) for entry in config.http.allowed_hosts if entry != "*"}
        self._origins = {origin.strip().lower().rstrip("/") for origin in config.http.allowed_origins}
        self._bind = config.host

    @property
    def wildcard_bind_without_hosts(self) -> bool:
        return self._bind in _WILDCARD_BINDS and not self._hosts and not self._any_host

    def host_allowed(self, header: str | None) -> bool:
        if self._any_host:
            return True
        if not header:
            return False
        name, port = split_host(header)
        if name in LOOPBACK_NAMES or name == self._bind.lower():
            return True
        return (name, port) in self._hosts or (name, None) in self._hosts

    def origin_allowed(self, header: str | None, host: str | None = None) -> bool:
        """An allowed origin, none, or the gateway's own: the origin of a Host it answers to by name (loopback or
        `allowed_hosts`, never through `*`), as the SDK's DNS-rebinding protection allows. A rebound page carries
        its own, foreign Host, which the Host check has refused already."""
        if header is None:
            return True
        origin = header.strip().lower().rstrip("/")
        if origin in self._origins:
            return True
        return (
            host is not None and self._named(host) and origin in (f"http://{host.lower()}", f"https://{host.lower()}")
        )

    def _named(self, host: str) -> bool:
        name, port = split_host(host)
        return name in LOOPBACK_NAMES or (name, port) in self._hosts or (name, None) in self._hosts

    def key_id(self, request: Request) -> str | None:
        """The id (a hash prefix, never the key) of the key the request presents; raises `Refused` (401) if none."""
        if not self.keys:
            return None
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and presented:
            for key in self.keys:
                if secrets.compare_digest(key.encode(), presented.strip().encode()):
                    return hashlib.sha256(key.encode()).hexdigest()[:12]
        raise Refused(
            JsonReply(
                {"error": "unauthorized", "detail": "send `Authorization: Bearer <key>` with a key from the operator"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        )

    def check_host_and_origin(self, request: Request) -> None:
        """Raises `Refused` (403) for a foreign Host or Origin."""
        if not self.host_allowed(request.headers.get("host")):
            raise Refused(_forbidden("Host", "gateway.http.allowed_hosts"))
        if not self.origin_allowed(request.headers.get("origin"), request.headers.get("host")):
            raise Refused(_forbidden("Origin", "gateway.http.allowed_origins"))

    def admit(self, request: Request) -> str | None:
        """Host, then Origin, then key; returns the key id, or raises `Refused` (403 or 401)."""
        self.check_host_and_origin(request)
        return self.key_id(request)


def _forbidden(header: str, setting: str) -> Response:
    return JsonReply(
        {
            "error": "forbidden",
            "detail": f"this {header} header is not allowed (DNS-rebinding protection); an operator can list it "
            f"in {setting}",
        },
        status_code=403,
    )
