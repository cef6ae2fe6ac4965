"""What a chat page can show beside a report, taken from the turn's facts: a market's figures for a chart, a
deployed page's link and screenshot. They travel in the answer's `response_metadata.orchestra.visuals`, so a page
reloaded later still has them (a turn's facts are reset by the next turn)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def visuals(facts: dict[str, Any]) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    if market := _market(facts):
        shown["market"] = market
    if "deployment" in facts:
        deployment, test = facts["deployment"], facts.get("test", {})
        screenshot = test.get("screenshot")
        shown["deployment"] = {
            "url": deployment.get("url"),
            "production_url": deployment.get("production_url"),
            "screenshot": Path(screenshot).name if screenshot else None,  # served per thread by the server
            "evidence": test.get("screenshot_evidence") or deployment.get("evidence"),
        }
    return shown


def _market(facts: dict[str, Any]) -> dict[str, Any] | None:
    market = facts.get("market")
    if not isinstance(market, dict) or not (facts.get("segments") or facts.get("size")):
        return None
    sized = "segment_size" if facts.get("segment_size") else "size"
    name = market.get("segment") or market.get("industry")
    return {
        "name": f"{name} ({facts['region']})" if facts.get("region") else name,
        "segments": [_pick(row, "segment", "revenue_usd", "companies") for row in facts.get("segments", [])],
        "segments_evidence": facts.get("segments_evidence"),
        "growth": [
            {
                "year": row.get("year"),
                "market_size_usd": row.get("market_size_usd"),
                "growth_pct": row.get("growth_pct"),
            }
            for row in facts.get(sized, [])
        ],
        "growth_evidence": facts.get(f"{sized}_evidence"),
    }


def _pick(row: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: row.get(key) for key in keys}
