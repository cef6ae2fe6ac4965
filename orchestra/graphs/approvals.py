"""Approvals of calls that change external state: the interrupt a run pauses on, and the answers it accepts.

The interrupt's payload shows the exact call (pool, tool, arguments) and the JSON schema of an answer. A run is
resumed with `Command(resume=...)` carrying `"approve"`, `"reject"`, or an object: `{"action": "approve"}`,
`{"action": "edit", "arguments": {...}}` (the arguments to use instead), `{"action": "reject", "reason": "..."}`.
An answer that cannot be read rejects the call: a write never happens on a garbled approval.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError


class ApprovalDecision(BaseModel):
    """The answer to an approval request."""

    action: Literal["approve", "edit", "reject"] = Field(description="What to do with the call.")
    arguments: dict[str, Any] | None = Field(None, description="With `edit`: the arguments to call with instead.")
    reason: str | None = Field(None, description="Why (shown in the report), e.g. with `reject`.")
    by: str = Field("user", description="Who decided.")


def approval_request(pool: str, tool: str, arguments: dict[str, Any], reason: str) -> dict[str, Any]:
    """The interrupt payload for one call."""
    return {
        "kind": "approval",
        "pool": pool,
        "tool": f"{pool}.{tool}",
        "arguments": arguments,
        "reason": reason,
        "allowed": ["approve", "edit", "reject"],
        "response_schema": ApprovalDecision.model_json_schema(),
    }


def read_decision(answer: Any) -> ApprovalDecision:
    """The decision in a resume value; unreadable answers reject, saying why."""
    if isinstance(answer, str):
        answer = {"action": answer.strip().lower()}
    if isinstance(answer, dict) and "action" not in answer and "type" in answer:  # LangChain's decision shape
        answer = {"action": answer["type"], "arguments": (answer.get("edited_action") or {}).get("args"),
                  "reason": answer.get("message")}  # fmt: skip
    try:
        decision = ApprovalDecision.model_validate(answer)
    except ValidationError as exc:
        problem = exc.errors(include_url=False)[0]
        where = ".".join(map(str, problem["loc"])) or "answer"
        return ApprovalDecision(action="reject", reason=f"the answer could not be read ({where}: {problem['msg']})")
    if decision.action == "edit" and not decision.arguments:
        return ApprovalDecision(action="reject", reason="an edit needs `arguments`; nothing was changed")
    return decision
