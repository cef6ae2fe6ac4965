"""Egress policy for pools that reach out on a tool's behalf (fetch servers, browsers), and the proxy enforcing it.

A fetch or browser tool given `http://127.0.0.1:8700/admin/pools` would otherwise read the gateway's own admin
page, Redis, or a cloud metadata endpoint (SSRF). The decision is made on the addresses a name resolves to, not
on the name, and the proxy then connects to exactly the address it checked, so a name that resolves to a public
address for the check and to 127.0.0.1 for the connection (DNS rebinding) gains nothing. Every redirect is a new
request through the proxy and is decided again.

Why a proxy of our own rather than Playwright MCP's `--allowed-origins` or a library: Playwright documents its
origin lists as "not a security boundary" that "does not affect redirects", and the off-the-shelf Python proxies
resolve and connect inside their own code, where the resolve-check-connect-to-that-address step cannot be put.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

log = logging.getLogger("orchestra.gateway.egress")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Special-purpose ranges that are not public destinations, beyond what `is_global` reliably says on every
# Python 3.11 patch release (shared address space, benchmarking, documentation, multicast, reserved), and IPv6
# forms that carry an IPv4 address or are deprecated (IPv4-compatible, SIIT, local NAT64, Teredo, 6to4, site-local).
_NOT_PUBLIC = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
        "224.0.0.0/4", "240.0.0.0/4", "::/96", "::ffff:0:0:0/96", "64:ff9b:1::/48", "100::/64", "2001::/32",
        "2001:db8::/32", "2002::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    )
)  # fmt: skip


class EgressRefused(Exception):
    """The destination is not allowed; the message says which rule refused it."""


def is_public(address: Address) -> bool:
    """A globally routable unicast address; IPv6 forms that embed an IPv4 address are judged by that address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in ipaddress.ip_network("64:ff9b::/96"):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not any(address in net for net in _NOT_PUBLIC)


def parse_origin(text: str) -> tuple[str, str, int]:
    """(scheme, host, port) of `scheme://host[:port]`; raises ValueError naming the mistake."""
    parts = urlsplit(text.strip())
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(f"{text!r} is not an origin; write scheme://host[:port], e.g. http://127.0.0.1:8780")
    return parts.scheme, parts.hostname.lower(), parts.port or _DEFAULT_PORTS[parts.scheme]


@dataclass(frozen=True)
class EgressPolicy:
    """Which destinations a pool's upstream may reach. Non-public addresses on `own_ports` (the gateway's and
    its proxies' ports) stay out of reach whatever else is allowed."""

    pool: str
    allow_origins: frozenset[tuple[str, str, int]]
    allow_private: bool
    allow_public: bool
    own_ports: frozenset[int]
    connect_timeout: float

    async def addresses(self, scheme: str, host: str, port: int) -> list[Address]:
        """The checked addresses to connect to for `scheme://host:port`; raises `EgressRefused`."""
        host = host.strip("[]").lower()
        named = (scheme, host, port) in self.allow_origins or (
            scheme == "connect" and any((h, p) == (host, port) for _, h, p in self.allow_origins)
        )
        resolved = await self._resolve(host, port)
        for address in resolved:
            if port in self.own_ports and not is_public(address):
                raise EgressRefused(f"{host}:{port} is the gateway itself (or a port it uses)")
            if named:
                continue
            if not is_public(address) and not self.allow_private:
                raise EgressRefused(
                    f"{host} resolves to {address}, a private, loopback or link-local address; allow its origin "
                    f"in gateway.pools.{self.pool}.egress.allow_origins if the pool must reach it"
                )
            if is_public(address) and not self.allow_public:
                raise EgressRefused(f"{host} is on the public internet, which pool {self.pool!r} may not reach")
        return resolved

    async def _resolve(self, host: str, port: int) -> list[Address]:
        try:
            infos = await asyncio.wait_for(
                asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM), self.connect_timeout
            )
        except (OSError, TimeoutError, UnicodeError):
            raise EgressRefused(f"{host} does not resolve") from None
        found = {ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos}
        if not found:
            raise EgressRefused(f"{host} does not resolve")
        return sorted(found, key=lambda a: (a.version, int(a)))

    async def check_url(self, url: str) -> None:
        """A URL a tool is asked to open: http(s) only, to a destination this policy allows."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise EgressRefused(f"{url[:200]!r} is not a valid URL") from None
        if parts.scheme.lower() not in _DEFAULT_PORTS:
            shown = parts.scheme or "no scheme"
            raise EgressRefused(f"only http:// and https:// URLs may be opened, not {shown!r} ({url[:200]!r})")
        if not parts.hostname:
            raise EgressRefused(f"{url[:200]!r} names no host")
        scheme = parts.scheme.lower()
        await self.addresses(scheme, parts.hostname, port or _DEFAULT_PORTS[scheme])


class EgressProxy:
    """An HTTP/1.1 forward proxy on 127.0.0.1 (absolute-form requests for http, CONNECT tunnels for https and
    websockets) that lets through only what its policy allows. One request per client connection for plain
    http, so a kept-alive connection can never carry a second request to another host."""

    def __init__(
        self, policy: EgressPolicy, *, max_connections: int, on_refused: Callable[[], None] | None = None
    ) -> None:
        self.policy = policy
        self._slots = asyncio.Semaphore(max_connections)
        self._server: asyncio.Server | None = None
        self._on_refused = on_refused
        self.url = ""

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=64 * 1024)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.policy = dataclasses.replace(self.policy, own_ports=self.policy.own_ports | {port})

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._slots.locked():
            await _answer(writer, 503, "the egress proxy is at max_connections; retry shortly")
            return
        async with self._slots:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                await self._forward(head, reader, writer)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
                pass
            except EgressRefused as refused:
                log.info("egress of pool %s refused: %s", self.policy.pool, refused)
                if self._on_refused is not None:
                    self._on_refused()
                await _answer(writer, 403, f"Orchestra's egress policy refused this request: {refused}")
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

    async def _forward(self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line, _, rest = head.partition(b"\r\n")
        try:
            method, target, version = request_line.decode("latin-1").split(" ")
        except ValueError:
            await _answer(writer, 400, "malformed request line")
            return
        if method == "CONNECT":
            host, _, port_text = target.rpartition(":")
            if not port_text.isdigit():
                await _answer(writer, 400, "CONNECT needs host:port")
                return
            upstream_reader, upstream_writer = await self._open("connect", host, int(port_text))
            writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            await writer.drain()
        else:
            parts = urlsplit(target)
            if parts.scheme != "http" or not parts.hostname:
                await _answer(writer, 400, "send absolute http:// URLs, or CONNECT for https")
                return
            upstream_reader, upstream_writer = await self._open("http", parts.hostname, parts.port or 80)
            path = parts.path or "/"
            path += f"?{parts.query}" if parts.query else ""
            headers = [
                line
                for line in rest.split(b"\r\n")
                if line and not line.lower().startswith((b"proxy-", b"connection:", b"keep-alive:"))
            ]
            upstream_writer.write(
                f"{method} {path} {version}\r\n".encode("latin-1")
                + b"".join(line + b"\r\n" for line in headers)
                + b"Connection: close\r\n\r\n"
            )
        await _pipe_both(reader, writer, upstream_reader, upstream_writer)

    async def _open(self, scheme: str, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        addresses = await self.policy.addresses(scheme, host, port)
        for address in addresses:  # connect to an address that was checked, never re-resolve the name
            with contextlib.suppress(OSError, TimeoutError):
                return await asyncio.wait_for(asyncio.open_connection(str(address), port), self.policy.connect_timeout)
        raise EgressRefused(f"{host}:{port} did not accept a connection")


async def _pipe_both(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    upstream_reader: asyncio.StreamReader,
    upstream_writer: asyncio.StreamWriter,
) -> None:
    async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, TimeoutError):
            while chunk := await asyncio.wait_for(source.read(65536), 300):
                sink.write(chunk)
                await sink.drain()
        with contextlib.suppress(Exception):
            sink.write_eof()

    try:
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
    finally:
        upstream_writer.close()


async def _answer(writer: asyncio.StreamWriter, status: int, message: str) -> None:
    reason = {400: "Bad Request", 403: "Forbidden", 503: "Service Unavailable"}[status]
    body = message.encode()
    with contextlib.suppress(ConnectionError):
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nX-Orchestra-Egress: refused\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
