"""The questions a run pauses on: approvals of calls that change external state, and choices between names.

The interrupt's payload shows the exact call (pool, tool, arguments) and the JSON schema of an answer. A run is
resumed with `Command(resume=...)` carrying `"approve"`, `"reject"`, or an object: `{"action": "approve"}`,
`{"action": "edit", "arguments": {...}}` (the arguments to use instead), `{"action": "reject", "reason": "..."}`.
An answer that cannot be read rejects the call: a write never happens on a garbled approval.

A choice (which company, which design did the user mean) is resumed with one of its options, as a string or
`{"choice": "..."}`; an answer that names none of them chooses nothing, and the run says what it could not find.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.types import interrupt
from pydantic import BaseModel, Field, ValidationError

from orchestra.graphs.progress import emit


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


def ask_choice(question: str, names: list[str]) -> str | None:
    """Pause for the user to pick one of `names`; the one picked, or None when the answer names none of them."""
    payload = {
        "kind": "choice", "question": question, "options": names,
        "response_schema": {"type": "string", "enum": names, "description": "One of the options, as written."},
    }  # fmt: skip
    emit("choice", question=question, options=names)
    answer = interrupt(payload)
    text = str(answer.get("choice") if isinstance(answer, dict) else answer).strip().lower()
    if not text:
        return None
    return next((n for n in names if n.lower() == text), None) or next((n for n in names if text in n.lower()), None)
