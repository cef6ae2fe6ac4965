"""The sandbox host: every demo company's website, the contact forms, and the deployments, on one loopback port.

Run in the foreground with `python -m orchestra.sandbox.host`; `orchestra sandbox up` runs it in the background.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
from html import escape
from pathlib import Path
from urllib.parse import parse_qs

import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from orchestra.core.settings import default_data_dir
from orchestra.sandbox.deploy_host import create_deploy_host
from orchestra.sandbox.model import World
from orchestra.sandbox.paths import SandboxPaths
from orchestra.sandbox.request_paths import RejectUnsafePaths

_FORM_FIELDS = ("name", "email", "company", "message")
# A site's folder is named after its domain; anything else in `{domain}` ('..', '.', a dotfile) names no site.
_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+")


def _site_file(paths: SandboxPaths, domain: str, path: str) -> Path | None:
    """The file for a site path; None for paths outside the site or that do not exist. Blocking: run it in a thread.

    The request guard already refused '..' and encoded separators; this still confines on its own, so a site
    folder can only ever serve what lies (after symlinks) inside itself.
    """
    if not _DOMAIN.fullmatch(domain):
        return None
    segments = [s for s in path.split("/") if s not in ("", ".")]
    if any(s == ".." or "\0" in s or "\\" in s for s in segments):
        return None
    sites = paths.sites.resolve()
    site = (sites / domain).resolve()
    if site.parent != sites or not site.is_dir():
        return None
    candidate = site.joinpath(*segments).resolve()
    if not candidate.is_relative_to(site):
        return None
    if candidate.is_dir():
        candidate = candidate / "index.html"
    return candidate if candidate.is_file() else None


def sandbox_id(paths: SandboxPaths) -> str:
    """Which sandbox a host serves (a digest of its data folder, not the path): `orchestra sandbox up` checks that
    the host answering on the port is its own, not another data folder's."""
    return hashlib.sha256(str(paths.root.resolve()).encode()).hexdigest()[:16]


def create_sandbox_host(paths: SandboxPaths, base_url: str) -> Starlette:
    """The host app: `/sites/<domain>/...`, `POST /sites/<domain>/contact`, and deployments at `/d/` and `/p/`."""

    async def robots(_: Request) -> Response:
        return PlainTextResponse("User-agent: *\nAllow: /\n")

    async def favicon(_: Request) -> Response:
        return Response(status_code=204)  # browsers ask for one; a 404 would show as a console error in snapshots

    async def index(_: Request) -> Response:
        world = await anyio.to_thread.run_sync(World.load, paths.world)
        links = "".join(
            f'<li><a href="/sites/{c.domain}/">{escape(c.name)}</a> ({escape(c.industry)})</li>'
            for c in world.companies
        )
        return HTMLResponse(f"<!doctype html><title>Sandbox websites</title><h1>Sandbox websites</h1><ul>{links}</ul>")

    async def site(request: Request) -> Response:
        domain, path = request.path_params["domain"], request.path_params.get("path", "")
        found = await anyio.to_thread.run_sync(_site_file, paths, domain, path)
        if found is None:
            return HTMLResponse(
                f"<!doctype html><title>Not found</title><h1>Page not found</h1><p>{escape(path)}</p>", 404
            )
        if path and not path.endswith("/") and found.name == "index.html" and not path.endswith("index.html"):
            return Response(status_code=308, headers={"location": f"/sites/{domain}/{path}/"})
        return FileResponse(found)

    async def contact(request: Request) -> Response:
        domain = request.path_params["domain"]
        if await anyio.to_thread.run_sync(_site_file, paths, domain, "contact/") is None:
            return HTMLResponse("<h1>No such site</h1>", 404)
        fields = parse_qs((await request.body()).decode("utf-8", errors="replace"))
        entry = {k: fields.get(k, [""])[0][:2000] for k in _FORM_FIELDS}
        if not entry["name"] or "@" not in entry["email"]:
            return HTMLResponse("<h1>Please give your name and a work email</h1>", 400)
        entry |= {"domain": domain, "received_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        await anyio.to_thread.run_sync(_append_line, paths.contact_submissions, json.dumps(entry))
        return HTMLResponse(
            f"<!doctype html><title>Thank you</title><h1>Thanks, {escape(entry['name'])}!</h1>"
            f"<p>We will reply to {escape(entry['email'])} within one business day.</p>"
            f'<a href="/sites/{domain}/">Back</a>'
        )

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok", "sandbox": sandbox_id(paths)})

    routes = [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/robots.txt", robots),
        Route("/favicon.ico", favicon),
        Route("/", index),
        Route("/sites/{domain}/contact", contact, methods=["POST"]),
        Route("/sites/{domain}/", site),
        Route("/sites/{domain}/{path:path}", site),
        Mount("/", app=create_deploy_host(paths.deployments, base_url)),
    ]
    # The guard wraps every route, the mounted deploy host included: no handler sees a '..' or an encoded '/'.
    return Starlette(routes=routes, middleware=[Middleware(RejectUnsafePaths)])


def _append_line(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as log:
        log.write(line + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8780)
    args = parser.parse_args()
    paths = SandboxPaths.under(args.data_dir or Path(os.environ.get("ORCHESTRA_DATA_DIR") or default_data_dir()))
    paths.deployments.mkdir(parents=True, exist_ok=True)
    app = create_sandbox_host(paths, f"http://{args.host}:{args.port}")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
