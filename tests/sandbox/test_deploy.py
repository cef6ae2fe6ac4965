"""The deploy sandbox: the on-disk store, the web host and the MCP server over stdio, all for real."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from orchestra.sandbox import deployments as store
from orchestra.sandbox.deploy_host import create_deploy_host
from orchestra.sandbox.deploy_sources import MAX_BYTES, MAX_FILES

REPO = Path(__file__).resolve().parents[2]


def site(folder: Path, version: str, extra: dict[str, str | bytes] | None = None) -> Path:
    """A small static site whose pages say which version they are."""
    files: dict[str, str | bytes] = {
        "index.html": f"<h1>home {version}</h1>",
        "about/index.html": f"<h1>about {version}</h1>",
        "style.css": "body { color: red }",
        "app.js": f"console.log('{version}')",
        **(extra or {}),
    }
    for rel, content in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return folder


def visible(root: Path) -> list[str]:
    """Every entry a reader could mistake for a deployment or leftover (hidden staging dirs included)."""
    return sorted(p.name for p in root.iterdir() if p.name not in ("aliases.json", ".lock")) if root.exists() else []


# -- the store -------------------------------------------------------------------------------------------------------


def test_create_records_copies_and_makes_the_first_deployment_production(tmp_path: Path) -> None:
    root = tmp_path / "store"
    source = site(tmp_path / "v1", "v1", {"node_modules/x.js": "ignored", ".git/HEAD": "ignored"})
    first = store.create_deployment(root, "acme", source, workspace=tmp_path)

    assert store.ID_RE.fullmatch(first.id)
    assert (first.project, first.files, first.state, first.source) == ("acme", 4, "READY", str(source.resolve()))
    assert first.bytes == sum(
        (source / rel).stat().st_size for rel in ("index.html", "about/index.html", "style.css", "app.js")
    )
    assert first.created_at.endswith("Z")
    copied = store.files_dir(root, first.id)
    assert (copied / "about" / "index.html").read_text() == "<h1>about v1</h1>"
    assert not (copied / "node_modules").exists()
    assert not (copied / ".git").exists()
    assert json.loads((root / first.id / "deployment.json").read_text()) == first.to_dict()

    source.joinpath("index.html").write_text("changed after deploying")
    assert (copied / "index.html").read_text() == "<h1>home v1</h1>"  # a copy, not a link to the source

    second = store.create_deployment(root, "acme", site(tmp_path / "v2", "v2"), workspace=tmp_path)
    same_as_first = store.create_deployment(root, "other", site(tmp_path / "v1b", "v1"), workspace=tmp_path)
    assert same_as_first.sha256 == first.sha256 != second.sha256
    assert store.production_id(root, "acme") == first.id  # later deployments wait for promote
    assert store.production_id(root, "other") == same_as_first.id
    assert [d.id for d in store.list_deployments(root)] == [same_as_first.id, second.id, first.id]
    assert [d.id for d in store.list_deployments(root, "acme")] == [second.id, first.id]
    assert store.get_deployment(root, second.id) == second
    assert store.aliases(root) == {
        "acme": {"production": first.id, "history": []},
        "other": {"production": same_as_first.id, "history": []},
    }


def test_promote_and_rollback_walk_the_production_history(tmp_path: Path) -> None:
    root = tmp_path / "store"
    v1, v2, v3 = (
        store.create_deployment(root, "acme", site(tmp_path / v, v), workspace=tmp_path).id for v in ("v1", "v2", "v3")
    )

    assert store.promote(root, v2) == ("acme", v1)
    before = (root / "aliases.json").read_bytes()
    assert store.promote(root, v2) == ("acme", v2)  # already production: nothing changes
    assert (root / "aliases.json").read_bytes() == before
    assert store.promote(root, v3) == ("acme", v2)
    assert store.aliases(root)["acme"] == {"production": v3, "history": [v1, v2]}

    assert store.rollback(root, "acme") == (v2, v3)
    assert store.rollback(root, "acme") == (v1, v2)
    assert store.production_id(root, "acme") == v1
    with pytest.raises(store.DeploymentError, match=r"no earlier production deployment.*promote_deployment"):
        store.rollback(root, "acme")

    # Promoting an old production deployment moves it out of the history instead of duplicating it.
    store.promote(root, v3)
    store.promote(root, v1)
    assert store.aliases(root)["acme"] == {"production": v1, "history": [v3]}
    with pytest.raises(store.DeploymentError, match="has no deployments"):
        store.rollback(root, "never-deployed")


def test_bad_input_is_refused_with_a_clear_message_and_nothing_is_written(tmp_path: Path) -> None:
    root = tmp_path / "store"
    good = site(tmp_path / "good", "v1")
    empty = tmp_path / "empty"
    empty.mkdir()
    no_index = site(tmp_path / "no-index", "v1")
    (no_index / "index.html").unlink()
    escaping = site(tmp_path / "escaping", "v1")
    (tmp_path / "secret.txt").write_text("secret")
    (escaping / "secret.txt").symlink_to(tmp_path / "secret.txt")
    dir_link = site(tmp_path / "dir-link", "v1")
    (dir_link / "again").symlink_to(dir_link / "about")
    looping = site(tmp_path / "looping", "v1")
    (looping / "a").symlink_to(looping / "b")
    (looping / "b").symlink_to(looping / "a")
    too_many = site(tmp_path / "too-many", "v1", {f"f/{n}.txt": "x" for n in range(MAX_FILES)})
    too_big = site(tmp_path / "too-big", "v1")
    with open(too_big / "video.mp4", "wb") as sparse:  # sparse: a 51 MB file that costs no disk or time
        sparse.truncate(MAX_BYTES + 1024 * 1024)

    cases: list[tuple[str, Any, str]] = [
        ("Acme", good, "invalid project name 'Acme'"),
        ("-acme", good, "invalid project name"),
        ("a" * 49, good, "invalid project name"),
        ("acme", tmp_path / "missing", "does not exist"),
        ("acme", good / "index.html", "is a file, not a folder"),
        ("acme", empty, "is empty"),
        ("acme", no_index, "has no index.html at its top level"),
        ("acme", escaping, "symlink to .*outside the folder"),
        ("acme", dir_link, "symlink to a directory"),
        ("acme", looping, "could not read .*Symlink loop"),
        ("acme", too_many, f"more than {MAX_FILES} files"),
        ("acme", too_big, "more than 50 MB"),
    ]
    for project, source, message in cases:
        with pytest.raises(store.DeploymentError, match=message):
            store.create_deployment(root, project, source, workspace=tmp_path)
    assert visible(root) == []

    with pytest.raises(store.DeploymentError, match=r"not a deployment id.*call list_deployments"):
        store.get_deployment(root, "../../etc")
    with pytest.raises(store.DeploymentError, match=r"no deployment dpl_.*call list_deployments"):
        store.promote(root, "dpl_" + "A" * 24)
    with pytest.raises(store.DeploymentError, match="invalid project name"):
        store.list_deployments(root, "Bad Name")

    # A symlink that stays inside the folder is fine: its target's content is deployed as a plain file.
    inside = site(tmp_path / "inside", "v1")
    (inside / "home.html").symlink_to(inside / "index.html")
    deployment = store.create_deployment(root, "acme", inside, workspace=tmp_path)
    copied = store.files_dir(root, deployment.id) / "home.html"
    assert not copied.is_symlink()
    assert copied.read_text() == "<h1>home v1</h1>"


def test_a_copy_that_fails_midway_leaves_no_visible_deployment(tmp_path: Path) -> None:
    """A real write failure: the file-size rlimit makes the copy of a large file fail with EFBIG."""
    root = tmp_path / "store"
    source = site(tmp_path / "site", "v1", {"big.bin": os.urandom(4 * 1024 * 1024)})
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024 * 1024, 1024 * 1024))
        from orchestra.sandbox import deployments as store
        try:
            store.create_deployment({str(root)!r}, "acme", {str(source)!r}, workspace={str(tmp_path)!r})
        except store.DeploymentError as exc:
            print(exc)
            sys.exit(3)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3, done.stderr
    assert "nothing was deployed" in done.stdout
    assert visible(root) == []
    assert store.list_deployments(root) == []
    assert store.production_id(root, "acme") is None


def test_leftovers_of_a_crashed_writer_are_invisible_and_swept(tmp_path: Path) -> None:
    root = tmp_path / "store"
    root.mkdir()
    crashed = root / ".staging-dpl_AAAAAAAAAAAAAAAAAAAAAAAA"
    site(crashed / "files", "half")  # what a writer killed before its rename leaves behind
    assert store.list_deployments(root) == []
    with pytest.raises(store.DeploymentError, match="call list_deployments"):
        store.get_deployment(root, "dpl_AAAAAAAAAAAAAAAAAAAAAAAA")

    an_hour_ago = time.time() - 3700
    os.utime(crashed, (an_hour_ago, an_hour_ago))
    store.create_deployment(root, "acme", site(tmp_path / "v1", "v1"), workspace=tmp_path)
    assert not crashed.exists()


def test_concurrent_writers_in_separate_processes_lose_no_promotion(tmp_path: Path) -> None:
    root = tmp_path / "store"
    sources = [site(tmp_path / f"s{n}", f"v{n}") for n in range(4)]
    script = textwrap.dedent(
        f"""
        import sys
        from orchestra.sandbox import deployments as store
        for _ in range(8):
            deployment = store.create_deployment({str(root)!r}, "acme", sys.argv[1], workspace={str(tmp_path)!r})
            store.promote({str(root)!r}, deployment.id)
        """
    )
    workers = [subprocess.Popen([sys.executable, "-c", script, str(s)], cwd=REPO) for s in sources]
    assert [w.wait(120) for w in workers] == [0, 0, 0, 0]

    ids = {d.id for d in store.list_deployments(root, "acme")}
    entry = json.loads((root / "aliases.json").read_text())["acme"]
    chain = [*entry["history"], entry["production"]]
    # Every deployment was promoted once: each one is production or in the history exactly once. A lost update
    # (two writers reading the same aliases.json) would drop ids from the chain.
    assert len(ids) == 32
    assert sorted(chain) == sorted(ids)


def test_resolve_maps_request_paths_to_files_and_never_escapes(tmp_path: Path) -> None:
    root = tmp_path / "store"
    v1 = store.create_deployment(root, "acme", site(tmp_path / "v1", "v1"), workspace=tmp_path).id
    files = store.files_dir(root, v1).resolve()

    assert store.resolve(root, f"/d/{v1}/") == store.Resolved(v1, files / "index.html", True)
    assert store.resolve(root, f"/d/{v1}") == store.Resolved(v1, files / "index.html", True)
    assert store.resolve(root, f"/d/{v1}/about") == store.Resolved(v1, files / "about" / "index.html", True)
    assert store.resolve(root, f"/d/{v1}/style.css") == store.Resolved(v1, files / "style.css", False)
    assert store.resolve(root, "/p/acme/app.js") == store.Resolved(v1, files / "app.js", False)
    assert store.resolve(root, f"/d/{v1}/missing.html").file is None
    assert store.resolve(root, f"/d/{v1}/../../aliases.json").file is None
    assert store.resolve(root, f"/d/{v1}/about/../../deployment.json").file is None
    with pytest.raises(store.DeploymentError, match="call list_deployments"):
        store.resolve(root, "/d/dpl_BBBBBBBBBBBBBBBBBBBBBBBB/")
    with pytest.raises(store.DeploymentError, match="no production deployment"):
        store.resolve(root, "/p/nobody/")
    with pytest.raises(store.DeploymentError, match="not a deployment path"):
        store.resolve(root, "/x/acme/")


# -- the web host ----------------------------------------------------------------------------------------------------


async def test_host_serves_deployments_with_types_redirects_404s_and_no_traversal(tmp_path: Path) -> None:
    root = tmp_path / "store"
    base = "http://deploy.test"
    app = create_deploy_host(root, base)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=base) as http:
        # Before anything is deployed the host answers, and being read-only it creates nothing.
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        assert (await http.get("/api/deployments")).json() == []
        assert (await http.get("/p/acme/")).status_code == 404
        assert not root.exists()

        extra: dict[str, str | bytes] = {
            "logo.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
            "data.json": "{}",
            "pic.png": b"\x89PNG\r\n\x1a\n",
            "404.html": "<h1>custom not found</h1>",
        }
        v1 = store.create_deployment(root, "acme", site(tmp_path / "v1", "v1", extra), workspace=tmp_path).id
        plain = store.create_deployment(root, "plain", site(tmp_path / "plain", "plain"), workspace=tmp_path).id

        home = await http.get(f"/d/{v1}/")
        assert (home.status_code, home.text) == (200, "<h1>home v1</h1>")
        assert home.headers["content-type"] == "text/html; charset=utf-8"
        assert home.headers["x-deployment-id"] == v1
        for path, expected in [
            ("style.css", "text/css; charset=utf-8"),
            ("app.js", "text/javascript; charset=utf-8"),
            ("logo.svg", "image/svg+xml; charset=utf-8"),
            ("data.json", "application/json; charset=utf-8"),
            ("pic.png", "image/png"),
        ]:
            response = await http.get(f"/d/{v1}/{path}")
            assert (response.status_code, response.headers["content-type"]) == (200, expected), path

        about = await http.get(f"/d/{v1}/about")
        assert (about.status_code, about.headers["location"]) == (308, f"/d/{v1}/about/")
        assert (await http.get(f"/d/{v1}/about/")).text == "<h1>about v1</h1>"
        assert (await http.get(f"/d/{v1}/about/index.html")).text == "<h1>about v1</h1>"

        custom = await http.get(f"/d/{v1}/nope.html")
        assert (custom.status_code, custom.text) == (404, "<h1>custom not found</h1>")
        builtin = await http.get("/p/plain/nope.html")
        assert builtin.status_code == 404
        assert f"no file at /p/plain/nope.html in deployment {plain}" in builtin.text
        unknown = await http.get("/d/dpl_CCCCCCCCCCCCCCCCCCCCCCCC/")
        assert unknown.status_code == 404
        assert "call list_deployments" in unknown.text

        # Encoded dot segments reach the app as '..' after decoding; the path guard refuses them before any lookup.
        for escape in (f"/d/{v1}/%2e%2e/deployment.json", f"/d/{v1}/%2e%2e/%2e%2e/aliases.json", "/p/acme/%2e%2e/"):
            response = await http.get(escape)
            assert response.status_code == 400, escape
            assert "production" not in response.text

        tagged = await http.get("/p/acme/style.css")
        assert tagged.headers["x-deployment-id"] == v1
        assert tagged.headers["cache-control"] == "public, max-age=0, must-revalidate"
        again = await http.get("/p/acme/style.css", headers={"if-none-match": tagged.headers["etag"]})
        assert (again.status_code, again.content) == (304, b"")
        head = await http.head(f"/d/{v1}/")
        assert (head.status_code, head.headers["content-length"], head.content) == (200, "16", b"")

        listed = (await http.get("/api/deployments", params={"project": "acme"})).json()
        assert [(d["id"], d["url"], d["is_production"]) for d in listed] == [(v1, f"{base}/d/{v1}/", True)]
        assert (await http.get("/api/deployments", params={"project": "Bad!"})).status_code == 400
        assert f"{base}/p/plain/" in (await http.get("/")).text


# -- the MCP server over stdio, with the host on a real port ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.asynccontextmanager
async def hosting(root: Path, port: int) -> AsyncIterator[str]:
    """The deploy host served by uvicorn in this event loop on 127.0.0.1:`port`; yields its base URL."""
    base = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(create_deploy_host(root, base), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the deploy host stopped during start-up")
        await asyncio.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def deploy_server(args: list[str], env: dict[str, str] | None = None) -> AsyncIterator[ClientSession]:
    """The real deploy MCP server as a stdio subprocess, with an initialised client session."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "orchestra.sandbox.servers.deploy", *args], env=env, cwd=REPO
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await session.call_tool(tool, arguments)
    assert not result.isError, result.content
    assert result.structuredContent is not None
    return result.structuredContent


async def error_of(session: ClientSession, tool: str, **arguments: Any) -> str:
    result = await session.call_tool(tool, arguments)
    assert result.isError
    return "".join(getattr(block, "text", "") for block in result.content)


async def test_deploy_promote_rollback_over_mcp_survives_restarts(tmp_path: Path) -> None:
    root = tmp_path / "store"
    v1_dir, v2_dir = site(tmp_path / "v1", "v1"), site(tmp_path / "v2", "v2")
    port = free_port()

    async with hosting(root, port) as base, httpx.AsyncClient(base_url=base) as http:

        async def production() -> tuple[str, str]:
            response = await http.get("/p/acme/")
            assert response.status_code == 200
            return response.headers["x-deployment-id"], response.text

        async with deploy_server(["--root", str(root), "--public-base", base, "--workspace", str(tmp_path)]) as mcp:
            tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
            assert set(tools) == {
                "deploy", "list_deployments", "get_deployment", "promote_deployment", "rollback_deployment",
            }  # fmt: skip
            hints = {
                name: (a.readOnlyHint, a.destructiveHint, a.idempotentHint, a.openWorldHint)
                for name, tool in tools.items()
                if (a := tool.annotations) is not None
            }
            assert hints == {
                "deploy": (False, False, False, False),
                "list_deployments": (True, None, True, False),
                "get_deployment": (True, None, True, False),
                "promote_deployment": (False, True, True, False),
                "rollback_deployment": (False, True, False, False),
            }
            assert tools["deploy"].inputSchema["properties"]["directory"]["description"]

            v1 = await call(mcp, "deploy", project="acme", directory=str(v1_dir))
            assert v1["url"] == f"{base}/d/{v1['id']}/"
            assert (v1["production_url"], v1["is_production"], v1["files"]) == (f"{base}/p/acme/", True, 4)
            assert (await http.get(v1["url"])).text == "<h1>home v1</h1>"
            assert await production() == (v1["id"], "<h1>home v1</h1>")

            v2 = await call(mcp, "deploy", project="acme", directory=str(v2_dir))
            assert v2["is_production"] is False
            assert (await http.get(v2["url"])).text == "<h1>home v2</h1>"
            assert await production() == (v1["id"], "<h1>home v1</h1>")

            promoted = await call(mcp, "promote_deployment", deployment_id=v2["id"])
            assert (promoted["previous_production"], promoted["changed"]) == (v1["id"], True)
            assert await production() == (v2["id"], "<h1>home v2</h1>")
            again = await call(mcp, "promote_deployment", deployment_id=v2["id"])
            assert (again["previous_production"], again["changed"]) == (v2["id"], False)

            rolled = await call(mcp, "rollback_deployment", project="acme")
            assert (rolled["production"], rolled["rolled_back_from"], rolled["url"]) == (v1["id"], v2["id"], v1["url"])
            assert await production() == (v1["id"], "<h1>home v1</h1>")
            assert (await http.get(v2["url"])).text == "<h1>home v2</h1>"  # the immutable URL still serves v2

            listed = await call(mcp, "list_deployments", project="acme")
            assert [d["id"] for d in listed["deployments"]] == [v2["id"], v1["id"]]
            assert listed["production"] == {"acme": v1["id"]}

    # Restart both: the host on the same port, the MCP server configured through the environment this time.
    async with hosting(root, port) as base, httpx.AsyncClient(base_url=base) as http:
        env = {
            "ORCHESTRA_DEPLOY_ROOT": str(root),
            "ORCHESTRA_DEPLOY_BASE": base,
            "ORCHESTRA_DEPLOY_WORKSPACE": str(tmp_path),
        }
        async with deploy_server([], env) as mcp:
            listed = await call(mcp, "list_deployments")
            assert [(d["id"], d["is_production"]) for d in listed["deployments"]] == [
                (v2["id"], False),
                (v1["id"], True),
            ]
            assert (await call(mcp, "get_deployment", deployment_id=v2["id"]))["sha256"] == v2["sha256"]
            page = await http.get("/p/acme/about/")
            assert (page.headers["x-deployment-id"], page.text) == (v1["id"], "<h1>about v1</h1>")
            assert (await http.get(v2["url"] + "about/")).text == "<h1>about v2</h1>"

            # Bad input: an error result with the store's message, and nothing half-written.
            no_index = tmp_path / "no-index"
            no_index.mkdir()
            (no_index / "readme.txt").write_text("no index here")
            assert "has no index.html" in await error_of(mcp, "deploy", project="acme", directory=str(no_index))
            assert "does not exist" in await error_of(mcp, "deploy", project="acme", directory=str(tmp_path / "nope"))
            assert "outside the deploy workspace" in await error_of(mcp, "deploy", project="acme", directory="/etc")
            assert "invalid project name" in await error_of(mcp, "deploy", project="ACME", directory=str(v1_dir))
            assert "call list_deployments" in await error_of(mcp, "get_deployment", deployment_id="v2")
            missing = "dpl_" + "D" * 24
            assert "call list_deployments" in await error_of(mcp, "promote_deployment", deployment_id=missing)
            assert "no earlier production" in await error_of(mcp, "rollback_deployment", project="acme")
            assert "has no deployments" in await error_of(mcp, "rollback_deployment", project="ghost")
            assert sorted(visible(root)) == sorted([v1["id"], v2["id"]])
            assert store.aliases(root) == {"acme": {"production": v1["id"], "history": []}}
