"""A real `orchestra serve` app on 127.0.0.1 (uvicorn in the tests' event loop), with the test graphs of
`graphs.py`, SQLite (or Redis) in a temporary data directory, and two tenants' keys."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from blockbuster import blockbuster_ctx
from langgraph.graph.state import CompiledStateGraph
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from orchestra.core.serving import serve_in_loop
from orchestra.core.settings import OrchestraSettings
from orchestra.server.app import create_app
from orchestra.server.config import ServerConfig
from tests.server.graphs import all_graphs

KEYS = {"acme": "acme-key-0123456789", "globex": "globex-key-0123456789"}
UNUSED_GATEWAY = "http://127.0.0.1:9"  # the test graphs call no tools


@contextlib.asynccontextmanager
async def serving(
    data_dir: Path,
    *,
    environ: dict[str, str] | None = None,
    graphs: dict[str, CompiledStateGraph] | None = None,
    **server: Any,
) -> AsyncIterator[str]:
    """The server app on a free loopback port for the block; yields its base URL."""
    settings = OrchestraSettings(data_dir=data_dir, server=ServerConfig.model_validate(server))
    keys = ",".join(f"{tenant}={key}" for tenant, key in KEYS.items())
    app = create_app(settings, {"ORCHESTRA_SERVER_KEYS": keys, **(environ or {})}, gateway_url=UNUSED_GATEWAY,
                     graphs=graphs if graphs is not None else all_graphs())  # fmt: skip
    async with serve_in_loop(app) as url:
        yield url


def client(url: str, tenant: str | None = "acme") -> LangGraphClient:
    return get_client(url=url, api_key=KEYS[tenant] if tenant else None, timeout=30)


@pytest.fixture(autouse=True)
def no_blocking_calls_in_the_server() -> Iterator[None]:
    """Fail any test during which the server's own code makes a blocking call (file, socket, sleep) on the event
    loop, as `langgraph dev` does."""
    with blockbuster_ctx("orchestra.server") as buster:
        # redis-py reads its own package metadata from disk for every new connection; not ours to move.
        for function in buster.functions.values():
            function.can_block_functions.append(("redis/utils.py", {"get_lib_version"}))
        yield


@pytest.fixture(scope="session")
async def server_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """One server for the tests that need no restart."""
    async with serving(tmp_path_factory.mktemp("server-data")) as url:
        yield url


@pytest.fixture
def acme(server_url: str) -> LangGraphClient:
    return client(server_url, "acme")


@pytest.fixture
def globex(server_url: str) -> LangGraphClient:
    return client(server_url, "globex")
