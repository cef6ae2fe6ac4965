"""The web chat (issue 11) in a real browser: Playwright drives Debian's Chromium against a real `orchestra serve`
(its own process, with an API key set) over the session's sandbox gateway. Each test leaves a screenshot of its
finished state in its temporary folder, and no test may leave a console error behind."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright, expect

from evals.scripted_llm import reply, scripted_llm, tool_call
from tests.conftest import ROOT, serving
from tests.sandbox.conftest import SERVER_KEY, Sandbox, orchestra_serve

pytestmark = pytest.mark.integration

KEY = SERVER_KEY
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
RUN_TIMEOUT = 120_000  # ms: a workflow through the real gateway, on a small machine under a full test run


@pytest.fixture(scope="module")
async def chat_url(sandbox: Sandbox) -> AsyncIterator[str]:
    async with orchestra_serve(sandbox, ROOT / "config" / "orchestra.yaml") as served:
        yield served.url


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


class Chat:
    """One browser tab on the chat page, recording what its console says."""

    def __init__(self, page: Page, url: str) -> None:
        self.page, self.url = page, url
        self.console: list[str] = []
        page.on("console", self._heard)
        page.on("pageerror", lambda error: self.console.append(f"page error: {error}"))

    def _heard(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.console.append(f"{message.type}: {message.text}")

    async def open(self, key: str = KEY, accepted: bool = True) -> None:
        await self.page.goto(self.url)
        await expect(self.page.locator("#input")).to_be_disabled()  # nothing can be sent before a key is accepted
        await expect(self.page.locator("#key-dialog")).to_be_visible()
        await self.page.fill("#key-input", key)
        await self.page.click("#key-form button[type=submit]")
        if accepted:
            await expect(self.page.locator("#input")).to_be_enabled()

    async def send(self, text: str) -> None:
        await self.page.fill("#input", text)
        await self.page.press("#input", "Enter")

    def answers(self) -> Any:
        return self.page.locator("[data-testid=answer]")

    async def approval(self) -> Any:
        card = self.page.locator("[data-testid=approval]")
        await expect(card).to_be_visible(timeout=RUN_TIMEOUT)
        return card

    async def idle(self) -> None:
        await expect(self.page.locator("#send")).to_be_enabled(timeout=RUN_TIMEOUT)


@pytest.fixture
async def chat(browser: Browser, chat_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Chat]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    opened = Chat(await context.new_page(), chat_url)
    try:
        yield opened
    finally:
        await opened.page.screenshot(path=tmp_path / f"{request.node.name}.png", full_page=True)
        await context.close()
    allowed = getattr(request.node, "allowed_console", ())
    assert [line for line in opened.console if not any(a in line for a in allowed)] == []


async def test_the_headline_sales_task_and_a_follow_up_in_the_same_thread(chat: Chat, sandbox: Sandbox) -> None:
    company, other = sandbox.world.companies[36], sandbox.world.companies[37]
    await chat.open()
    await chat.send(f"Research {company.name} for our sales call tomorrow")
    await expect(chat.page.locator("[data-testid=live] .tool").first).to_be_visible(timeout=RUN_TIMEOUT)
    answer = chat.answers().first
    await expect(answer).to_be_visible(timeout=RUN_TIMEOUT)
    await expect(answer.locator("[data-testid=triage]")).to_contain_text("sales_intelligence_research")
    await expect(answer.locator("h1")).to_contain_text(f"Sales brief: {company.name}")
    await expect(answer.locator(".markdown")).to_contain_text(company.domain)
    statuses = await answer.locator(".tool .status").all_inner_texts()
    assert statuses
    assert all(status == "ok" or status.startswith("reused") for status in statuses)

    cite = answer.locator("a.cite").first
    evidence_id = await cite.inner_text()
    await cite.click()
    row = answer.locator(f"details.evidence-row[id$='-{evidence_id}']")
    await expect(row).to_have_attribute("open", "")
    await expect(row.locator("pre").first).to_be_visible()  # the call's arguments
    assert await row.locator("pre").nth(1).inner_text() not in ("", "(not kept)")  # and its result

    await chat.send(f"now compare them with {other.name}")
    await expect(chat.answers()).to_have_count(2, timeout=RUN_TIMEOUT)
    second = chat.answers().nth(1)
    await expect(second.locator("[data-testid=triage]")).to_contain_text("competitive_analysis")
    await expect(second.locator(".markdown table").first).to_be_visible()
    for name in (company.name, other.name):
        await expect(second.locator(".markdown")).to_contain_text(name)
    await expect(chat.page.locator("#threads li")).not_to_have_count(0)


async def test_a_failed_tool_call_is_shown_plainly_with_its_reason(chat: Chat) -> None:
    await chat.open()
    await chat.send("Research zzunknown-company.example for our sales call")
    answer = chat.answers().first
    await expect(answer).to_be_visible(timeout=RUN_TIMEOUT)
    failed = answer.locator(".tool").filter(has=chat.page.locator(".status.failed"))
    await expect(failed.first).to_contain_text("enrichment · enrich_organization")
    assert (await failed.first.locator(".why").inner_text()).strip()


async def test_a_deployment_paused_for_approval_is_approved_in_the_page_and_its_screenshot_shown(chat: Chat) -> None:
    await chat.open()
    await chat.send("Deploy the pricing page from Figma")
    card = await chat.approval()
    await expect(card).to_contain_text("deploy · deploy")
    await card.get_by_role("button", name="Approve").click()
    answer = chat.answers().first
    await expect(answer).to_be_visible(timeout=RUN_TIMEOUT)
    await expect(answer.locator(".markdown")).to_contain_text("Deployed as")
    link = answer.locator("[data-testid=deployment] figcaption a")
    assert (await link.get_attribute("href") or "").startswith("http://127.0.0.1:")
    screenshot = answer.locator("[data-testid=screenshot]")
    await expect(screenshot).to_be_visible(timeout=30_000)
    for _ in range(100):  # the image arrives as a blob fetched with the key
        if await screenshot.evaluate("img => img.complete && img.naturalWidth") > 100:
            break
        await asyncio.sleep(0.2)
    assert await screenshot.evaluate("img => img.naturalWidth") > 100

    # The screenshot route serves what an answer of the caller's thread shows, and nothing else.
    thread_id = chat.page.url.split("#thread=")[1]
    name = (await answer.locator(".markdown").inner_text()).split("/screenshots/")[1].split(".png")[0] + ".png"
    async with httpx.AsyncClient(base_url=chat.url, headers={"x-api-key": KEY}) as http:
        shown = await http.get(f"/threads/{thread_id}/screenshots/{name}")
        assert shown.status_code == 200
        assert shown.content.startswith(b"\x89PNG")
        keyless = await http.get(f"/threads/{thread_id}/screenshots/{name}", headers={"x-api-key": ""})
        assert keyless.status_code == 401
        for other in ("..%2F..%2Fworld.json", "%2E%2E", "other.png", f"{name}%00.png"):
            refused = await http.get(f"/threads/{thread_id}/screenshots/{other}")
            assert refused.status_code == 404, other


async def test_a_rejected_write_is_not_deployed_and_bad_edited_arguments_are_refused_first(chat: Chat) -> None:
    await chat.open()
    await chat.send("Deploy the landing page from Figma")
    card = await chat.approval()
    await card.get_by_role("button", name="Edit").click()
    await card.locator("textarea.arguments").fill('{"project": ')
    await card.get_by_role("button", name="Send edited call").click()
    await expect(card.locator("p.error")).to_contain_text("not valid JSON")
    await card.locator("textarea.arguments").fill('["a list"]')
    await card.get_by_role("button", name="Send edited call").click()
    await expect(card.locator("p.error")).to_contain_text("must be a JSON object")

    await card.get_by_role("button", name="Reject").click()
    await card.locator("input.reason").fill("wrong page")
    await card.get_by_role("button", name="Confirm reject").click()
    answer = chat.answers().first
    await expect(answer).to_be_visible(timeout=RUN_TIMEOUT)
    await expect(answer.locator(".markdown")).to_contain_text("Not deployed: the deployment was rejected")
    await expect(answer.locator(".markdown")).to_contain_text("wrong page")
    await expect(answer.locator("[data-testid=deployment]")).to_have_count(0)


async def test_market_figures_are_drawn_as_a_chart(chat: Chat) -> None:
    await chat.open()
    await chat.send("Size the telehealth market: growth, segments and top players")
    answer = chat.answers().first
    await expect(answer).to_be_visible(timeout=RUN_TIMEOUT)
    chart = answer.locator("[data-testid=market-chart]")
    await expect(chart.locator("canvas")).to_have_count(2)
    await expect(chart.locator("figcaption")).to_contain_text("Telehealth")
    drawn = await chart.locator("canvas").first.evaluate(
        "c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 === 3 && v > 0)"
    )
    assert drawn


async def test_a_reloaded_page_finds_the_thread_which_can_be_searched_renamed_and_deleted(chat: Chat) -> None:
    await chat.open()
    await chat.send("What is on the status page of brightloop.example?")
    await chat.idle()
    await expect(chat.page.locator(".turn.assistant")).to_have_count(1)

    await chat.page.reload()  # the key is kept for the tab: no dialog again
    await expect(chat.page.locator("#key-dialog")).not_to_be_visible()
    await expect(chat.page.locator(".turn.user")).to_contain_text("status page of brightloop.example")
    threads = chat.page.locator("#threads li")
    await chat.page.fill("#search", "brightloop status")
    await expect(threads).to_have_text(["No thread matches."])
    await chat.page.fill("#search", "STATUS PAGE of brightloop")
    await expect(threads).to_have_count(1)

    await threads.first.get_by_role("button", name="Rename thread").click()
    await chat.page.fill("#threads input.rename", "Brightloop status")
    await chat.page.press("#threads input.rename", "Enter")
    await chat.page.fill("#search", "")
    await expect(threads.filter(has_text="Brightloop status")).to_have_count(1)
    await expect(chat.page.locator("#title")).to_have_text("Brightloop status")
    await chat.page.reload()
    await expect(chat.page.locator("#title")).to_have_text("Brightloop status")  # renamed on the server

    renamed = threads.filter(has_text="Brightloop status")
    await renamed.get_by_role("button", name="Delete thread").click()
    await chat.page.get_by_role("button", name="Delete", exact=True).click()
    await expect(threads.filter(has_text="Brightloop status")).to_have_count(0)
    await expect(chat.page.locator("#title")).to_have_text("New chat")


async def test_a_run_in_progress_can_be_stopped(chat: Chat, sandbox: Sandbox) -> None:
    company = sandbox.world.companies[38]
    await chat.open()
    await chat.send(f"Compare {company.name} with its competitors side by side")
    await expect(chat.page.locator("[data-testid=live] .tool").first).to_be_visible(timeout=RUN_TIMEOUT)
    await chat.page.click("#stop")
    await expect(chat.page.locator("[data-testid=run-ended]")).to_have_text("Stopped before it answered.",
                                                                           timeout=RUN_TIMEOUT)  # fmt: skip
    await expect(chat.answers()).to_have_count(0)
    await expect(chat.page.locator("#send")).to_be_enabled()


async def test_a_wrong_key_is_refused_plainly_and_the_right_one_then_works(
    chat: Chat, request: pytest.FixtureRequest
) -> None:
    request.node.allowed_console = ("status of 401",)  # the browser logs the refused request itself
    await chat.open(key="not-the-key", accepted=False)
    await expect(chat.page.locator("#key-message")).to_have_text("That key was not accepted. Check it and try again.")
    await chat.page.fill("#key-input", KEY)
    await chat.page.click("#key-form button[type=submit]")
    await expect(chat.page.locator("#key-dialog")).not_to_be_visible()
    await expect(chat.page.locator("#banner")).to_be_hidden()


async def test_the_server_down_is_said_plainly_and_a_phone_width_window_works(
    chat: Chat, request: pytest.FixtureRequest
) -> None:
    request.node.allowed_console = ("net::ERR_CONNECTION_REFUSED",)
    await chat.page.set_viewport_size({"width": 390, "height": 800})
    await chat.open()
    await expect(chat.page.locator("#sidebar")).not_to_be_in_viewport()
    await chat.page.click("#menu")
    await expect(chat.page.locator("#sidebar")).to_be_in_viewport()
    await chat.page.click("#new-chat")
    await chat.page.route("**/threads", lambda route: route.abort("connectionrefused"))
    await chat.send("Research brightloop.example")
    await expect(chat.page.locator("#banner")).to_contain_text("Cannot reach the Orchestra server")
    await expect(chat.page.locator("#input")).to_have_value("Research brightloop.example")  # nothing typed is lost


RUN_WITH_DROPS = """async ([task]) => {
  const api = await import("/chat/api.js");
  const thread = await api.call("POST", "/threads", { metadata: { title: "dropped connection" } });
  const body = { assistant_id: "supervisor", input: { messages: [{ role: "user", content: task }] },
                 stream_mode: ["custom", "values"] };
  const ids = [];
  let reconnects = 0;
  window.seenEvents = 0;
  for await (const event of api.runEvents(thread.thread_id, body, { onReconnect: () => { reconnects += 1; } })) {
    ids.push(Number(event.id));
    window.seenEvents = ids.length;
  }
  const state = await api.call("GET", `/threads/${thread.thread_id}/state`);
  return { ids, reconnects, answer: state.values.answer || "" };
}"""


@contextlib.asynccontextmanager
async def dropping_proxy(target: str) -> AsyncIterator[tuple[str, Callable[[], int]]]:
    """A TCP proxy on 127.0.0.1 in front of `target`, and a function that cuts every connection through it (as a
    network failure would) and says how many it cut."""
    host, port = httpx.URL(target).host, httpx.URL(target).port
    open_now: set[asyncio.StreamWriter] = set()

    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def relay(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection(host, port)
        open_now.update((client_writer, server_writer))
        try:
            await asyncio.gather(pump(client_reader, server_writer), pump(server_reader, client_writer))
        finally:
            open_now.difference_update((client_writer, server_writer))

    def cut() -> int:
        cutting = list(open_now)
        for writer in cutting:
            writer.transport.abort()
        return len(cutting)

    proxy = await asyncio.start_server(relay, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{proxy.sockets[0].getsockname()[1]}", cut
    finally:
        proxy.close()
        cut()


async def test_a_dropped_connection_rejoins_the_run_without_losing_or_repeating_events(
    chat: Chat, sandbox: Sandbox, request: pytest.FixtureRequest
) -> None:
    request.node.allowed_console = ("net::ERR_",)  # the browser reports the cut connection itself
    company = sandbox.world.companies[39]
    async with dropping_proxy(chat.url) as (url, cut):
        chat.url = url
        await chat.open()
        await expect(chat.page.locator("#title")).to_have_text("New chat")
        running = asyncio.create_task(chat.page.evaluate(RUN_WITH_DROPS, [f"Research {company.name} for our call"]))
        while not running.done() and (await chat.page.evaluate("window.seenEvents || 0")) < 3:
            await asyncio.sleep(0.05)
        assert cut() >= 1  # the run's stream breaks mid-run
        result = await asyncio.wait_for(running, RUN_TIMEOUT / 1000)
    assert result["reconnects"] >= 1
    assert result["ids"] == list(range(len(result["ids"])))  # every event once, in order
    assert result["answer"].startswith(f"# Sales brief: {company.name}")


async def test_a_page_reloaded_during_a_run_joins_it_and_shows_its_end(chat: Chat, sandbox: Sandbox) -> None:
    company = sandbox.world.companies[40]
    await chat.open()
    await chat.send(f"Research {company.name} for our sales call")
    await expect(chat.page.locator("[data-testid=live] .tool").first).to_be_visible(timeout=RUN_TIMEOUT)
    await chat.page.reload()
    answer = chat.answers().first
    await expect(answer).to_be_visible(timeout=RUN_TIMEOUT)
    await expect(answer.locator("h1")).to_contain_text(f"Sales brief: {company.name}")
    await expect(chat.page.locator(".turn.user")).to_have_count(1)


async def test_a_name_that_fits_several_companies_is_chosen_in_the_page(chat: Chat, sandbox: Sandbox) -> None:
    await chat.open()
    await chat.send("Research Works for our sales call")
    card = await chat.approval()
    options = await card.locator("button").all_inner_texts()
    assert len(options) >= 2
    await card.get_by_role("button", name=options[0], exact=True).click()
    answer = chat.answers().first
    await expect(answer).to_be_visible(timeout=RUN_TIMEOUT)
    await expect(answer.locator("h1")).to_contain_text(f"Sales brief: {options[0]}")


async def test_a_specialists_write_is_reviewed_in_the_page_before_it_runs(
    browser: Browser, sandbox: Sandbox, tmp_path: Path
) -> None:
    """With a model (the scripted OpenAI-compatible server, behaving as a model that calls a tool), a specialist's
    CRM write pauses in LangChain's human-in-the-loop format; the page edits the call, and the edited call runs."""
    domain = "quorvexchat.example"

    def script(body: dict[str, Any]) -> dict[str, Any]:
        last = body["messages"][-1]
        if body.get("tools") and last["role"] != "tool":
            inputs = [{"properties": {"name": "Quorvex Chat", "domain": domain}}]
            return tool_call("crm__hubspot-batch-create-objects", {"objectType": "companies", "inputs": inputs})
        if last["role"] == "tool":
            return reply(f"Added {domain} to the CRM [crm__hubspot-batch-create-objects].")
        return reply('{"verdict": "agree", "issues": []}')

    llm, received = scripted_llm(script)
    async with serving(llm) as base:
        config = yaml.safe_load((ROOT / "config" / "orchestra.yaml").read_text())
        route = {"model": "openai/gpt-4.1-mini", "api_key": "${SCRIPTED_KEY}", "api_base": f"{base}/v1"}
        config["models"] = {"tiers": {"fast": [route], "premium": [route]}}
        (tmp_path / "orchestra.yaml").write_text(yaml.safe_dump(config))
        async with orchestra_serve(sandbox, tmp_path / "orchestra.yaml", {"SCRIPTED_KEY": "k"}) as served:
            url = served.url
            context = await browser.new_context()
            chat = Chat(await context.new_page(), url)
            try:
                await chat.open()
                await chat.send(f"Add Quorvex Chat ({domain}) as a new company in our CRM")
                card = await chat.approval()
                await expect(card).to_contain_text("agent · crm__hubspot-batch-create-objects")
                await card.get_by_role("button", name="Edit").click()
                edited = {
                    "objectType": "companies",
                    "inputs": [{"properties": {"name": "Quorvex Chat Inc", "domain": domain}}],
                }
                await card.locator("textarea.arguments").fill(json.dumps(edited))
                await card.get_by_role("button", name="Send edited call").click()
                answer = chat.answers().first
                await expect(answer).to_be_visible(timeout=RUN_TIMEOUT)
                await expect(answer.locator(".markdown")).to_contain_text(f"Added {domain} to the CRM")
                footer = answer.locator("[data-testid=answer-footer]")
                await expect(footer).to_contain_text("model calls: 1")  # this run's: the answer after the edit
                await footer.locator("[data-testid=thumbs-down]").click()
                await expect(footer).to_contain_text("Thanks, noted.")  # the server answered 201
                await expect(footer.locator("[data-testid=thumbs-up]")).to_be_disabled()
            finally:
                await chat.page.screenshot(path=tmp_path / "specialist-write.png")
                await context.close()
            assert chat.console == []
    async with sandbox.client("crm") as crm:
        found = await crm.call_tool("hubspot-search-objects", {"objectType": "companies", "query": domain})
    assert "Quorvex Chat Inc" in str(found.content)  # the edited call is the one that ran
    assert "Quorvex Chat Inc" in json.dumps(received[-1]["messages"][-1])  # and the model was told its result


async def test_the_page_and_its_files_are_served_offline_with_a_strict_content_policy(chat_url: str) -> None:
    async with httpx.AsyncClient(base_url=chat_url) as http:
        page = await http.get("/")
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "connect-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        for script in ("/chat/chat.js", "/chat/vendor/marked.esm.js", "/chat/vendor/purify.es.mjs"):
            served = await http.get(script)
            assert served.status_code == 200
            assert served.headers["content-type"].startswith("text/javascript")
        assert "http" not in (await http.get("/chat/chat.css")).text  # no font or style from elsewhere
        for refused in ("/chat/../routes/chat.py", "/chat/%2e%2e/app.py", "/chat/vendor/.installed", "/chat/x.py"):
            assert (await http.get(refused)).status_code == 404, refused
        assert (await http.get("/ok")).json()["key_required"] is True


HOSTILE_ANSWER = """# Page text
<textarea id="input" hidden>injected</textarea><button id="stop">x</button>
<form action="/"><input name="key" type="password"><button>Continue</button></form>
<p class="approval turn pending" style="color:red" onclick="alert(1)">fake</p>
<a href="javascript:alert(1)">link</a> <img src=x onerror="alert(1)"> [E1]"""


async def test_html_quoted_in_an_answer_cannot_become_controls_of_the_page(chat: Chat) -> None:
    """A fetched web page's text can reach an answer word for word; its HTML must not act as the page's own."""
    await chat.open()
    rendered = await chat.page.evaluate(
        """async (text) => {
            const render = await import("/chat/render.js");
            const node = render.markdown(text, "scope");
            document.getElementById("conversation").append(node);
            return {
                html: node.innerHTML,
                controls: node.querySelectorAll(
                    "form, input, textarea, button, img, [id], [name], [style], [onclick], [onerror], "
                    + "[class]:not(a.cite), a[href^='javascript']").length,
                text: node.textContent,
                inputIsOurs: document.getElementById("input").getAttribute("aria-label") === "Message",
            };
        }""",
        HOSTILE_ANSWER,
    )
    assert rendered["controls"] == 0
    assert rendered["inputIsOurs"]
    assert '<textarea id="input" hidden>injected</textarea>' in rendered["text"]  # shown as what it is: text
    assert "scope-E1" in rendered["html"]  # citations still link to the evidence
    await chat.send("Size the telehealth market: growth, segments and top players")  # the real box still sends
    await expect(chat.answers().first).to_be_visible(timeout=RUN_TIMEOUT)
