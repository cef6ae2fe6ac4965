// The chat page: threads in the sidebar, a conversation per thread, runs streamed live. Everything it shows comes
// from the server's LangGraph API; a thread is re-drawn from its state whenever a run ends, so what a reload
// shows is what was shown live.
import { ApiError, call, key, runEvents } from "./api.js";
import { ToolList, answerFooter, deployment, el, evidenceList, followCitation, interruptCard, marketChart, markdown, triageLine } from "./render.js";

const GRAPH = "supervisor";
const MODES = ["custom", "values"];
// The page's own controls, found once before anything is drawn: an answer can hold HTML of its own (sanitized,
// but never trusted to stay out of the way of a later lookup by id).
const ui = Object.fromEntries(["banner", "conversation", "input", "send", "stop", "title", "threads", "search",
  "composer", "menu", "new-chat", "key-dialog", "key-form", "key-input", "key-message", "boot", "sidebar"]
  .map((id) => [id, document.getElementById(id)]));
const $ = (id) => ui[id];
const page = { threadId: null, threads: [], run: null, pending: null };

function banner(message) {
  const node = $("banner");
  node.textContent = message || "";
  node.hidden = !message;
}

// Every failure ends here: a missing or refused key asks for one, anything else is said plainly.
function fail(error) {
  if (error && error.name === "AbortError") return;
  if (error instanceof ApiError && error.status === 401) {
    askKey(key.get() ? "That key was not accepted. Check it and try again." : "This server needs an API key.");
    return;
  }
  banner(error instanceof ApiError ? error.message : `Something went wrong in the page: ${error}`);
  if (!(error instanceof ApiError)) console.warn(error);
}

function askKey(message) {
  const dialog = $("key-dialog");
  $("key-message").textContent = message;
  $("key-input").value = "";
  if (!dialog.open) dialog.showModal();
}

async function connect() {
  try {
    // Ask for a key before any call would be refused for want of one.
    if (!key.get() && (await call("GET", "/ok")).key_required) return askKey("This server needs an API key.");
    await call("GET", "/info");
    banner("");
    await loadThreads();
    $("input").disabled = false;
    $("send").disabled = false;
    const wanted = page.threadId || new URLSearchParams(location.hash.slice(1)).get("thread");
    if (wanted && page.threads.some((t) => t.thread_id === wanted)) await openThread(wanted);
    else newChat();
  } catch (error) {
    fail(error);
  }
}

// ---- the sidebar -------------------------------------------------------------------------------------------
const titleOf = (thread) => thread.metadata?.title || `Thread ${thread.thread_id.slice(0, 8)}`;

async function loadThreads() {
  page.threads = await call("POST", "/threads/search", { limit: 200, sort_by: "updated_at", sort_order: "desc" });
  drawThreads();
}

function drawThreads() {
  const wanted = $("search").value.trim().toLowerCase();
  const list = $("threads");
  list.replaceChildren();
  const shown = page.threads.filter((t) => !wanted || titleOf(t).toLowerCase().includes(wanted));
  for (const thread of shown) {
    const open = el("button", { class: "open", type: "button", text: titleOf(thread), title: titleOf(thread),
      onclick: () => openThread(thread.thread_id).catch(fail) });
    const rename = el("button", { class: "icon", type: "button", title: "Rename thread", "aria-label": "Rename thread", text: "✎",
      onclick: () => renameThread(item, thread) });
    const remove = el("button", { class: "icon", type: "button", title: "Delete thread", "aria-label": "Delete thread", text: "✕",
      onclick: () => confirmDelete(item, thread) });
    const item = el("li", { class: thread.thread_id === page.threadId ? "current" : "", "data-thread": thread.thread_id },
      open, rename, remove);
    list.append(item);
  }
  if (!shown.length) list.append(el("li", { class: "empty", text: wanted ? "No thread matches." : "No threads yet." }));
}

function renameThread(item, thread) {
  const input = el("input", { type: "text", class: "rename", value: titleOf(thread), "aria-label": "New name" });
  let settled = false; // Enter, Escape and leaving the field each end the edit; only the first counts
  const save = async () => {
    if (settled) return;
    settled = true;
    const title = input.value.trim();
    const before = thread.metadata?.title;
    if (!title || title === titleOf(thread)) return drawThreads();
    // Shown at once, on the thread as the list holds it now (the list may have been reloaded meanwhile), and
    // put back if the server refuses.
    const retitle = (name) => {
      const listed = page.threads.find((t) => t.thread_id === thread.thread_id);
      if (listed) listed.metadata = { ...listed.metadata, title: name };
      if (listed && thread.thread_id === page.threadId) $("title").textContent = titleOf(listed);
      drawThreads();
    };
    retitle(title);
    try {
      await call("PATCH", `/threads/${thread.thread_id}`, { metadata: { title } });
    } catch (error) {
      retitle(before);
      fail(error);
    }
  };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); save(); }
    if (event.key === "Escape") { settled = true; drawThreads(); }
  });
  input.addEventListener("blur", save, { once: true });
  item.replaceChildren(input);
  input.select();
}

function confirmDelete(item, thread) {
  item.replaceChildren(el("span", { class: "confirm", text: `Delete “${titleOf(thread)}”?` }),
    el("button", { type: "button", class: "danger", text: "Delete", onclick: async () => {
      try {
        await call("DELETE", `/threads/${thread.thread_id}`);
        page.threads = page.threads.filter((t) => t.thread_id !== thread.thread_id);
        if (thread.thread_id === page.threadId) newChat();
      } catch (error) {
        fail(error);
      }
      drawThreads();
    } }),
    el("button", { type: "button", text: "Keep", onclick: drawThreads }));
}

function newChat() {
  page.threadId = null;
  page.pending = null;
  document.body.classList.remove("sidebar-open");
  $("conversation").replaceChildren(el("p", { class: "hint", text: "Ask for a sales brief, a competitor comparison, a market's size, or a design deployed and tested." }));
  $("title").textContent = "New chat";
  history.replaceState(null, "", location.pathname);
  drawThreads();
  $("input").focus();
}

// ---- a thread's conversation --------------------------------------------------------------------------------
const textOf = (message) => typeof message.content === "string" ? message.content
  : (message.content || []).map((part) => part.text || "").join("");

function userTurn(text) {
  return el("div", { class: "turn user" }, el("div", { class: "bubble", text }));
}

function answerTurn(message, values) {
  const meta = message.response_metadata?.orchestra || {};
  const scope = `ev-${message.id || Math.random().toString(36).slice(2)}`;
  const visuals = meta.visuals || {};
  return el("div", { class: "turn assistant", "data-testid": "answer" },
    triageLine(meta.triage),
    meta.evidence?.length ? ToolList.of(meta.evidence, values.evidence).node : null,
    markdown(textOf(message), scope),
    marketChart(visuals.market),
    deployment(page.threadId, visuals.deployment),
    evidenceList(meta.evidence, values.evidence, scope),
    answerFooter(meta, (runId, thumbs) => call("POST", `/threads/${page.threadId}/runs/${runId}/feedback`, { thumbs })));
}

async function openThread(threadId) {
  page.threadId = threadId;
  history.replaceState(null, "", `#thread=${threadId}`);
  document.body.classList.remove("sidebar-open");
  drawThreads();
  await drawThread();
  const thread = await call("GET", `/threads/${threadId}`);
  if (thread.status === "busy" && !page.run) {
    const runs = await call("GET", `/threads/${threadId}/runs?limit=10`);
    const active = runs.find((run) => run.status === "running" || run.status === "pending");
    if (active) await follow(threadId, null, active.run_id);
  }
}

// The whole thread from its state: each question and answer, and a paused or unanswered last turn.
async function drawThread() {
  const threadId = page.threadId;
  const [state, runs] = await Promise.all([
    call("GET", `/threads/${threadId}/state`),
    call("GET", `/threads/${threadId}/runs?limit=1`),
  ]);
  if (threadId !== page.threadId) return;
  const known = page.threads.find((t) => t.thread_id === threadId);
  $("title").textContent = known ? titleOf(known) : "Chat";
  const values = state.values || {};
  const turns = [];
  let answered = true;
  for (const message of values.messages || []) {
    if (message.type === "human") {
      turns.push(userTurn(textOf(message)));
      answered = false;
    } else if (message.type === "ai" && textOf(message) && !(message.tool_calls || []).length) {
      turns.push(answerTurn(message, values));
      answered = true;
    }
  }
  page.pending = answered ? null : pendingTurn(values, state.interrupts || [], runs[0]);
  if (page.pending) turns.push(page.pending);
  $("conversation").replaceChildren(...turns);
  scrollDown();
}

// A turn with no answer yet: paused for the user, still running, stopped, or failed.
function pendingTurn(values, interrupts, run) {
  const turn = el("div", { class: "turn assistant pending" }, triageLine(values.triage),
    ToolList.of((values.evidence || []).slice(values.turn_started || 0), values.evidence).node);
  if (interrupts.length) {
    turn.append(interruptCard(interrupts[0].value, (resume) => resumeRun(resume).catch(fail)));
  } else if (run && (run.status === "interrupted" || run.status === "error" || run.status === "timeout")) {
    const why = { interrupted: "Stopped before it answered.", error: "The run failed before it answered.", timeout: "The run took too long and was stopped." };
    turn.append(el("p", { class: run.status === "interrupted" ? "note" : "error", "data-testid": "run-ended", text: why[run.status] }));
  }
  return turn;
}

function scrollDown() {
  const conversation = $("conversation");
  conversation.scrollTop = conversation.scrollHeight;
}

// ---- runs -------------------------------------------------------------------------------------------------
async function send(text) {
  if (!text.trim() || page.run) return;
  banner("");
  if (!page.threadId) {
    const thread = await call("POST", "/threads", { metadata: { title: text.trim().slice(0, 80), graph_id: GRAPH } });
    page.threads.unshift(thread);
    page.threadId = thread.thread_id;
    history.replaceState(null, "", `#thread=${thread.thread_id}`);
    $("title").textContent = titleOf(thread);
    $("conversation").replaceChildren();
    drawThreads();
  }
  const known = page.threads.find((t) => t.thread_id === page.threadId);
  if (known && !known.metadata?.title) { // a thread made elsewhere (the API) gets its title from its first message
    Object.assign(known, await call("PATCH", `/threads/${known.thread_id}`, { metadata: { title: text.trim().slice(0, 80) } }));
    $("title").textContent = titleOf(known);
    drawThreads();
  }
  $("conversation").append(userTurn(text));
  $("input").value = "";
  await follow(page.threadId, { input: { messages: [{ role: "user", content: text }] } });
}

async function resumeRun(resume) {
  if (page.run) return;
  page.pending?.querySelector(":scope > .approval")?.remove();
  await follow(page.threadId, { command: { resume } });
}

// Stream one run into a live turn, then re-draw the thread from its state.
async function follow(threadId, body, runId = null) {
  const live = el("div", { class: "turn assistant live", "data-testid": "live" });
  const tools = new ToolList();
  const status = el("p", { class: "working", "data-testid": "working", text: "Working…" });
  if (page.pending?.isConnected) {
    // a paused turn goes on: the calls it made before it paused stay in view
    const earlier = page.pending.querySelector(":scope > .tools");
    if (earlier) for (const row of earlier.children) tools.node.append(row.cloneNode(true));
    page.pending.replaceWith(live);
  } else {
    $("conversation").append(live);
  }
  page.pending = null;
  live.append(tools.node, status);
  page.run = { runId, controller: new AbortController(), stopped: false };
  busy(true);
  let failed = null;
  try {
    const request = body && { assistant_id: GRAPH, stream_mode: MODES, on_disconnect: "continue", multitask_strategy: "reject", ...body };
    const events = runEvents(threadId, request, {
      runId, signal: page.run.controller.signal,
      onReconnect: () => { status.textContent = "Connection lost; rejoining the run…"; },
    });
    for await (const { event, data } of events) {
      if (event === "metadata") page.run.runId = data.run_id;
      else if (event === "error") failed = data?.message || data?.error || "the run failed";
      else if (event === "custom" && data) show(live, tools, status, data);
      if (event !== "metadata") status.textContent = page.run.stopped ? "Stopping…" : "Working…";
    }
  } catch (error) {
    if (error instanceof ApiError && error.status === 409 && body?.input) {
      busy(false);
      page.run = null;
      live.remove();
      $("conversation").lastElementChild?.remove(); // this message was not taken: it goes back to the box
      if (!$("input").value) $("input").value = body.input.messages[0].content;
      banner("This thread is busy with another run (another tab?); here it is. Send again when it has ended.");
      return openThread(threadId);
    }
    if (threadId === page.threadId) fail(error);
  } finally {
    page.run = null;
    busy(false);
  }
  if (threadId !== page.threadId) return;
  try {
    await drawThread();
    page.threads = page.threads.map((t) => (t.thread_id === threadId ? { ...t, updated_at: new Date().toISOString() } : t));
  } catch (error) {
    status.textContent = "The connection closed before the run ended. Reload to see where it is.";
    fail(error);
  }
  if (failed) {
    const turn = page.pending || $("conversation").lastElementChild;
    turn?.append(el("p", { class: "error", role: "alert", "data-testid": "run-error", text: `The run failed: ${failed}` }));
  }
}

function show(live, tools, status, data) {
  if (data.event === "triage") live.prepend(triageLine(data));
  else if (data.event === "turn" && data.resolved) live.prepend(el("p", { class: "note", text: `Read as: ${data.task} (${data.resolved})` }));
  else if (data.event === "tool" && data.phase === "start") tools.start(data);
  else if (data.event === "tool" && data.phase === "end") tools.end(data);
  else if (data.event === "approval" && data.phase === "asked") status.textContent = "Waiting for your approval…";
  else if (data.event === "cross_check") live.append(el("p", { class: "note", text: `Cross-check: ${data.flags?.length ? `${data.flags.length} claim(s) flagged` : "every figure is backed by a tool result"}` }));
  scrollDown();
}

async function stop() {
  const run = page.run;
  if (!run || !run.runId) return;
  run.stopped = true;
  try {
    await call("POST", `/threads/${page.threadId}/runs/${run.runId}/cancel?action=interrupt`);
  } catch (error) {
    fail(error);
  }
}

function busy(on) {
  $("send").disabled = on;
  $("stop").hidden = !on;
  document.body.classList.toggle("running", on);
}

// ---- wiring -------------------------------------------------------------------------------------------------
function wire() {
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    send($("input").value).catch(fail);
  });
  $("input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("stop").addEventListener("click", stop);
  $("new-chat").addEventListener("click", newChat);
  $("search").addEventListener("input", drawThreads);
  $("menu").addEventListener("click", (event) => {
    event.stopPropagation();
    document.body.classList.toggle("sidebar-open");
  });
  document.querySelector("main").addEventListener("click", () => document.body.classList.remove("sidebar-open"));
  // Escape would leave a page that can do nothing without a key: the dialog stays until one is accepted.
  $("key-dialog").addEventListener("cancel", (event) => event.preventDefault());
  $("conversation").addEventListener("click", followCitation);
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("key-input").value.trim();
    if (!value) return;
    key.set(value);
    $("key-dialog").close();
    connect();
  });
}

wire();
ui.boot.remove();
connect();
