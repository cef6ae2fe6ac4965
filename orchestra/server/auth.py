"""Who may call the server, and as which tenant: API keys bound to tenants, plus the gateway's Host and Origin
checks against DNS rebinding (a web page must not reach a server on 127.0.0.1 through the visitor's browser).

Keys come from the environment variable `server.auth.keys_env`, comma-separated, each `tenant=key` or a bare
`key` (tenant `key-` + 12 hex digits of its SHA-256). They are compared in constant time and never logged; without
keys every client is the tenant `local`, which only a loopback bind (or `allow_anonymous`) permits.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from orchestra.core.models_config import TENANT_NAME
from orchestra.gateway.admission import LOOPBACK_NAMES, is_loopback, split_host
from orchestra.server.config import ServerConfig

LOCAL_TENANT = "local"
_WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})


class AuthConfigError(ValueError):
    """The keys or the bind cannot be used; the message names the variable or setting and the fix."""


@dataclass(frozen=True)
class Tenants:
    """The accepted keys and the tenant each is bound to."""

    keys: tuple[tuple[bytes, str], ...] = ()

    @classmethod
    def parse(cls, text: str, variable: str) -> Tenants:
        found: list[tuple[bytes, str]] = []
        for index, entry in enumerate(part.strip() for part in text.split(",")):
            if not entry:
                continue
            tenant, sep, key = entry.partition("=")
            if sep and key.strip("="):
                if not TENANT_NAME.match(tenant):
                    raise AuthConfigError(
                        f"{variable}: in entry {index + 1} the text before '=' is not a tenant name (1-64 of a-z, "
                        "0-9, '_' and '-', starting with a letter or digit); write it as `tenant=key`"
                    )
            else:  # a bare key; `abc==` is one too (base64 padding), not tenant `abc`
                tenant, key = f"key-{hashlib.sha256(entry.encode()).hexdigest()[:12]}", entry
            if any(secrets.compare_digest(known, key.encode()) for known, _ in found):
                raise AuthConfigError(f"{variable}: entry {index + 1} repeats a key; give each tenant its own key")
            found.append((key.encode(), tenant))
        return cls(tuple(found))

    @property
    def enabled(self) -> bool:
        return bool(self.keys)

    def tenant_of(self, presented: str) -> str | None:
        """The tenant whose key this is; every key is compared, so the time taken does not say which matched."""
        matched: str | None = None
        candidate = presented.encode()
        for key, tenant in self.keys:
            if secrets.compare_digest(key, candidate):
                matched = tenant
        return matched


class Access:
    """Host, Origin and key checks for one server configuration."""

    def __init__(self, config: ServerConfig, environ: Mapping[str, str]) -> None:
        self.tenants = Tenants.parse(environ.get(config.auth.keys_env, ""), config.auth.keys_env)
        self._config = config
        self.keys_env = config.auth.keys_env
        self._any_host = "*" in config.http.allowed_hosts
        self._hosts = {split_host(entry) for entry in config.http.allowed_hosts if entry != "*"}
        self._origins = {origin.strip().lower().rstrip("/") for origin in config.http.allowed_origins}

    def check_bind(self, host: str) -> None:
        """Refuse a bind that would expose the server without keys, or a wildcard bind without allowed hosts."""
        auth = self._config.auth
        if not self.tenants.enabled and not is_loopback(host) and not auth.allow_anonymous:
            raise AuthConfigError(
                f"refusing to serve on {host} without API keys: set {auth.keys_env} (e.g. acme=KEY1,globex=KEY2), "
                "bind 127.0.0.1, or set server.auth.allow_anonymous: true"
            )
        if host in _WILDCARD_BINDS and not self._hosts and not self._any_host:
            raise AuthConfigError(
                f"refusing to serve on {host or '*'} with no server.http.allowed_hosts: list the host names clients "
                "use (DNS-rebinding protection), or '*' to accept any"
            )

    def host_allowed(self, header: str | None, bound: str) -> bool:
        if self._any_host:
            return True
        if not header:
            return False
        name, port = split_host(header)
        if name in LOOPBACK_NAMES or name == bound.lower():
            return True
        return (name, port) in self._hosts or (name, None) in self._hosts

    def origin_allowed(self, origin: str | None, host: str | None) -> bool:
        """No Origin (not a browser), a listed one, or the server's own (its web chat): the Host was checked first,
        so a page on a rebound name cannot pass as same-origin."""
        if origin is None:
            return True
        value = origin.strip().lower().rstrip("/")
        if value in self._origins:
            return True
        _, _, netloc = value.partition("://")
        return bool(host) and netloc == (host or "").strip().lower()

    def tenant_for(self, api_key: str | None, authorization: str | None) -> str | None:
        """The caller's tenant from `X-Api-Key` or `Authorization: Bearer`; None when keys are set and neither
        matches (the caller answers 401)."""
        if not self.tenants.enabled:
            return LOCAL_TENANT
        if api_key:
            return self.tenants.tenant_of(api_key.strip())
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() == "bearer" and presented.strip():
            return self.tenants.tenant_of(presented.strip())
        return None
