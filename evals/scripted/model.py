"""A scripted model for recording the `with-model` suite: it answers each request the way a capable tool-calling
model would (a specialist's tool call, then an answer from its result; a report's summary; a checker's verdict; a
follow-up rewritten), deterministically, so the recording is the same every time. It is served by
`evals.scripted_llm` as an OpenAI-compatible endpoint; a team with keys records the suite against real models with
`orchestra eval record evals/suites/with-model.yaml --real-models`.

One behaviour is a planted mistake: a summary of a report on Pelsitha Cloud states a funding figure the report does
not contain, which the cross-check of a critical answer must flag.
"""

from __future__ import annotations

import json
import re
from typing import Any

from evals.scripted_llm import reply, tool_call

PLANTED_FIGURE = "$987,654,321"
_DOMAIN = re.compile(r"\b([a-z0-9-]+\.example)\b")
_NUMBER = re.compile(r"\$?\d[\d,]*(?:\.\d+)?%?")


def _text(message: dict[str, Any]) -> str:
    content = message.get("content") or ""
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def script(body: dict[str, Any]) -> dict[str, Any]:
    messages = body["messages"]
    last = _text(messages[-1])
    if last.startswith("You write the opening summary"):
        return reply(_summary(last))
    if last.startswith("You are checking an answer"):
        return reply(_verdict(last))
    if last.startswith("Rewrite the user's latest message"):
        return reply(_standalone(last))
    if last.startswith("Classify the task for routing"):
        return reply(json.dumps({"domain": "bi", "complexity": "high", "workflow": None}))
    if messages[-1]["role"] == "tool":
        return reply(_answer_from_tool(messages))
    tools = {tool["function"]["name"] for tool in body.get("tools") or []}
    call = _first_call(last, tools)
    return tool_call(*call) if call else reply("I can answer that without a tool: " + last[:200])


def _summary(prompt: str) -> str:
    report = prompt.split("Report:", 1)[1]
    lines = [line.strip("- ").strip() for line in report.splitlines() if "[E" in line and line.startswith("- ")]
    picked = " ".join(line.rstrip(".") + "." for line in lines[:3])
    if "Pelsitha Cloud" in report:
        picked += f" It has raised {PLANTED_FIGURE} in total [E1]."
    title = report.strip().splitlines()[0].lstrip("# ").strip()
    return f"{title}: {picked}\nNext step: book a discovery call with the most senior contact."


def _verdict(prompt: str) -> str:
    evidence, _, answer = prompt.partition("Answer:")
    plain = evidence.replace(",", "")
    unsupported = [n for n in _NUMBER.findall(answer) if n.strip("$%").replace(",", "") not in plain and len(n) > 3]
    if unsupported:
        issues = [f"{n} is not in the evidence" for n in unsupported[:3]]
        return json.dumps({"verdict": "disagree", "issues": issues})
    return json.dumps({"verdict": "agree", "issues": []})


def _standalone(prompt: str) -> str:
    known = json.loads(prompt.split("What the conversation has dealt with so far:", 1)[1].split("Conversation", 1)[0])
    message = prompt.rsplit("Latest message:", 1)[1].strip()
    companies = known.get("last_companies") or known.get("companies") or []
    if not companies:
        return message
    name = companies[0]["name"]
    return re.sub(r"\b(them|they|it)\b", name, re.sub(r"\btheir\b", f"{name}'s", message))


def _first_call(task: str, tools: set[str]) -> tuple[str, dict[str, Any]] | None:
    domain = next(iter(_DOMAIN.findall(task)), None)
    lowered = task.lower()
    if "crm__hubspot-batch-create-objects" in tools and ("add " in lowered or "create " in lowered) and domain:
        name = re.search(r"(?:add|create)\s+(.+?)\s*\(", task, re.IGNORECASE)
        properties = {"name": name.group(1) if name else domain.split(".")[0].title(), "domain": domain}
        return "crm__hubspot-batch-create-objects", {"objectType": "companies", "inputs": [{"properties": properties}]}
    if "crm__hubspot-search-objects" in tools and domain:
        return "crm__hubspot-search-objects", {"objectType": "companies", "query": domain,
                                               "properties": ["name", "lifecyclestage", "industry"]}  # fmt: skip
    if "fetch__fetch" in tools and (url := re.search(r"https?://\S+", task)):
        return "fetch__fetch", {"url": url.group(0).rstrip(".,"), "max_length": 2000}
    return None


def _answer_from_tool(messages: list[dict[str, Any]]) -> str:
    result = _text(messages[-1]).rsplit("Tool response:", 1)[-1].strip()  # after a reviewer's note on an edited call
    called = next((m["tool_calls"][-1]["function"]["name"] for m in reversed(messages) if m.get("tool_calls")), "")
    try:
        data = json.loads(result)
    except ValueError:
        return f"The {called} call said: {result[:300]}"
    if called == "crm__hubspot-search-objects":
        found = data.get("results") or []
        if not found:
            return "The CRM has no company with that domain."
        properties = found[0].get("properties", {})
        return (f"{properties.get('name')} is at lifecycle stage {properties.get('lifecyclestage')} in our CRM "
                f"[{called}].")  # fmt: skip
    if called == "crm__hubspot-batch-create-objects":
        created = (data.get("results") or [{}])[0]
        name = created.get("properties", {}).get("name")
        return f"Added {name} to the CRM as company {created.get('id')} [{called}]."
    return f"The {called} call answered: {json.dumps(data)[:300]}"
