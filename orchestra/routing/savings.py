"""What routing saved, from the call log: per day, calls and cost, the steps the router chose a tier for, how many
went to the fast tier, and the cost those would have had on premium's first model for the same tokens."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def summarize(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """`{"by_day": {day: row}, "total": row}`, each row with calls, cost_usd, routed, to_fast, saved_usd."""
    by_day: dict[str, dict[str, Any]] = {}
    total = _row()
    for record in records:
        choice = record.get("choice") or {}
        for row in (by_day.setdefault(str(record.get("ts", ""))[:10], _row()), total):
            row["calls"] += 1
            row["cost_usd"] += float(record.get("cost_usd", 0))
            row["saved_usd"] += float(record.get("saved_usd", 0))
            if choice.get("by") == "router":
                row["routed"] += 1
                row["to_fast"] += choice.get("tier") == "fast"
    rounded = lambda row: {k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()}  # noqa: E731
    return {"by_day": {day: rounded(row) for day, row in sorted(by_day.items())}, "total": rounded(total)}


def _row() -> dict[str, Any]:
    return {"calls": 0, "cost_usd": 0.0, "routed": 0, "to_fast": 0, "saved_usd": 0.0}
