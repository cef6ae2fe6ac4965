"""The sandbox's social presence data, shaped like PhantomBuster's company phantoms (the real adapter runs them).

Run: `python -m orchestra.sandbox.servers.social [--data-dir DIR]`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from orchestra.sandbox.lookup import find_company
from orchestra.sandbox.model import Company
from orchestra.sandbox.paths import SandboxPaths
from orchestra.sandbox.servers._common import WorldSource, sandbox_paths

READ = ToolAnnotations(readOnlyHint=True, idempotentHint=True, openWorldHint=False)
CompanyArg = Annotated[str, Field(description="Company name or domain, e.g. 'Brurex Analytics' or brurex.example")]
Platform = Literal["linkedin", "x", "youtube"]


def _month(day: dt.date, back: int) -> str:
    """The month `back` months before the one holding `day`, as YYYY-MM (the last is the as-of month, so far)."""
    index = day.year * 12 + day.month - 1 - back
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def build_server(paths: SandboxPaths) -> FastMCP:
    server = FastMCP("sandbox-social", instructions="Social profiles, posts and engagement of sandbox companies.")
    world = WorldSource(paths)

    def company_for(text: str) -> Company:
        try:
            return find_company(world.get(), text)[0]
        except ValueError as exc:
            raise ToolError(str(exc)) from None

    @server.tool(annotations=READ)
    def get_company_social_profiles(company: CompanyArg) -> dict[str, Any]:
        """The company's profiles with follower counts and growth over the last twelve months."""
        found = company_for(company)
        profiles = [p for p in world.get().social_profiles if p.company_id == found.id]
        return {
            "company": found.name,
            "as_of": world.get().as_of,
            "profiles": [
                {
                    "platform": p.platform, "handle": p.handle, "url": p.url, "followers": p.followers,
                    "followers_12_months_ago": p.followers_by_month[0],
                    "growth_pct_12m": round(100 * (p.followers / max(1, p.followers_by_month[0]) - 1), 1),
                }
                for p in profiles
            ],
        }  # fmt: skip

    @server.tool(annotations=READ)
    def get_recent_posts(
        company: CompanyArg,
        limit: Annotated[int, Field(ge=1, le=50, description="At most this many posts, newest first")] = 10,
        platform: Annotated[Platform | None, Field(description="Only this platform")] = None,
    ) -> dict[str, Any]:
        """Recent posts with likes, comments and shares."""
        found = company_for(company)
        posts = [
            p for p in world.get().social_posts
            if p.company_id == found.id and (platform is None or p.platform == platform)
        ]  # fmt: skip
        posts.sort(key=lambda p: (p.posted_at, p.id), reverse=True)
        return {
            "company": found.name,
            "as_of": world.get().as_of,
            "total": len(posts),
            "posts": [vars(p) for p in posts[:limit]],
        }

    @server.tool(annotations=READ)
    def get_follower_history(company: CompanyArg, platform: Platform) -> dict[str, Any]:
        """Followers at the end of each of the last twelve months on one platform (the last month up to as_of)."""
        found = company_for(company)
        profiles = world.get().social_profiles
        profile = next((p for p in profiles if p.company_id == found.id and p.platform == platform), None)
        if profile is None:
            raise ToolError(f"{found.name} has no {platform} profile; see get_company_social_profiles")
        as_of = world.get().as_of_date
        months = [_month(as_of, back) for back in range(11, -1, -1)]
        points = zip(months, profile.followers_by_month, strict=True)
        return {
            "company": found.name,
            "platform": platform,
            "as_of": as_of.isoformat(),
            "history": [{"month": m, "followers": f} for m, f in points],
        }

    @server.tool(annotations=READ)
    def get_engagement_summary(
        company: CompanyArg,
        days: Annotated[int, Field(ge=1, le=365, description="Look back this many days")] = 90,
    ) -> dict[str, Any]:
        """Per platform: posts, average likes/comments/shares, and engagement rate per post (interactions/followers)."""
        found = company_for(company)
        since = (world.get().as_of_date - dt.timedelta(days=days)).isoformat()
        summary = []
        for profile in (p for p in world.get().social_profiles if p.company_id == found.id):
            posts = [
                p for p in world.get().social_posts
                if p.company_id == found.id and p.platform == profile.platform and p.posted_at >= since
            ]  # fmt: skip
            interactions = sum(p.likes + p.comments + p.shares for p in posts)
            count = len(posts)
            summary.append({
                "platform": profile.platform, "posts": count, "followers": profile.followers,
                "avg_likes": round(sum(p.likes for p in posts) / count, 1) if count else 0.0,
                "avg_comments": round(sum(p.comments for p in posts) / count, 1) if count else 0.0,
                "avg_shares": round(sum(p.shares for p in posts) / count, 1) if count else 0.0,
                "engagement_rate_pct": round(100 * interactions / max(1, count) / max(1, profile.followers), 2),
            })  # fmt: skip
        return {"company": found.name, "as_of": world.get().as_of, "since": since, "platforms": summary}

    return server


def main() -> None:
    build_server(sandbox_paths(__doc__ or "")).run("stdio")


if __name__ == "__main__":
    main()
