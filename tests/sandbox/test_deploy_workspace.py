"""Deployments take files only from the deploy workspace, and never publish hidden files or secrets: the store on
a real filesystem, and the real deploy MCP server over stdio with the host serving what it deployed."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest

from orchestra.sandbox import deployments as store
from tests.sandbox.test_deploy import call, deploy_server, error_of, free_port, hosting, site, visible


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(store root, workspace with a build `ws/site`, a folder next to the workspace holding secrets)."""
    workspace = tmp_path / "ws"
    site(workspace / "site", "v1")
    outside = site(tmp_path / "other", "leak", {".env": "API_KEY=sk-live-123", "id_rsa": "-----BEGIN KEY-----"})
    return tmp_path / "store", workspace, outside


def test_folders_outside_the_workspace_are_refused_naming_the_workspace(layout: tuple[Path, Path, Path]) -> None:
    root, workspace, outside = layout
    (workspace / "linked").symlink_to(outside, target_is_directory=True)
    sibling = site(workspace.with_name("ws-evil"), "sibling")  # shares the workspace's name as a prefix
    escapes = [
        f"{workspace}/../other",  # the probe: '..' in an absolute path
        "../other",
        "site/../../other",
        str(outside),
        "/etc",
        "linked",  # a symlinked folder inside the workspace that points outside
        f"{workspace}/linked",
        "linked/about",  # ... and a folder below it
        str(sibling),
    ]
    for directory in escapes:
        with pytest.raises(store.DeploymentError, match=re.escape(f"outside the deploy workspace {workspace}")):
            store.create_deployment(root, "p", directory, workspace=workspace)
    for directory in (".", "", str(workspace), "site/.."):
        with pytest.raises(store.DeploymentError, match=r"is the deploy workspace .* itself"):
            store.create_deployment(root, "p", directory, workspace=workspace)
    assert visible(root) == []


def test_a_build_inside_the_workspace_deploys_by_absolute_or_relative_path(layout: tuple[Path, Path, Path]) -> None:
    root, workspace, _ = layout
    (workspace / "current").symlink_to(workspace / "site", target_is_directory=True)  # a link that stays inside
    by_absolute = store.create_deployment(root, "p", workspace / "site", workspace=workspace)
    by_relative = store.create_deployment(root, "p", "site", workspace=workspace)
    by_link = store.create_deployment(root, "p", "current", workspace=workspace)
    by_detour = store.create_deployment(root, "p", f"{workspace}/site/about/../", workspace=workspace)
    assert {d.source for d in (by_absolute, by_relative, by_link, by_detour)} == {str((workspace / "site").resolve())}
    assert len({d.sha256 for d in (by_absolute, by_relative, by_link, by_detour)}) == 1
    assert (store.files_dir(root, by_relative.id) / "index.html").read_text() == "<h1>home v1</h1>"


def test_hidden_files_are_never_published(tmp_path: Path) -> None:
    hidden = {".nojekyll": "", ".gitignore": "*.log", ".cache/data.json": "{}", ".well-known/security.txt": "x"}
    source = site(tmp_path / "site", "v1", hidden)
    deployment = store.create_deployment(tmp_path / "store", "p", source, workspace=tmp_path)
    files = store.files_dir(tmp_path / "store", deployment.id)
    published = sorted(p.relative_to(files).as_posix() for p in files.rglob("*") if p.is_file())
    assert published == [".well-known/security.txt", "about/index.html", "app.js", "index.html", "style.css"]


@pytest.mark.parametrize(
    "secret",
    [".env", ".env.production", "prod.env", "id_rsa", "id_ed25519.pub", "keys/server.pem", "tls.KEY", ".npmrc",
     ".ssh/config", ".aws/credentials", "assets/.git-credentials", "cert.p12", "credentials.json", "secrets.json",
     "config.env.local", "infra/terraform.tfstate"],
)  # fmt: skip
def test_a_build_holding_a_secret_is_refused_whole(tmp_path: Path, secret: str) -> None:
    source = site(tmp_path / "site", "v1", {secret: "s3cr3t"})
    with pytest.raises(store.DeploymentError, match=r"looks like a secret .*nothing was deployed.*out of the build"):
        store.create_deployment(tmp_path / "store", "p", source, workspace=tmp_path)
    assert visible(tmp_path / "store") == []


def test_a_link_to_a_hidden_file_is_refused(tmp_path: Path) -> None:
    source = site(tmp_path / "site", "v1", {".private/notes.txt": "internal"})
    (source / "notes.txt").symlink_to(source / ".private" / "notes.txt")
    with pytest.raises(store.DeploymentError, match=r"notes\.txt is a symlink to .*hidden or secret file"):
        store.create_deployment(tmp_path / "store", "p", source, workspace=tmp_path)
    assert visible(tmp_path / "store") == []


def test_a_hard_link_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "world-manifest.json"
    outside.write_text('{"private": true}')
    source = site(tmp_path / "site", "v1")
    os.link(outside, source / "manifest.json")  # nothing in the link's name says where its content lives
    with pytest.raises(store.DeploymentError, match=r"manifest\.json is hard-linked to another file"):
        store.create_deployment(tmp_path / "store", "p", source, workspace=tmp_path)
    assert visible(tmp_path / "store") == []


async def test_deploy_tool_publishes_only_builds_from_its_workspace(layout: tuple[Path, Path, Path]) -> None:
    root, workspace, outside = layout
    async with hosting(root, free_port()) as base, httpx.AsyncClient(base_url=base) as http:
        args = ["--root", str(root), "--public-base", base, "--workspace", str(workspace)]
        async with deploy_server(args) as mcp:
            tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
            assert f"inside the deploy workspace {workspace}" in (tools["deploy"].description or "")
            for directory in (f"{workspace}/../other", str(outside), "../other"):
                message = await error_of(mcp, "deploy", project="p", directory=directory)
                assert f"outside the deploy workspace {workspace}" in message
            assert visible(root) == []
            (workspace / "site" / ".env").write_text("API_KEY=sk-live-123")
            assert "looks like a secret (.env)" in await error_of(mcp, "deploy", project="p", directory="site")
            (workspace / "site" / ".env").unlink()

            deployed = await call(mcp, "deploy", project="p", directory="site")
        assert (await http.get(deployed["url"])).text == "<h1>home v1</h1>"
        for leaked in (".env", "id_rsa"):
            response = await http.get(deployed["url"] + leaked)
            assert response.status_code in (400, 404), leaked
            assert "sk-live" not in response.text
