"""What routing saved, from the call log: per day, calls and cost, the steps the router chose a tier for, how many
went to the fast tier, and the cost those would have had on premium's first model for the same tokens."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from orchestra.core.call_log import number
from orchestra.routing.outcomes import routed


def summarize(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """`{"by_day": {day: row}, "total": row}`, each row with calls, cost_usd, routed (calls the router chose a tier
    for), routed_cost_usd, to_fast and saved_usd. A number that is not one counts as 0."""
    by_day: dict[str, dict[str, Any]] = {}
    total = _row()
    for record in records:
        decision = routed(record.get("choice"))
        cost, saved = number(record.get("cost_usd")), number(record.get("saved_usd"))
        for row in (by_day.setdefault(str(record.get("ts", ""))[:10], _row()), total):
            row["calls"] += 1
            row["cost_usd"] += cost
            row["saved_usd"] += saved
            if decision:
                row["routed"] += 1
                row["routed_cost_usd"] += cost
                row["to_fast"] += decision[1] == "fast"
    rounded = lambda row: {k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()}  # noqa: E731
    return {"by_day": {day: rounded(row) for day, row in sorted(by_day.items())}, "total": rounded(total)}


def _row() -> dict[str, Any]:
    return {"calls": 0, "cost_usd": 0.0, "routed": 0, "routed_cost_usd": 0.0, "to_fast": 0, "saved_usd": 0.0}
