"""`design_to_deployment`: Figma data -> component spec -> code -> (approval) -> deploy -> browser test.

Offline the code comes from the deterministic design compiler; deploying changes external state, so the run
pauses for a person's approval (LangGraph `interrupt`) unless the deploy pool is trusted in config. The approval
step is a node of its own: on resume LangGraph re-runs the interrupted node from its start, and nothing but the
question may sit before the interrupt.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import re
from html import escape as html_escape
from pathlib import Path
from typing import Any, Literal

from langchain_core.messages import HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command

from orchestra.design.compiler import compile_design
from orchestra.graphs import pages
from orchestra.graphs.approvals import ApprovalDecision, approval_request, ask_approval, ask_choice
from orchestra.graphs.context import context_of
from orchestra.graphs.evidence import Step, cite, shorten
from orchestra.graphs.progress import emit
from orchestra.graphs.state import RunContext, RunState
from orchestra.graphs.workflows.prompts import IMPROVE_PAGE
from orchestra.graphs.workflows.synthesis import finish_report
from orchestra.routing.choice import TierChoice

# Words that say what to do, not which design: what is left names the design ("pricing", "careers").
_GENERIC = frozenset(
    [
        "a",
        "again",
        "all",
        "an",
        "and",
        "app",
        "build",
        "by",
        "can",
        "could",
        "deploy",
        "design",
        "designs",
        "figma",
        "file",
        "files",
        "for",
        "frame",
        "from",
        "go",
        "i",
        "it",
        "its",
        "live",
        "make",
        "me",
        "my",
        "new",
        "now",
        "of",
        "on",
        "our",
        "page",
        "pages",
        "please",
        "production",
        "prod",
        "publish",
        "push",
        "put",
        "release",
        "run",
        "screen",
        "ship",
        "site",
        "that",
        "the",
        "this",
        "to",
        "up",
        "us",
        "we",
        "web",
        "website",
        "with",
        "you",
    ]
)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def choose_design(task: str, files: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, str | None]:
    """The design file the task names; None and why when the task names no file of these, or several. A deploy
    never falls back to a guess: a name spelled close to a design's is asked about (`close_designs`)."""
    wanted = _words(task) - _GENERIC
    if not wanted:
        if len(files) == 1:
            return files[0], None
        return None, "the task does not say which design"
    scored = sorted(((len(wanted & _words(f["name"])), f) for f in files), key=lambda pair: -pair[0])
    best = [f for score, f in scored if score and score == scored[0][0]]
    if len(best) == 1:
        return best[0], None
    if len(best) > 1:
        return None, f"{' and '.join(repr(f['name']) for f in best)} both match"
    return None, f"no design is named like {', '.join(repr(w) for w in sorted(wanted))}"


def close_designs(task: str, files: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """The words of the task that name no design, and the designs spelled close to them ("pricng": the Pricing
    page): what to ask the user about, since a write never goes to a design the user did not name."""
    wanted = sorted(_words(task) - _GENERIC)
    vocabulary = {word: f for f in files for word in _words(f["name"]) - _GENERIC}
    spelled_close = [m for w in wanted for m in difflib.get_close_matches(w, vocabulary, 3, 0.75)]
    close = {vocabulary[m]["fileKey"]: vocabulary[m] for m in spelled_close}
    return " ".join(wanted), list(close.values())


async def read_design(
    state: RunState, runtime: Runtime[RunContext]
) -> Command[Literal["ask_design", "build", "__end__"]]:
    step = Step(state, context_of(runtime))
    listed = await step.call("design", "design", "list_figma_files", {})
    files = (listed[0] or {}).get("files", []) if listed else []
    if not files:
        return Command(goto=END, update=step.update(answer="No design files are available from the design pool."))
    chosen, note = choose_design(state["task"], files)
    listing = {"files": files, "evidence": listed[1] if listed else None}
    if chosen is None and (close := close_designs(state["task"], files))[1]:
        typed, candidates = close  # asked in a node of its own, so that resuming does not list the files again
        question = {"typed": typed, "candidates": candidates, "note": note}
        return Command(goto="ask_design", update=step.update(facts={"listing": listing, "question": question}))
    return await _read_frame(step, listing, chosen, note)


async def ask_design(state: RunState, runtime: Runtime[RunContext]) -> Command[Literal["build", "__end__"]]:
    """Which design a misspelled name meant: the user says, or nothing is built."""
    question, listing = state["facts"]["question"], state["facts"]["listing"]
    typed, candidates = question["typed"], question["candidates"]
    picked = ask_choice(f"No design is named “{typed}”. Which design do you mean?", [f["name"] for f in candidates])
    chosen = next((f for f in candidates if f["name"] == picked), None)
    if chosen is None:
        closest = ", ".join(repr(f["name"]) for f in candidates)
        note = f"no design is named “{typed}” and none was chosen (the closest: {closest})"
    else:
        note = f"“{typed}” taken as {picked!r}, chosen by the user"
    return await _read_frame(Step(state, context_of(runtime)), listing, chosen, note)


async def _read_frame(
    step: Step, listing: dict[str, Any], chosen: dict[str, Any] | None, note: str | None
) -> Command[Literal["build", "__end__"]]:
    """The chosen design's first frame, read for the build; or the answer that says why nothing was built."""
    files = listing["files"]
    if chosen is None:
        names = ", ".join(f["name"] for f in files)
        answer = (f"# Not deployed\n\nI could not tell which design to deploy: {note}. Nothing was built or deployed. "
                  f"The design files are: {names}. Name one, e.g. “Deploy the {files[0]['name']} from Figma”."
                  f"{cite(listing['evidence'])}")  # fmt: skip
        return Command(goto=END, update=step.update(answer=answer))
    frame = chosen["frames"][0]
    arguments = {"fileKey": chosen["fileKey"], "nodeId": frame["id"]}
    data = await step.call("design", "design", "get_figma_data", arguments)
    if data is None:
        return Command(goto=END, update=step.update(answer=f"Could not read the design {chosen['name']}."))
    simplified = data[0] if isinstance(data[0], dict) else json.loads(data[0])
    design = {"file": chosen, "frame": frame, "evidence": data[1], "list_evidence": listing["evidence"], "note": note}
    return Command(goto="build", update=step.update(facts={"design": design, "simplified": simplified}))


async def _improved(context: RunContext, html: str, spec: list[dict[str, Any]], texts: list[str]) -> str | None:
    """The model's improvement of the compiled page, kept only if it is a whole page that still shows every text."""
    # Premium by rule, with no fallback to the fast tier: this page is about to be deployed.
    model = context.llm.chat_model("premium", context.usage, TierChoice("page_code", "premium", "rule"))
    prompt = IMPROVE_PAGE.format(spec=json.dumps(spec)[:8000], html=html)
    reply = str((await model.ainvoke([HumanMessage(prompt)])).content).strip()
    candidate = re.sub(r"^```(?:html)?\s*|\s*```$", "", reply)
    complete = "<html" in candidate.lower() and "</html>" in candidate.lower()
    return candidate if complete and all(html_escape(t) in candidate or t in candidate for t in texts) else None


async def build(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """The component spec and the code, written into a build folder of the thread. Offline the code is the design
    compiler's; with a model, the model's improvement replaces it when it keeps every text of the design."""
    context = context_of(runtime)
    design = state["facts"]["design"]
    page = compile_design(state["facts"]["simplified"], title=design["file"]["name"])
    html, author = page.html, "the deterministic design compiler"
    if not context.llm.offline:
        better = await _improved(context, page.html, page.component_spec, page.expected_texts)
        if better is not None:
            html, author = better, "the design compiler, improved by a model"
    project = re.sub(r"[^a-z0-9]+", "-", design["file"]["name"].lower()).strip("-")[:48]
    folder = context.reports_dir.parent / "builds" / project
    await asyncio.to_thread(_write_build, folder, html)
    size = len(html.encode())
    step = Step(state, context)
    evidence = step.computed("build", {"design": design["file"]["fileKey"], "folder": str(folder)},
                             {"bytes": size, "components": len(page.component_spec), "author": author})  # fmt: skip
    built = {
        "project": project, "folder": str(folder), "spec": page.component_spec,
        "expected_texts": page.expected_texts, "bytes": size, "author": author, "evidence": evidence,
    }  # fmt: skip
    return step.update(facts={"build": built})


def _write_build(folder: Path, html: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.html").write_text(html, encoding="utf-8")


async def approve(state: RunState, runtime: Runtime[RunContext]) -> Command[Literal["deploy", "report"]]:
    built = state["facts"]["build"]
    arguments = {"project": built["project"], "directory": built["folder"]}
    request = approval_request("deploy", "deploy", arguments, "deploying publishes a page (a change to external state)")
    if "deploy" in context_of(runtime).auto_approve_pools:
        decision = ApprovalDecision(action="approve", by="config (trusted pool)")
    else:
        emit("approval", phase="asked", **{k: v for k, v in request.items() if k != "response_schema"})
        decision = ask_approval(request)
    emit("approval", phase="answered", tool=request["tool"], decision=decision.action, reason=decision.reason)
    record = {"tool": request["tool"], "pool": "deploy", "arguments": arguments, "reason": request["reason"],
              "decision": decision.action, "by": decision.by, "because": decision.reason}  # fmt: skip
    if decision.action == "edit":
        record["arguments"] = {**arguments, **(decision.arguments or {})}
    if decision.action == "reject":
        return Command(goto="report", update={"approvals": [record]})
    return Command(goto="deploy", update={"approvals": [record]})


async def deploy(state: RunState, runtime: Runtime[RunContext]) -> Command[Literal["browser_test", "report"]]:
    step = Step(state, context_of(runtime))
    arguments = state["approvals"][-1]["arguments"]
    done = await step.call("design", "deploy", "deploy", arguments)
    if done is None:
        return Command(goto="report", update=step.update())
    return Command(goto="browser_test", update=step.update(facts={"deployment": {**done[0], "evidence": done[1]}}))


async def browser_test(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Open the deployed URL in the thread's browser: the page renders, its texts and buttons are there."""
    step = Step(state, context_of(runtime))
    deployment = state["facts"]["deployment"]
    result: dict[str, Any] = {"url": deployment["url"]}
    if await step.call("web", "browser", "browser_navigate", {"url": deployment["url"]}):
        snapshot = await step.call("web", "browser", "browser_snapshot", {})
        if snapshot is not None:
            seen = " ".join(pages.texts(str(snapshot[0])))
            expected = state["facts"]["build"]["expected_texts"]
            result["missing"] = [t for t in expected if t not in seen]
            result["found"] = len(expected) - len(result["missing"])
            result["expected"] = len(expected)
            result["buttons"] = sum(1 for n in pages.nodes(str(snapshot[0])) if n["role"] == "button")
            result["evidence"] = snapshot[1]
        # Playwright MCP writes only under its --output-dir: the data directory's playwright/ in our config.
        saved = context_of(runtime).screenshots_dir / f"{deployment['id']}.png"
        await asyncio.to_thread(saved.parent.mkdir, parents=True, exist_ok=True)
        screenshot = {"filename": str(saved), "fullPage": True}
        shot = await step.call("web", "browser", "browser_take_screenshot", screenshot)
        if shot is not None:
            result["screenshot_evidence"] = shot[1]
            # The browser pool names the file it wrote; its answer, not a look at the disk, says the shot was saved
            # (a replayed run has the answer and no file).
            result["screenshot"] = str(saved) if saved.name in str(shot[0]) else None
    return step.update(facts={"test": result})


async def report(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    facts = state["facts"]
    design, built = facts["design"], facts["build"]
    frame = design["frame"]
    lines = [
        f"# Design to deployment: {design['file']['name']}", "## Design",
        f"- Frame \"{frame['name']}\" ({frame['width']}x{frame['height']}) of file {design['file']['fileKey']}"
        f"{cite(design['evidence'])}",
        *([f"- Which design: {design['note']}"] if design.get("note") else []),
        "## Component spec",
    ]  # fmt: skip
    for item in built["spec"][:12]:
        texts = shorten(", ".join(map(str, item.get("texts", []))), 100)
        lines.append(f'- {item.get("kind", "block")} "{item.get("name")}": {texts}')
    lines += [
        "## Code",
        f"- Written by {built['author']}: {built['bytes']:,} bytes of HTML and CSS in {built['folder']}/index.html"
        f"{cite(built.get('evidence'))}",
    ]
    approval = (state.get("approvals") or [{}])[-1]
    lines.append("## Deployment")
    if approval.get("decision") not in ("approve", "edit"):
        done = {"reject": "rejected"}.get(approval.get("decision", ""), "not approved")
        decision, by = done, approval.get("by", "the user")
        because = f" ({approval['because']})" if approval.get("because") else ""
        lines.append(f"- Not deployed: the deployment was {decision} by {by}{because}.")
    elif "deployment" in facts:
        deployment = facts["deployment"]
        lines.append(
            f"- Deployed as {deployment['id']} at {deployment['url']} (approved by {approval['by']}); production: "
            f"{deployment['production_url']}{cite(deployment['evidence'])}"
        )
        test = facts.get("test", {})
        lines.append("## Browser test")
        if "found" in test:
            verdict = "passed" if not test["missing"] else f"missing {test['missing'][:5]}"
            lines.append(
                f"- {test['found']} of {test['expected']} expected texts on the page, {test['buttons']} buttons: "
                f"{verdict}{cite(test.get('evidence'))}"
            )
        if test.get("screenshot"):
            lines.append(f"- Screenshot: {test['screenshot']}{cite(test.get('screenshot_evidence'))}")
    else:
        lines.append("- The deploy call failed; see the evidence table.")
    return await finish_report(state, context_of(runtime), "\n".join(lines), reader="design lead")


def build_graph(context_schema: type[RunContext] | None = RunContext) -> StateGraph:
    """The graph; `context_schema=None` for servers that bring no run context (LangGraph Studio)."""
    graph = StateGraph(RunState, context_schema=context_schema)
    for name, node in (("read_design", read_design), ("ask_design", ask_design), ("build", build),
                       ("approve", approve), ("deploy", deploy), ("browser_test", browser_test),
                       ("report", report)):  # fmt: skip
        graph.add_node(name, node)
    graph.add_edge(START, "read_design")
    graph.add_edge("build", "approve")
    graph.add_edge("browser_test", "report")
    graph.add_edge("report", END)
    return graph
