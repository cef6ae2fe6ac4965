"""Resources, prompts and completions at an endpoint; what `initialize` says the endpoint is and serves.

On a pool endpoint every request goes to the upstream as the client sent it and its answer comes back as the
upstream sent it; only the pool's `prompts` / `resources` filters apply. On tier and `/mcp` endpoints, prompt
names and resource URIs carry their pool (see `names`), lists are merged, and URIs inside results (resource
links, embedded resources, read contents) carry their pool too, so a client can read back what a tool or prompt
pointed at. Reads, prompt gets and completions count against the pool's rate limits like tool calls; a
resource URI of an egress pool is checked against its egress policy like a URL argument.

A mixin of `Router`: it uses the router's pools, catalogue, rate limits and dedicated bindings.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from mcp import types

from orchestra.gateway.egress import EgressRefused
from orchestra.gateway.errors import EgressDenied, GatewayError, ReplicaReset, ReplicaUnreachable, SessionLost
from orchestra.gateway.modern import MODERN_VERSIONS
from orchestra.gateway.names import by_own_name, namespace_block, namespaced_name, namespaced_uri, split_uri
from orchestra.gateway.rpc import CallLog, RpcError
from orchestra.gateway.stores import SessionRecord

if TYPE_CHECKING:
    from orchestra.gateway.channel import Channel
    from orchestra.gateway.pool import Pool
    from orchestra.gateway.router import Endpoint, Router

METHODS = frozenset({
    "resources/list", "resources/templates/list", "resources/read", "resources/subscribe",
    "resources/unsubscribe", "prompts/list", "prompts/get", "completion/complete",
})  # fmt: skip
log = logging.getLogger("orchestra.gateway")
_DEDICATED_LISTING_WAIT = 1.0  # a listing on a dedicated pool waits this long at most for an unowned spare


def _invalid(message: str) -> RpcError:
    return RpcError({"code": types.INVALID_PARAMS, "message": message})


def url_of(endpoint: Endpoint) -> str:
    return "/mcp" if endpoint.kind == "all" else f"/{endpoint.path}/mcp"


class EndpointFeatures:
    """`resources/*`, `prompts/*`, `completion/complete` and the `initialize` answer, for `Router`."""

    # -- what an endpoint is and offers ---------------------------------------------------------------
    def capabilities(self: Router, endpoint: Endpoint) -> dict[str, Any]:
        """What the endpoint serves: tools and logging always (list changes are relayed on the GET stream);
        prompts, resources, subscriptions and completions when one of its pools offers them and shows them."""
        pools = self.pools_of(endpoint)
        capabilities: dict[str, Any] = {"logging": {}, "tools": {"listChanged": True}}
        if any(pool.shows("prompts") for pool in pools):
            capabilities["prompts"] = {"listChanged": True}
        shown = [pool for pool in pools if pool.shows("resources")]
        if shown:
            subscribe = any(pool.offers("subscribe") for pool in shown)
            capabilities["resources"] = {"subscribe": subscribe, "listChanged": True}
        if any(pool.offers("completions") and (pool.shows("prompts") or pool.shows("resources")) for pool in pools):
            capabilities["completions"] = {}
        return capabilities

    def server_info(self: Router, endpoint: Endpoint, version: str) -> tuple[dict[str, Any], str]:
        """`serverInfo` and `instructions`: a pool endpoint's are its upstream's own, unchanged; a tier or `/mcp`
        endpoint's name the pools (and their servers) it aggregates, with each upstream's instructions."""
        pools = self.pools_of(endpoint)
        if endpoint.kind == "pools" and pools and (init := pools[0].init_result) is not None:
            info = init.serverInfo.model_dump(by_alias=True, exclude_none=True, mode="json")
            return info, init.instructions or ""
        names = ", ".join(pool.name for pool in pools) or "none"
        what = "pool" if endpoint.kind == "pools" else "every pool" if endpoint.kind == "all" else "tier"
        title = f"Orchestra MCP gateway, {what} {endpoint.name or ''}".rstrip() + f" (pools: {names})"
        info = {"name": f"orchestra-gateway/{endpoint.path}", "title": title, "version": version}
        if endpoint.kind == "pools":  # its upstream has not started yet
            return info, f"Orchestra MCP gateway, endpoint {url_of(endpoint)}; its upstream is not up yet."
        lines = [
            f"Orchestra MCP gateway, endpoint {url_of(endpoint)}. It aggregates these pools (MCP servers): "
            f"{names}. Tools and prompts are named <pool>__<name>; resource URIs are <pool>+<uri>.",
        ]
        for pool in pools:
            init = pool.init_result
            server = f"{init.serverInfo.name} {init.serverInfo.version}" if init else "not started yet"
            about = f": {pool.config.description}" if pool.config.description else ""
            lines.append(f"\n## Pool {pool.name} ({server}){about}")
            if init is not None and init.instructions:
                lines.append(init.instructions.strip())
        return info, "\n".join(lines)

    # -- dispatch -------------------------------------------------------------------------------------
    async def feature_request(
        self: Router, endpoint: Endpoint, session: SessionRecord, key_id: str | None, method: str, params: Any
    ) -> Any:
        params = params if isinstance(params, dict) else {}
        if method == "prompts/list":
            return await self._list_prompts(endpoint, session, params)
        if method == "prompts/get":
            return await self._get_prompt(endpoint, session, key_id, params)
        if method == "resources/list":
            return await self._merged_list(endpoint, session, params, method, "resources", "uri")
        if method == "resources/templates/list":
            return await self._merged_list(endpoint, session, params, method, "resourceTemplates", "uriTemplate")
        if method == "resources/read":
            return await self._read_resource(endpoint, session, key_id, params)
        if method == "resources/subscribe":
            return await self._subscribe(endpoint, session, params)
        if method == "resources/unsubscribe":
            return await self._unsubscribe(endpoint, session, params)
        return await self._complete(endpoint, session, key_id, params)

    # -- prompts --------------------------------------------------------------------------------------
    async def _prompt_catalog(self: Router, endpoint: Endpoint) -> dict[str, tuple[Pool, types.Prompt]]:
        catalog: dict[str, tuple[Pool, types.Prompt]] = {}
        for pool in self.pools_of(endpoint):
            if pool.shows("prompts"):
                for prompt in await pool.list_prompts():
                    catalog[namespaced_name(pool.name, prompt.name, catalog)] = (pool, prompt)
        return catalog

    async def _list_prompts(self: Router, endpoint: Endpoint, session: SessionRecord, params: dict[str, Any]) -> Any:
        if endpoint.kind == "pools":
            pool = self.pools_of(endpoint)[0]
            page = await self._upstream(pool, session, "prompts/list", params, listing=True)
            return _filtered(page, "prompts", lambda p: pool.config.permits_prompt(str(p.get("name"))))
        catalog = await self._prompt_catalog(endpoint)
        prompts = [prompt.model_copy(update={"name": name}) for name, (_, prompt) in catalog.items()]
        return {"prompts": [p.model_dump(by_alias=True, exclude_none=True, mode="json") for p in prompts]}

    async def _resolve_prompt(self: Router, endpoint: Endpoint, name: Any) -> tuple[Pool, str]:
        if not isinstance(name, str) or not name:
            raise _invalid("the prompt's name must be a non-empty string")
        if endpoint.kind == "pools":
            pool = self.pools_of(endpoint)[0]
            if not pool.config.permits_prompt(name):
                raise _invalid(f"prompt {name[:200]!r} of pool {pool.name!r} is not exposed by this gateway "
                               f"(gateway.pools.{pool.name}.prompts)")  # fmt: skip
            return pool, name
        catalog = await self._prompt_catalog(endpoint)
        owned = [] if name in catalog else by_own_name(name, catalog)
        if len(owned) > 1:
            raise _invalid(f"prompt {name[:200]!r} is served by several pools here: {', '.join(owned)}; use one")
        name = owned[0] if owned else name
        if name not in catalog:
            raise _invalid(f"unknown prompt {name[:200]!r} at {url_of(endpoint)}; call prompts/list for the names")
        pool, prompt = catalog[name]
        return pool, prompt.name

    async def _get_prompt(
        self: Router, endpoint: Endpoint, session: SessionRecord, key_id: str | None, params: dict[str, Any]
    ) -> Any:
        pool, name = await self._resolve_prompt(endpoint, params.get("name"))
        await self._check_rate_limits(pool, key_id)
        result = await self._upstream(pool, session, "prompts/get", {**params, "name": name})
        if endpoint.kind != "pools" and isinstance(result, dict) and isinstance(result.get("messages"), list):
            result = {**result, "messages": [_namespace_message(pool.name, m) for m in result["messages"]]}
        return result

    # -- resources ------------------------------------------------------------------------------------
    def _resolve_uri(self: Router, endpoint: Endpoint, uri: Any) -> tuple[Pool, str]:
        if not isinstance(uri, str) or not uri:
            raise _invalid("the resource's uri must be a non-empty string")
        if endpoint.kind == "pools":
            pool, upstream = self.pools_of(endpoint)[0], uri
        else:
            split = split_uri(uri)
            pools = {pool.name: pool for pool in self.pools_of(endpoint)}
            # sent without its pool: the one pool of the endpoint that serves resources and would show it
            serving = [p for p in pools.values() if p.shows("resources") and p.config.permits_resource(uri)]
            if (split is None or split[0] not in pools) and len(serving) == 1:
                split = (serving[0].name, uri)
            if split is None or split[0] not in pools:
                raise _invalid(f"resource {uri[:200]!r} names no pool of {url_of(endpoint)}: URIs here are "
                               "<pool>+<uri>, as resources/list shows them")  # fmt: skip
            pool, upstream = pools[split[0]], split[1]
        if not pool.config.permits_resource(upstream):
            raise _invalid(f"resource {uri[:200]!r} is not exposed by this gateway (gateway.pools.{pool.name}."
                           "resources)")  # fmt: skip
        return pool, upstream

    async def _merged_list(
        self: Router,
        endpoint: Endpoint,
        session: SessionRecord,
        params: dict[str, Any],
        method: str,
        key: str,
        field: str,
    ) -> Any:
        """A pool endpoint passes pages through (filtered). A namespaced endpoint asks each of its pools for a page
        at once and merges them; its cursor holds each pool's own next cursor, so a client that follows it gets
        every pool's later pages, and one that does not still sees every pool's first page. A pool that cannot
        answer is left out (and logged), as in tool listing."""
        if endpoint.kind == "pools":
            pool = self.pools_of(endpoint)[0]
            page = await self._upstream(pool, session, method, params, listing=True)
            return _filtered(page, key, lambda item: pool.config.permits_resource(str(item.get(field))))
        pools = {pool.name: pool for pool in self.pools_of(endpoint) if pool.shows("resources")}
        cursors = _decode_cursor(params.get("cursor"), pools, endpoint)
        names = list(cursors)

        async def page_of(name: str) -> Any:
            cursor = cursors[name]
            try:
                return await self._upstream(pools[name], session, method, {"cursor": cursor} if cursor else None,
                                            listing=True)  # fmt: skip
            except (GatewayError, RpcError) as exc:
                log.warning("pool %s left out of %s: %s", name, method, exc)
                return None

        items: list[dict[str, Any]] = []
        following: dict[str, str] = {}
        for name, page in zip(names, await asyncio.gather(*(page_of(name) for name in names)), strict=True):
            if not isinstance(page, dict) or not isinstance(page.get(key), list):
                continue
            pool = pools[name]
            items += [
                {**item, field: namespaced_uri(name, item[field])}
                for item in page[key]
                if isinstance(item, dict) and isinstance(item.get(field), str)
                and pool.config.permits_resource(item[field])
            ]  # fmt: skip
            upstream_next = page.get("nextCursor")
            if isinstance(upstream_next, str) and upstream_next and upstream_next != cursors[name]:
                following[name] = upstream_next
        return {key: items, **({"nextCursor": _encode_cursor(following)} if following else {})}

    async def _read_resource(
        self: Router, endpoint: Endpoint, session: SessionRecord, key_id: str | None, params: dict[str, Any]
    ) -> Any:
        pool, uri = self._resolve_uri(endpoint, params.get("uri"))
        await self._check_resource_egress(pool, uri)
        await self._check_rate_limits(pool, key_id)
        result = await self._upstream(pool, session, "resources/read", {**params, "uri": uri})
        if endpoint.kind != "pools" and isinstance(result, dict) and isinstance(result.get("contents"), list):
            contents = [
                {**c, "uri": namespaced_uri(pool.name, c["uri"])} if isinstance(c, dict) and isinstance(c.get("uri"),
                                                                                                       str) else c
                for c in result["contents"]
            ]  # fmt: skip
            result = {**result, "contents": contents}
        return result

    async def _check_resource_egress(self: Router, pool: Pool, uri: str) -> None:
        """An egress pool reads http(s) resources only where its policy allows (like URL arguments of its tools)."""
        if pool.egress is None or not uri.lower().startswith(("http:", "https:")):
            return
        try:
            await pool.egress.check_url(uri)
        except EgressRefused as refused:
            raise EgressDenied(f"pool {pool.name!r} may not open that URL: {refused}", pool=pool.name) from None

    async def _subscribe(self: Router, endpoint: Endpoint, session: SessionRecord, params: dict[str, Any]) -> Any:
        pool, uri = self._resolve_uri(endpoint, params.get("uri"))
        if pool.config.session == "dedicated":  # in the client's own upstream session, whose updates are its own
            await self._upstream(pool, session, "resources/subscribe", {**params, "uri": uri})
        else:
            await pool.subscribe(uri, session.id)
            self._subscribed.setdefault(session.id, set()).add(pool.name)
        return {}

    async def _unsubscribe(self: Router, endpoint: Endpoint, session: SessionRecord, params: dict[str, Any]) -> Any:
        pool, uri = self._resolve_uri(endpoint, params.get("uri"))
        if pool.config.session == "dedicated":
            await self._upstream(pool, session, "resources/unsubscribe", {**params, "uri": uri})
        else:
            await pool.unsubscribe(uri, session.id)
        return {}

    # -- completion -----------------------------------------------------------------------------------
    async def _complete(
        self: Router, endpoint: Endpoint, session: SessionRecord, key_id: str | None, params: dict[str, Any]
    ) -> Any:
        ref = params.get("ref")
        if not isinstance(ref, dict):
            raise _invalid("params.ref must be an object")
        if ref.get("type") == "ref/prompt":
            pool, name = await self._resolve_prompt(endpoint, ref.get("name"))
            ref = {**ref, "name": name}
        elif ref.get("type") == "ref/resource":
            pool, uri = self._resolve_uri(endpoint, ref.get("uri"))
            ref = {**ref, "uri": uri}
        else:
            raise _invalid("params.ref.type must be ref/prompt or ref/resource")
        await self._check_rate_limits(pool, key_id)
        return await self._upstream(pool, session, "completion/complete", {**params, "ref": ref})

    # -- the hop --------------------------------------------------------------------------------------
    async def _upstream(
        self: Router, pool: Pool, session: SessionRecord, method: str, params: dict[str, Any], *, listing: bool = False
    ) -> Any:
        """The upstream's answer to a request other than tools/call (see `_upstream_answer`). A modern upstream's
        `input_required` goes to a modern client as it is; a legacy client's request has no stream to be asked on
        (its reply is plain JSON), so it hears why instead of a result it cannot read."""
        result = await self._upstream_answer(pool, session, method, params, listing=listing)
        legacy = session.protocol_version not in MODERN_VERSIONS
        if legacy and isinstance(result, dict) and result.get("resultType") == "input_required":
            asked = sorted({str(r.get("method")) for r in (result.get("inputRequests") or {}).values()
                            if isinstance(r, dict)})  # fmt: skip
            raise RpcError({"code": types.INVALID_REQUEST, "message": f"pool {pool.name!r} needs input from the "
                            f"client ({', '.join(asked) or 'a retry'}) to answer {method}, which the gateway can "
                            "ask only during a tools/call (or of an MCP 2026-07-28 client)"})  # fmt: skip
        return result

    async def _upstream_answer(
        self: Router, pool: Pool, session: SessionRecord, method: str, params: Any, *, listing: bool = False
    ) -> Any:
        """Send a request to the pool: on a dedicated pool in the client's own upstream session (a listing uses it
        only if it exists: listing opens no browser; else an unowned spare, never another client's session, and
        waits at most a second for one), else on any replica, failed over (these requests only read). Log messages
        it causes go to no client (its reply is plain JSON), never to another session."""
        log_to = CallLog(session.id, None, capabilities=session.capabilities)
        if self.owns_session(pool, session):
            binding = self._bindings.get(session.id, {}).get(pool.name)
            if binding is None and not listing:
                binding = await self._binding(pool, session)
            if binding is not None:
                binding.calls += 1
                binding.last_used = time.monotonic()
                try:
                    return await binding.channel.request(method, params, log_to=log_to)
                except (ReplicaReset, ReplicaUnreachable):
                    await self.lose_binding(session, pool.name)
                    raise SessionLost(f"the {pool.name!r} upstream session is gone (its state is lost); "
                                      "initialize a new session", pool=pool.name) from None  # fmt: skip
                finally:
                    binding.calls -= 1
                    binding.last_used = time.monotonic()
            return await pool.request(method, params, log_to=log_to, wait=_DEDICATED_LISTING_WAIT)
        return await pool.request(method, params, log_to=log_to)

    # -- upstream notices -----------------------------------------------------------------------------
    def _pool_event(self: Router, pool: Pool, channel: Channel, method: str, params: dict[str, Any]) -> None:
        """An upstream's notice, told to the client sessions it concerns: a dedicated upstream session's to its
        own client only; a shared pool's list changes to every session of an endpoint serving the pool, its
        resource updates to the sessions subscribed to that resource, its log messages outside calls to the
        sessions that set a log level (each message's logger names its pool on tier and `/mcp` endpoints), a URL
        elicitation's completion to the session it was asked of."""
        owner = next(
            (sid for sid, bindings in self._bindings.items() if any(b.channel is channel for b in bindings.values())),
            None,
        )
        if method == "notifications/elicitation/complete":  # to the session the URL elicitation went to
            session_id = channel.connection.elicited.pop(str(params.get("elicitationId")), None)
            if session_id is not None:
                self.push.send(session_id, lambda _: {"jsonrpc": "2.0", "method": method, "params": params})
            return
        if method == "notifications/message":
            if owner is None and pool.config.session == "dedicated":
                return  # from a dedicated upstream session no client owns any more
            self.push.log(lambda ep: pool in self.pools_of(ep), lambda ep: _logged(ep, pool.name, params),
                          str(params.get("level")), only=owner)  # fmt: skip
            return
        if method.endswith("/list_changed"):
            message = {"jsonrpc": "2.0", "method": method}
            if owner is not None:
                self.push.send(owner, lambda _: message)
            elif pool.config.session == "shared" or method != "notifications/resources/list_changed":
                self.push.broadcast(lambda ep: pool in self.pools_of(ep), message)
            return
        uri = params.get("uri")
        if method != "notifications/resources/updated" or not isinstance(uri, str):
            return
        recipients = [owner] if owner is not None else sorted(pool.subscriptions.get(uri, ()))
        if owner is None and pool.config.session == "dedicated":
            recipients = []  # an update from a dedicated upstream session no client owns any more
        for session_id in recipients:
            self.push.send(session_id, lambda ep: _updated(ep, pool.name, uri, params))


def _namespace_message(pool: str, message: Any) -> Any:
    if isinstance(message, dict) and "content" in message:
        return {**message, "content": namespace_block(pool, message["content"])}
    return message


def _logged(endpoint: Endpoint, pool: str, params: dict[str, Any]) -> dict[str, Any]:
    if endpoint.kind != "pools":
        params = {**params, "logger": f"{pool}/{params['logger']}" if params.get("logger") else pool}
    return {"jsonrpc": "2.0", "method": "notifications/message", "params": params}


def _updated(endpoint: Endpoint, pool: str, uri: str, params: dict[str, Any]) -> dict[str, Any]:
    shown = uri if endpoint.kind == "pools" else namespaced_uri(pool, uri)
    return {"jsonrpc": "2.0", "method": "notifications/resources/updated", "params": {**params, "uri": shown}}


def _filtered(page: Any, key: str, permits: Any) -> Any:
    if isinstance(page, dict) and isinstance(page.get(key), list):
        return {**page, key: [item for item in page[key] if isinstance(item, dict) and permits(item)]}
    return page


def _encode_cursor(cursors: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(cursors, separators=(",", ":")).encode()).decode()


def _decode_cursor(cursor: Any, pools: dict[str, Pool], endpoint: Endpoint) -> dict[str, str | None]:
    """Each pool's next upstream cursor; no cursor starts every pool at its first page."""
    if cursor is None:
        return dict.fromkeys(pools)
    try:
        cursors = json.loads(base64.urlsafe_b64decode(str(cursor).encode()))
        if isinstance(cursors, dict) and all(k in pools and isinstance(v, str) for k, v in cursors.items()):
            return cursors
    except (ValueError, TypeError, binascii.Error):
        pass
    raise _invalid(f"invalid cursor at {url_of(endpoint)}; list again without one")
