"""The sandbox's deploy server: an offline stand-in for Vercel, as an MCP server over stdio.

Agents deploy a folder of static files as a new immutable deployment with its own URL, list and inspect
deployments, promote one to a project's production URL and roll back. State lives in the on-disk store
(orchestra.sandbox.deployments), which the web host (orchestra.sandbox.deploy_host) serves at `--public-base`.
Folders are deployed only from inside `--workspace` (where builds are written), so a deploy can never publish
another folder of the host.

    python -m orchestra.sandbox.servers.deploy --root DIR --public-base http://127.0.0.1:PORT --workspace DIR

Without the flags it reads ORCHESTRA_DEPLOY_ROOT, ORCHESTRA_DEPLOY_BASE and ORCHESTRA_DEPLOY_WORKSPACE.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Annotated, TypeVar

import anyio.to_thread
from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from orchestra.sandbox import deployments as store

T = TypeVar("T")

INSTRUCTIONS = """\
Deploys static websites (a folder with an index.html) to the sandbox host, like Vercel.
Each `deploy` creates a new immutable deployment with its own URL. A project's first deployment becomes its
production deployment; later ones do not until you call `promote_deployment`. `rollback_deployment` moves
production back to the previous production deployment. Use `list_deployments` to find deployment ids."""

Project = Annotated[
    str,
    Field(description="Project name: 1-48 lowercase letters, digits or '-', starting with a letter or digit."),
]
Directory = Annotated[
    str,
    Field(
        description="The build folder to deploy, inside the deploy workspace (see the tool's description): its "
        "absolute path or its path relative to the workspace (e.g. 'my-site'). It must contain index.html."
    ),
]
DeploymentId = Annotated[
    str, Field(description="A deployment id such as 'dpl_…' (24 letters and digits after 'dpl_'), from deploy.")
]

# The workspace is only known when the server starts, so the description is a template rather than a docstring.
DEPLOY_DESCRIPTION = """\
Deploy a folder of static files as a new immutable deployment of a project, with its own URL.

The project's first deployment becomes production at once; later deployments do not replace production until you
call promote_deployment with their id. Only folders inside the deploy workspace {workspace} can be deployed (after
resolving '..' and symlinks); give the folder's absolute path or its path relative to the workspace. Hidden files
and folders are never published (except .well-known/); .git and node_modules are skipped; a folder holding a secret
(.env, private keys such as id_rsa or *.pem, .npmrc, .ssh/ ...) is refused so nothing leaks: move the secret out
and deploy again. Limits: 2000 files, 50 MB; symlinks must stay inside the folder."""


class DeploymentInfo(BaseModel):
    id: str = Field(description="The deployment id.")
    url: str = Field(description="The deployment's own immutable URL; it always serves exactly these files.")
    project: str
    files: int = Field(description="Number of files deployed.")
    bytes: int = Field(description="Total size of the files in bytes.")
    sha256: str = Field(description="Digest of every file's path and content; equal digests mean equal sites.")
    created_at: str = Field(description="When it was created, ISO-8601 UTC.")
    source: str = Field(description="The folder it was copied from.")
    state: str
    production_url: str = Field(description="The project's production URL, serving its production deployment.")
    is_production: bool = Field(description="Whether this is the project's production deployment now.")


class DeploymentList(BaseModel):
    deployments: list[DeploymentInfo] = Field(description="Newest first.")
    production: dict[str, str] = Field(description="Each listed project's production deployment id.")


class PromoteResult(BaseModel):
    project: str
    production: str = Field(description="The production deployment id now.")
    previous_production: str | None = Field(description="The production deployment id before this call.")
    changed: bool = Field(description="False when the deployment already was production (nothing changed).")
    production_url: str


class RollbackResult(BaseModel):
    project: str
    production: str = Field(description="The production deployment id now (the previous production one).")
    rolled_back_from: str = Field(description="The deployment that was production before the rollback.")
    production_url: str
    url: str = Field(description="The immutable URL of the deployment now in production.")


async def run(function: Callable[..., T], *args: object) -> T:
    """Run a store call in a worker thread (copies can take a while) and turn its errors into tool errors."""
    try:
        return await anyio.to_thread.run_sync(function, *args)
    except store.DeploymentError as exc:
        raise ToolError(str(exc)) from exc


def create_server(root: Path, public_base: str, workspace: Path) -> FastMCP:
    """A FastMCP server managing the deployments under `root`, whose URLs start with `public_base`; it deploys
    only folders inside `workspace`."""
    root, workspace = Path(root), Path(workspace)
    base = public_base.rstrip("/")
    server = FastMCP("deploy", instructions=INSTRUCTIONS, log_level="WARNING")

    def info(deployment: store.Deployment) -> DeploymentInfo:
        return DeploymentInfo(
            **deployment.to_dict(),
            url=f"{base}/d/{deployment.id}/",
            production_url=f"{base}/p/{deployment.project}/",
            is_production=store.production_id(root, deployment.project) == deployment.id,
        )

    @server.tool(
        description=DEPLOY_DESCRIPTION.format(workspace=workspace),
        annotations=ToolAnnotations(
            title="Deploy a static site",
            readOnlyHint=False,
            destructiveHint=False,
            idempotentHint=False,
            openWorldHint=False,
        ),
    )
    async def deploy(project: Project, directory: Directory) -> DeploymentInfo:
        deployment = await run(partial(store.create_deployment, workspace=workspace), root, project, directory)
        return info(deployment)

    @server.tool(
        annotations=ToolAnnotations(
            title="List deployments", readOnlyHint=True, idempotentHint=True, openWorldHint=False
        )
    )
    async def list_deployments(
        project: Annotated[str | None, Field(description="Only this project's deployments; omit for all.")] = None,
    ) -> DeploymentList:
        """List deployments, newest first, with their URLs and which one is each project's production."""
        listed = await run(store.list_deployments, root, project)
        infos = [info(d) for d in listed]
        return DeploymentList(deployments=infos, production={i.project: i.id for i in infos if i.is_production})

    @server.tool(
        annotations=ToolAnnotations(
            title="Get a deployment", readOnlyHint=True, idempotentHint=True, openWorldHint=False
        )
    )
    async def get_deployment(deployment_id: DeploymentId) -> DeploymentInfo:
        """Show one deployment: its project, URL, size, content digest and whether it is production."""
        return info(await run(store.get_deployment, root, deployment_id))

    @server.tool(
        annotations=ToolAnnotations(
            title="Promote to production",
            readOnlyHint=False,
            destructiveHint=True,  # it replaces what the production URL serves (rollback_deployment undoes it)
            idempotentHint=True,
            openWorldHint=False,
        )
    )
    async def promote_deployment(deployment_id: DeploymentId) -> PromoteResult:
        """Make a deployment its project's production deployment, served at the production URL at once.

        Promoting the deployment that already is production changes nothing.
        """
        project, previous = await run(store.promote, root, deployment_id)
        return PromoteResult(
            project=project,
            production=deployment_id,
            previous_production=previous,
            changed=previous != deployment_id,
            production_url=f"{base}/p/{project}/",
        )

    @server.tool(
        annotations=ToolAnnotations(
            title="Roll back production",
            readOnlyHint=False,
            destructiveHint=True,
            idempotentHint=False,  # each call steps one further back in the production history
            openWorldHint=False,
        )
    )
    async def rollback_deployment(project: Project) -> RollbackResult:
        """Point a project's production URL back at its previous production deployment.

        Each call goes one step further back; fails when there is no earlier production deployment. To undo a
        rollback, promote the rolled-back deployment again.
        """
        production, rolled_back_from = await run(store.rollback, root, project)
        return RollbackResult(
            project=project,
            production=production,
            rolled_back_from=rolled_back_from,
            production_url=f"{base}/p/{project}/",
            url=f"{base}/d/{production}/",
        )

    return server


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m orchestra.sandbox.servers.deploy", description=__doc__)
    parser.add_argument("--root", help="the deployment store directory (default: $ORCHESTRA_DEPLOY_ROOT)")
    parser.add_argument("--public-base", help="the web host's base URL (default: $ORCHESTRA_DEPLOY_BASE)")
    parser.add_argument(
        "--workspace", help="the only folder deployments are taken from (default: $ORCHESTRA_DEPLOY_WORKSPACE)"
    )
    args = parser.parse_args(argv)
    root = args.root or os.environ.get("ORCHESTRA_DEPLOY_ROOT")
    public_base = args.public_base or os.environ.get("ORCHESTRA_DEPLOY_BASE")
    workspace = args.workspace or os.environ.get("ORCHESTRA_DEPLOY_WORKSPACE")
    if not root or not public_base or not workspace:
        parser.error(
            "give --root, --public-base and --workspace (or set ORCHESTRA_DEPLOY_ROOT, ORCHESTRA_DEPLOY_BASE and "
            "ORCHESTRA_DEPLOY_WORKSPACE)"
        )
    workspace_dir = Path(workspace).expanduser().absolute()
    workspace_dir.mkdir(parents=True, exist_ok=True)  # builds may not have been written yet; deploys then say so
    create_server(Path(root).expanduser().absolute(), public_base, workspace_dir).run("stdio")


if __name__ == "__main__":
    main(sys.argv[1:])
