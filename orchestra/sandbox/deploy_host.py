"""The deploy sandbox's web host: serves deployments from the on-disk store like Vercel's edge would.

    /d/<deployment_id>/<path>   one immutable deployment
    /p/<project>/<path>         the project's current production deployment, looked up on every request so a
                                promote or rollback shows at once; the `x-deployment-id` header says which one
    /api/deployments            every deployment as JSON (`?project=` filters), for humans and scripts
    /healthz                    liveness

It only ever reads the store (see orchestra.sandbox.deployments), so it can run in any process next to the MCP
server that writes it.
"""

from __future__ import annotations

import hashlib
import html
import mimetypes
from pathlib import Path
from urllib.parse import quote

import anyio.to_thread
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from orchestra.sandbox import deployments as store
from orchestra.sandbox.request_paths import RejectUnsafePaths

# A private table built from Python's defaults, not the host's /etc/mime.types, so content types are the same on
# every machine; plus the web types those defaults miss or get wrong.
_TYPES = mimetypes.MimeTypes()
for _type, _ext in (
    ("text/javascript", ".js"),
    ("text/javascript", ".mjs"),
    ("application/json", ".json"),
    ("application/json", ".map"),
    ("application/manifest+json", ".webmanifest"),
    ("application/wasm", ".wasm"),
    ("image/svg+xml", ".svg"),
    ("image/webp", ".webp"),
    ("image/avif", ".avif"),
    ("image/x-icon", ".ico"),
    ("font/woff", ".woff"),
    ("font/woff2", ".woff2"),
    ("text/markdown", ".md"),
):
    _TYPES.add_type(_type, _ext)

# Production URLs change on promote, so browsers must revalidate; same policy as Vercel's default for static files.
_CACHE = "public, max-age=0, must-revalidate"


def content_type(path: Path) -> str:
    """The Content-Type for a served file; text types carry charset=utf-8."""
    guessed = _TYPES.guess_type(path.name)[0] or "application/octet-stream"
    if guessed.startswith("text/") or guessed in ("application/json", "application/manifest+json", "image/svg+xml"):
        return f"{guessed}; charset=utf-8"
    return guessed


def _not_found(message: str, deployment_id: str | None = None) -> Response:
    headers = {"cache-control": "no-store"}
    if deployment_id:
        headers["x-deployment-id"] = deployment_id
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>404: Not Found</title></head>"
        f"<body><h1>404: Not Found</h1><p>{html.escape(message)}</p></body></html>"
    )
    return HTMLResponse(body, status_code=404, headers=headers)


def create_deploy_host(root: Path, public_base: str) -> Starlette:
    """An ASGI app serving the deployments under `root`; `public_base` (e.g. http://127.0.0.1:8600) builds URLs."""
    root = Path(root)
    base = public_base.rstrip("/")

    async def serve_deployment(request: Request) -> Response:
        return await serve(request, f"/d/{request.path_params['rest']}")

    async def serve_production(request: Request) -> Response:
        return await serve(request, f"/p/{request.path_params['rest']}")

    async def serve(request: Request, path: str) -> Response:
        # `path` is rebuilt from the route's (percent-decoded) parameter, so the app also works mounted under a prefix.
        try:
            # Disk lookups run in a worker thread so a slow filesystem never stalls other requests.
            found = await anyio.to_thread.run_sync(store.resolve, root, path)
        except store.DeploymentError as exc:
            return _not_found(str(exc))
        if found.file is None:
            # Like Vercel: a deployment's own top-level 404.html is its not-found page.
            page = store.files_dir(root, found.deployment_id) / "404.html"
            if page.is_file():
                return FileResponse(
                    page,
                    status_code=404,
                    media_type=content_type(page),
                    headers={"x-deployment-id": found.deployment_id, "cache-control": "no-store"},
                )
            return _not_found(f"no file at {path} in deployment {found.deployment_id}", found.deployment_id)
        if found.directory and not path.endswith("/"):
            # Redirect /d/<id>/docs to /d/<id>/docs/ so the page's relative links resolve inside the directory.
            raw = request.scope.get("raw_path")
            target = (raw.decode("latin-1") if raw else quote(request.url.path)) + "/"
            if request.url.query:
                target += "?" + request.url.query
            return RedirectResponse(target, status_code=308, headers={"x-deployment-id": found.deployment_id})
        # A deployment is immutable, so (deployment, file) identifies the bytes exactly: a better ETag than mtime.
        relative = found.file.relative_to(store.files_dir(root, found.deployment_id).resolve()).as_posix()
        etag = '"' + hashlib.sha256(f"{found.deployment_id}/{relative}".encode()).hexdigest()[:32] + '"'
        headers = {"x-deployment-id": found.deployment_id, "etag": etag, "cache-control": _CACHE}
        if etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
            return Response(status_code=304, headers=headers)
        return FileResponse(found.file, media_type=content_type(found.file), headers=headers)

    async def api_deployments(request: Request) -> Response:
        project = request.query_params.get("project")
        try:
            listed = await anyio.to_thread.run_sync(store.list_deployments, root, project)
        except store.DeploymentError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        table = store.aliases(root)
        return JSONResponse(
            [
                {
                    **d.to_dict(),
                    "url": f"{base}/d/{d.id}/",
                    "production_url": f"{base}/p/{d.project}/",
                    "is_production": table.get(d.project, {}).get("production") == d.id,
                }
                for d in listed
            ]
        )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def index(request: Request) -> Response:
        table = store.aliases(root)
        rows = "".join(
            f"<li><a href='{base}/p/{html.escape(name)}/'>{html.escape(name)}</a> "
            f"(production: <a href='{base}/d/{html.escape(str(entry.get('production')))}/'>"
            f"{html.escape(str(entry.get('production')))}</a>)</li>"
            for name, entry in sorted(table.items())
        )
        body = (
            "<!doctype html><html><head><meta charset='utf-8'><title>Deployments</title></head><body>"
            f"<h1>Deployments</h1><ul>{rows or '<li>nothing deployed yet</li>'}</ul>"
            f"<p>All deployments as JSON: <a href='{base}/api/deployments'>/api/deployments</a></p></body></html>"
        )
        return HTMLResponse(body)

    return Starlette(
        routes=[
            Route("/", index, methods=["GET", "HEAD"]),
            Route("/healthz", healthz, methods=["GET", "HEAD"]),
            Route("/api/deployments", api_deployments, methods=["GET", "HEAD"]),
            Route("/d/{rest:path}", serve_deployment, methods=["GET", "HEAD"]),
            Route("/p/{rest:path}", serve_production, methods=["GET", "HEAD"]),
        ],
        # Served on its own (tests, scripts) it needs the same guard the sandbox host puts in front of it.
        middleware=[Middleware(RejectUnsafePaths)],
    )
