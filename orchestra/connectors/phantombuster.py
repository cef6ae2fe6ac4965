"""PhantomBuster adapter: launch configured agents ("phantoms") and read back what they scraped.

Why: PhantomBuster has no official MCP server, and its model is asynchronous — an agent is launched, runs in a
container for seconds to minutes, and leaves result rows behind. The low-level tools expose that model as it is;
the convenience tools launch one configured agent, poll it a bounded number of times within a bounded total
time, and normalize its rows into social profiles or posts.

API v2 (https://hub.phantombuster.com/reference): base https://api.phantombuster.com/api/v2, key in the
`X-Phantombuster-Key` header.
  GET  /agents/fetch-all                       the organization's agents (a bare JSON array)
  POST /agents/launch {id, argument|bonusArgument}  queue a run, answers {containerId}
  GET  /agents/fetch-output?id=                status of the agent's most recent container
  GET  /containers/fetch-result-object?id=     the container's result object (a JSON string)
  GET  /agents/fetch?id=                       orgS3Folder/s3Folder, used to read result.json when the result
                                               object is empty (https://phantombuster.s3.amazonaws.com/...)
Env: PHANTOMBUSTER_API_KEY; PHANTOMBUSTER_COMPANY_AGENT_ID and PHANTOMBUSTER_POSTS_AGENT_ID for the convenience
tools; PHANTOMBUSTER_INPUT_ARGUMENT (default `spreadsheetUrl`) names the argument the company is passed in.
"""

from __future__ import annotations

import json
import os
import re
import time
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

import anyio
from mcp.server.fastmcp import FastMCP
from mcp.types import ToolAnnotations
from pydantic import Field

from orchestra.connectors._http import (
    ConnectorError,
    Vendor,
    expect_object,
    get_public_json,
    make_client,
    request_json,
    required_env,
)

PHANTOMBUSTER = Vendor(
    name="PhantomBuster",
    base_url="https://api.phantombuster.com/api/v2",
    key_env="PHANTOMBUSTER_API_KEY",
    auth="header",
    auth_name="X-Phantombuster-Key",
)
S3_BASE = "https://phantombuster.s3.amazonaws.com"
COMPANY_AGENT_ENV = "PHANTOMBUSTER_COMPANY_AGENT_ID"
POSTS_AGENT_ENV = "PHANTOMBUSTER_POSTS_AGENT_ID"
INPUT_ARGUMENT_ENV = "PHANTOMBUSTER_INPUT_ARGUMENT"
DEFAULT_INPUT_ARGUMENT = "spreadsheetUrl"

# Polling bounds for the convenience tools: both a count and a wall-clock limit apply.
POLL_INTERVAL_S = 5.0
MAX_POLLS = 24
MAX_WAIT_S = 150.0

MAX_ROWS = 200
CONSOLE_TAIL = 1500
_AGENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_FAILED = {"launch error", "never launched"}

_PLATFORM_HOSTS = ("linkedin.com", "twitter.com", "x.com", "instagram.com", "facebook.com", "youtube.com", "tiktok.com")
# Field names vary by phantom; these are the ones PhantomBuster's social phantoms write, most specific first.
_URL_KEYS = ("profileUrl", "url", "companyUrl", "linkedinUrl", "linkedInUrl", "instagramUrl", "twitterUrl")
_HANDLE_KEYS = ("handle", "username", "screenName", "instagramUsername", "companySlug", "universalName")
_FOLLOWER_KEYS = ("followers", "followerCount", "followersCount", "followers_count", "subscriberCount")
_TEXT_KEYS = ("postContent", "text", "content", "caption", "description", "textContent")
_POST_URL_KEYS = ("postUrl", "url", "link", "sharedPostUrl")
_DATE_KEYS = ("postDate", "publishedAt", "date", "postTimestamp", "timestamp")
_LIKE_KEYS = ("likeCount", "likesCount", "likes", "reactionsCount", "reactionCount")
_COMMENT_KEYS = ("commentCount", "commentsCount", "comments")
_SHARE_KEYS = ("repostCount", "shareCount", "sharesCount", "shares", "retweetCount")

READ = ToolAnnotations(readOnlyHint=True, openWorldHint=True, idempotentHint=True)
LAUNCH = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=True)


async def _call(method: str, path: str, client: Any = None, *, params: Any = None, body: Any = None) -> dict[str, Any]:
    answer = await request_json(PHANTOMBUSTER, method, path, client=client, params=params, json_body=body)
    return expect_object(PHANTOMBUSTER, answer)


def _agent_id(value: str, what: str = "agent_id") -> str:
    text = value.strip()
    if not _AGENT_ID.match(text):
        raise ValueError(f"{what} '{value}' is not a PhantomBuster agent id (letters, digits, - or _)")
    return text


def _first(row: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = row.get(key)
        if value not in (None, ""):
            return value
    return None


def parse_count(value: Any) -> int | None:
    """12345 from 12345, "12,345", "12.3K", "1M followers"; None when there is no number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return int(value)
    match = re.search(r"(\d[\d,.\s]*)\s*([kmb])?", str(value).lower())
    if not match:
        return None
    digits, suffix = match.group(1).replace(",", "").replace(" ", "").rstrip("."), match.group(2)
    try:
        number = float(digits)
    except ValueError:
        return None
    return int(number * {"k": 1e3, "m": 1e6, "b": 1e9}.get(suffix or "", 1))


def _platform(url: str) -> str | None:
    host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
    for domain in _PLATFORM_HOSTS:
        if host == domain or host.endswith("." + domain):
            return "twitter" if domain == "x.com" else domain.split(".")[0]
    return None


def _handle_from_url(url: str) -> str | None:
    segments = [s for s in urlsplit(url).path.split("/") if s and s not in ("company", "in", "school", "showcase")]
    return segments[0].lstrip("@") if segments else None


def _iso(value: Any) -> Any:
    """Epoch milliseconds/seconds become ISO 8601 (UTC); strings pass through as the phantom wrote them."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value
        return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
    return value


def normalize_profiles(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Social profiles (platform, handle, url, followers) from a company-scraping phantom's rows."""
    profiles: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row in rows:
        urls = [row[k] for k in _URL_KEYS if isinstance(row.get(k), str) and row[k].startswith("http")]
        for index, url in enumerate(urls):
            platform = _platform(url)
            if platform is None or url in seen:
                continue
            seen.add(url)
            primary = index == 0
            handle = _first(row, _HANDLE_KEYS) if primary else None
            profiles.append(
                {
                    "platform": platform,
                    "handle": str(handle).lstrip("@") if handle else _handle_from_url(url),
                    "url": url,
                    "followers": parse_count(_first(row, _FOLLOWER_KEYS)) if primary else None,
                    "name": (row.get("companyName") or row.get("name") or row.get("fullName")) if primary else None,
                }
            )
    return profiles


def normalize_posts(rows: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Posts (platform, url, text, posted_at, likes, comments, shares) from an activity phantom's rows."""
    posts: list[dict[str, Any]] = []
    for row in rows:
        text = _first(row, _TEXT_KEYS)
        url = _first(row, _POST_URL_KEYS)
        if not text and not url:
            continue
        url = url if isinstance(url, str) else None
        posts.append(
            {
                "platform": (_platform(url) if url else None) or row.get("platform"),
                "url": url,
                "text": str(text)[:2000] if text else None,
                "posted_at": _iso(_first(row, _DATE_KEYS)),
                "likes": parse_count(_first(row, _LIKE_KEYS)),
                "comments": parse_count(_first(row, _COMMENT_KEYS)),
                "shares": parse_count(_first(row, _SHARE_KEYS)),
            }
        )
        if len(posts) >= limit:
            break
    return posts


def _rows_from(value: Any) -> list[dict[str, Any]] | None:
    """Result rows from a result object: a JSON string or a decoded list/object; None when there is none."""
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            value = json.loads(value)
        except ValueError:
            raise ConnectorError("PhantomBuster returned a result object that is not JSON") from None
    if isinstance(value, list):
        return [r for r in value if isinstance(r, dict)]
    if isinstance(value, dict):
        return [value]
    return None


async def _result_rows(agent_id: str, container_id: str, client: Any) -> tuple[list[dict[str, Any]], str]:
    """The finished container's rows: its result object, else the agent's result.json in S3."""
    answer = await _call("GET", "/containers/fetch-result-object", client, params={"id": container_id})
    rows = _rows_from(answer.get("resultObject"))
    if rows is not None:
        return rows, "result_object"
    agent = await _call("GET", "/agents/fetch", client, params={"id": agent_id})
    org_folder, folder = agent.get("orgS3Folder"), agent.get("s3Folder")
    if not org_folder or not folder:
        return [], "none"
    return _rows_from(await get_public_json(PHANTOMBUSTER, f"{S3_BASE}/{org_folder}/{folder}/result.json")) or [], "s3"


def _status(agent_id: str, output: dict[str, Any]) -> dict[str, Any]:
    console = output.get("output") or ""
    return {
        "agent_id": agent_id,
        "container_id": output.get("containerId"),
        "status": output.get("status"),
        "is_running": bool(output.get("isAgentRunning")),
        "progress": output.get("progress"),
        "finished_at": _iso(output.get("mostRecentEndedAt")),
        "console_tail": console[-CONSOLE_TAIL:] if isinstance(console, str) else None,
    }


async def list_agents() -> dict[str, Any]:
    """The PhantomBuster agents (configured phantoms) of this organization: id, name, script and launch mode.
    Use an id with launch_agent and fetch_agent_output."""
    answer = await request_json(PHANTOMBUSTER, "GET", "/agents/fetch-all")
    agents = answer if isinstance(answer, list) else expect_object(PHANTOMBUSTER, answer).get("data") or []
    return {
        "agents": [
            {
                "id": a.get("id"),
                "name": a.get("name"),
                "script": a.get("script") or a.get("scriptName"),
                "launch_type": a.get("launchType"),
                "last_end_status": a.get("lastEndStatus"),
                "updated_at": _iso(a.get("updatedAt")),
            }
            for a in agents
            if isinstance(a, dict)
        ],
        "source": "phantombuster",
    }


async def launch_agent(
    agent_id: Annotated[str, Field(description="Id of the PhantomBuster agent to launch (from list_agents).")],
    argument: Annotated[
        dict[str, Any] | None,
        Field(description="Launch argument for this run, replacing the agent's saved one; omit to use the saved one."),
    ] = None,
) -> dict[str, Any]:
    """Queue one run of a PhantomBuster agent and return its container id. The run happens asynchronously and
    spends PhantomBuster execution time; read its results with fetch_agent_output."""
    agent = _agent_id(agent_id)
    body: dict[str, Any] = {"id": agent}
    if argument is not None:
        body["argument"] = argument
    answer = await _call("POST", "/agents/launch", body=body)
    if not answer.get("containerId"):
        raise ConnectorError(f"PhantomBuster accepted the launch of agent {agent} but returned no container id")
    return {
        "agent_id": agent,
        "container_id": str(answer["containerId"]),
        "status": "launched",
        "source": "phantombuster",
    }


async def fetch_agent_output(
    agent_id: Annotated[str, Field(description="Id of the PhantomBuster agent whose latest run to read.")],
) -> dict[str, Any]:
    """Status of an agent's most recent run (starting, running, finished, launch error, ...) and, once it has
    finished, its parsed result rows (at most 200; row_count is the full number)."""
    agent = _agent_id(agent_id)
    async with make_client(PHANTOMBUSTER) as client:
        output = await _call("GET", "/agents/fetch-output", client, params={"id": agent})
        result = _status(agent, output)
        rows: list[dict[str, Any]] = []
        result["result_source"] = None
        if output.get("status") == "finished" and output.get("containerId"):
            rows, result["result_source"] = await _result_rows(agent, str(output["containerId"]), client)
    return {**result, "row_count": len(rows), "rows": rows[:MAX_ROWS], "source": "phantombuster"}


async def _run_and_collect(agent: str, company: str) -> tuple[list[dict[str, Any]], str]:
    """Launch `agent` for `company`, poll until its container finishes (bounded), and return its rows."""
    key = os.environ.get(INPUT_ARGUMENT_ENV, "").strip() or DEFAULT_INPUT_ARGUMENT
    deadline = time.monotonic() + MAX_WAIT_S
    async with make_client(PHANTOMBUSTER) as client:
        launch = await _call("POST", "/agents/launch", client, body={"id": agent, "bonusArgument": {key: company}})
        container = str(launch.get("containerId") or "")
        if not container:
            raise ConnectorError(f"PhantomBuster accepted the launch of agent {agent} but returned no container id")
        for poll in range(MAX_POLLS):
            if poll:
                await anyio.sleep(max(0.0, min(POLL_INTERVAL_S, deadline - time.monotonic())))
            output = await _call("GET", "/agents/fetch-output", client, params={"id": agent})
            ours = str(output.get("containerId") or "") == container
            if ours and output.get("status") == "finished":
                rows, _ = await _result_rows(agent, container, client)
                return rows, container
            if ours and output.get("status") in _FAILED:
                raise ConnectorError(f"PhantomBuster agent {agent} failed to start ({output.get('status')})")
            if time.monotonic() >= deadline:
                break
    raise ConnectorError(
        f"PhantomBuster agent {agent} is still running (container {container}); "
        f"call fetch_agent_output with agent_id '{agent}' later for its results"
    )


async def _run_configured(agent_env: str, purpose: str, company: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run the agent named by `agent_env` for `company`; the run's identity and its raw rows."""
    name = company.strip()
    if not name:
        raise ValueError("company is empty; pass a company name or its profile URL")
    if len(name) > 300:
        raise ValueError("company is longer than 300 characters")
    agent = _agent_id(required_env(agent_env, purpose), agent_env)
    rows, container = await _run_and_collect(agent, name)
    return {"company": name, "agent_id": agent, "container_id": container, "source": "phantombuster"}, rows


Company = Annotated[str, Field(description="Company name or profile URL, passed to the configured agent as its input.")]


async def get_company_social_profiles(company: Company) -> dict[str, Any]:
    """Run the configured company phantom (agent id in $PHANTOMBUSTER_COMPANY_AGENT_ID) for one company and return
    its social profiles: platform, handle, url, followers. Waits a bounded time for the run to finish."""
    run, rows = await _run_configured(COMPANY_AGENT_ENV, "the id of a company-scraping PhantomBuster agent", company)
    return {**run, "profiles": normalize_profiles(rows)}


async def get_recent_posts(
    company: Company,
    limit: Annotated[int, Field(ge=1, le=100, description="Most posts to return (1-100).")] = 10,
) -> dict[str, Any]:
    """Run the configured posts phantom (agent id in $PHANTOMBUSTER_POSTS_AGENT_ID) for one company and return its
    recent posts: platform, url, text, posted_at, likes, comments, shares. Waits a bounded time for the run."""
    run, rows = await _run_configured(POSTS_AGENT_ENV, "the id of a post-extracting PhantomBuster agent", company)
    return {**run, "posts": normalize_posts(rows, limit)}


def build_server() -> FastMCP:
    """The PhantomBuster MCP server; built on demand so importing this module touches no environment or network."""
    server = FastMCP("phantombuster", instructions="Launch PhantomBuster agents and read the social data they scrape.")
    server.add_tool(list_agents, annotations=READ)
    server.add_tool(launch_agent, annotations=LAUNCH)
    server.add_tool(fetch_agent_output, annotations=READ)
    server.add_tool(get_company_social_profiles, annotations=LAUNCH)
    server.add_tool(get_recent_posts, annotations=LAUNCH)
    return server


def main() -> None:
    build_server().run("stdio")


if __name__ == "__main__":
    main()
