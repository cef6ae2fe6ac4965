// How a turn looks: the triage decision, the tool calls, the answer as Markdown with its citations linked to the
// evidence, the pictures that help (a market chart, a deployed page's screenshot), and an approval to answer.
import { Marked } from "./vendor/marked.esm.js";
import DOMPurify from "./vendor/purify.es.mjs";
import { image } from "./api.js";

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child);
  return node;
}

export function triageLine(triage) {
  if (!triage || !triage.domain) return null;
  const parts = [triage.domain, triage.complexity, triage.workflow || "specialist"];
  const confidence = typeof triage.confidence === "number" ? ` · ${Math.round(triage.confidence * 100)}% sure` : "";
  return el("div", { class: "triage", "data-testid": "triage" }, el("span", { class: "label", text: "Triage" }),
    ` ${parts.join(" · ")}${confidence}`);
}

// The answer's footer: what its models cost and what routing saved, and thumbs up or down on it (the server keeps
// them for `orchestra models calibrate`).
export function answerFooter(meta, onThumbs) {
  if (!meta.usage_line && !meta.run_id) return null;
  const footer = el("div", { class: "answer-footer", "data-testid": "answer-footer" }, el("span", { class: "usage", text: meta.usage_line || "" }));
  if (meta.run_id) {
    const said = el("span", { class: "note", role: "status" });
    const thumb = (thumbs, label) => el("button", {
      type: "button", class: "thumb", title: label, "aria-label": label, "data-testid": `thumbs-${thumbs}`,
      text: thumbs === "up" ? "👍" : "👎",
      onclick: async () => {
        for (const button of footer.querySelectorAll("button")) button.disabled = true;
        try {
          await onThumbs(meta.run_id, thumbs);
          said.textContent = "Thanks, noted.";
        } catch (error) {
          if (error.status === 409) { // given before (another tab, or before a reload): it stands
            said.textContent = error.message;
            return;
          }
          for (const button of footer.querySelectorAll("button")) button.disabled = false;
          said.textContent = `Not recorded: ${error.message}`;
        }
      },
    });
    footer.append(thumb("up", "A good answer"), thumb("down", "Not a good answer"), said);
  }
  return footer;
}

// The live list of tool calls: a row per call, running until its end arrives.
export class ToolList {
  constructor() {
    this.node = el("ol", { class: "tools", "data-testid": "tools" });
    this.rows = new Map();
  }
  start(call) {
    const status = el("span", { class: "status running", text: "running" });
    const row = el("li", { class: "tool" }, el("span", { class: "id", text: call.id || "" }),
      el("span", { class: "name", text: `${call.pool} · ${call.tool}` }), status, el("span", { class: "ms" }));
    this.rows.set(call.id, row);
    this.node.append(row);
  }
  end(call) {
    if (!this.rows.has(call.id)) this.start(call);
    const row = this.rows.get(call.id);
    const status = row.querySelector(".status");
    status.className = `status ${call.ok ? "ok" : "failed"}`;
    status.textContent = call.reused ? `reused ${call.reused}` : call.ok ? "ok" : "failed";
    row.querySelector(".ms").textContent = call.reused ? "" : `${Math.round(call.duration_ms || 0)} ms`;
    if (!call.ok && call.error && !row.querySelector(".why")) row.append(el("div", { class: "why", text: call.error }));
  }
  // The calls of a finished turn, from its evidence (and, for a failed call, its error from the thread's ledger).
  static of(evidence, ledger) {
    const list = new ToolList();
    const results = new Map((ledger || []).map((item) => [item.id, item.result]));
    for (const item of evidence || []) {
      const [pool, ...tool] = String(item.tool).split(".");
      const error = item.ok ? null : String(results.get(item.id) ?? "the call failed").slice(0, 500);
      list.end({ id: item.id, pool, tool: tool.join("."), ok: item.ok, duration_ms: item.duration_ms, reused: item.reused, error });
    }
    return list;
  }
}

const CITATION = /\[(E\d+(?:,\s*E\d+)*)\]/g;
// An answer may quote a web page word for word: HTML in it is shown as text, never parsed, and what Markdown
// itself makes is sanitized again, without anything that could act as a control of this page or load from
// elsewhere (forms, fields, buttons, images; ids, names, classes, styles).
const escapeHtml = (text) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const md = new Marked({ gfm: true, breaks: false, renderer: { html: ({ text }) => escapeHtml(text) } });
const PURIFY = {
  FORBID_TAGS: ["form", "input", "textarea", "button", "select", "option", "dialog", "style", "iframe", "object",
    "embed", "img", "svg", "math"],
  FORBID_ATTR: ["id", "name", "class", "style", "form", "formaction"],
};

// Citations become links to the evidence rows; done on text nodes, so nothing of the Markdown's HTML is re-parsed.
function linkCitations(root, scope) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const found = [];
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.parentElement.closest("code, pre, a")) continue;
    if (node.nodeValue.search(CITATION) >= 0) found.push(node);
  }
  for (const node of found) {
    const pieces = [];
    let at = 0;
    for (const match of node.nodeValue.matchAll(new RegExp(CITATION))) { // a fresh one: matchAll starts at lastIndex
      pieces.push(node.nodeValue.slice(at, match.index), "[");
      match[1].split(/,\s*/).forEach((id, i) => {
        if (i) pieces.push(", ");
        pieces.push(el("a", { href: `#${scope}-${id}`, class: "cite", "data-evidence": id, text: id }));
      });
      pieces.push("]");
      at = match.index + match[0].length;
    }
    pieces.push(node.nodeValue.slice(at));
    node.replaceWith(...pieces);
  }
}

export function markdown(text, scope) {
  // The report's own evidence table is shown richer below the answer (arguments and results), so it goes here.
  const body = text.replace(/\n## Evidence\n[\s\S]*?(?=\n> \*\*Cross-check|\n#{1,2} (?!Evidence)|$)/, "\n");
  const node = el("div", { class: "markdown" });
  node.innerHTML = DOMPurify.sanitize(md.parse(body), PURIFY);
  for (const link of node.querySelectorAll("a[href]")) {
    if (/^https?:/i.test(link.getAttribute("href"))) {
      link.target = "_blank";
      link.rel = "noopener noreferrer";
    }
  }
  linkCitations(node, scope);
  return node;
}

function shortJson(value, limit = 4000) {
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  return text.length > limit ? `${text.slice(0, limit)}\n… (${text.length - limit} more characters)` : text;
}

// Each call the answer cites: its arguments and result, unfolded when a citation is followed.
export function evidenceList(evidence, ledger, scope) {
  if (!evidence || !evidence.length) return null;
  const results = new Map((ledger || []).map((item) => [item.id, item]));
  const rows = evidence.map((item) => {
    const full = results.get(item.id) || item;
    const took = item.reused ? `reused ${item.reused}` : `${Math.round(item.duration_ms || 0)} ms`;
    return el("details", { class: `evidence-row ${item.ok ? "" : "failed"}`, id: `${scope}-${item.id}` },
      el("summary", {}, el("b", { text: item.id }), ` ${item.tool} · ${item.ok ? "ok" : "failed"} · ${took}`),
      el("div", { class: "label", text: "Arguments" }), el("pre", { text: shortJson(item.arguments) }),
      el("div", { class: "label", text: "Result" }),
      el("pre", { text: "result" in full ? shortJson(full.result) : "(not kept)" }));
  });
  return el("details", { class: "evidence", "data-testid": "evidence" },
    el("summary", { text: `Evidence: ${evidence.length} tool call${evidence.length === 1 ? "" : "s"}` }), rows);
}

export function followCitation(event) {
  const link = event.target.closest("a.cite");
  if (!link) return;
  event.preventDefault();
  const row = document.getElementById(link.getAttribute("href").slice(1));
  if (!row) return;
  row.closest("details.evidence").open = true;
  row.open = true;
  row.classList.add("flash");
  setTimeout(() => row.classList.remove("flash"), 1500);
  row.scrollIntoView({ block: "center" });
}

const usd = (value) => `$${Number(value || 0).toLocaleString("en-US", { maximumFractionDigits: 0 })}`;

export function marketChart(market) {
  if (!market || !window.Chart) return null;
  const figure = el("figure", { class: "chart", "data-testid": "market-chart" });
  const segments = el("canvas", { role: "img", "aria-label": `Revenue by segment in ${market.name}` });
  const growth = el("canvas", { role: "img", "aria-label": `Market size and growth of ${market.name}` });
  figure.append(el("figcaption", { text: `${market.name}: segments by revenue, and market size and growth by year` }),
    el("div", { class: "charts" }, el("div", {}, segments), el("div", {}, growth)));
  const common = { animation: false, responsive: true, maintainAspectRatio: false };
  requestAnimationFrame(() => {
    new window.Chart(segments, {
      type: "bar",
      data: {
        labels: market.segments.map((s) => s.segment),
        datasets: [{ label: "Revenue (USD)", data: market.segments.map((s) => s.revenue_usd), backgroundColor: "#4f6bed" }],
      },
      options: { ...common, plugins: { tooltip: { callbacks: { label: (c) => usd(c.raw) } } },
        scales: { y: { ticks: { callback: (v) => usd(v) } } } },
    });
    new window.Chart(growth, {
      data: {
        labels: market.growth.map((g) => g.year),
        datasets: [
          { type: "bar", label: "Market size (USD)", data: market.growth.map((g) => g.market_size_usd), backgroundColor: "#9fb0f5", yAxisID: "size" },
          { type: "line", label: "Growth (%)", data: market.growth.map((g) => g.growth_pct), borderColor: "#e8743b", backgroundColor: "#e8743b", yAxisID: "growth" },
        ],
      },
      options: { ...common, scales: { size: { position: "left", ticks: { callback: (v) => usd(v) } },
        growth: { position: "right", grid: { drawOnChartArea: false }, ticks: { callback: (v) => `${v}%` } } } },
    });
  });
  return figure;
}

export function deployment(threadId, shown) {
  if (!shown || !/^https?:\/\//i.test(shown.url || "")) return null;
  const figure = el("figure", { class: "deployment", "data-testid": "deployment" },
    el("figcaption", {}, "Deployed: ", el("a", { href: shown.url, target: "_blank", rel: "noopener noreferrer", text: shown.url })));
  if (shown.screenshot) {
    const picture = el("img", { alt: `Screenshot of ${shown.url}`, "data-testid": "screenshot" });
    figure.append(picture);
    image(`/threads/${threadId}/screenshots/${encodeURIComponent(shown.screenshot)}`)
      .then((url) => { picture.src = url; })
      .catch((error) => picture.replaceWith(el("p", { class: "error", text: `Screenshot unavailable: ${error.message}` })));
  }
  return figure;
}

// A paused run's question, answered with LangGraph's `Command(resume=...)` through `answer(resume)`: Orchestra's
// approval of one exact call (approve, edit its arguments, reject with a reason), a choice between options, or a
// specialist agent's LangChain human-in-the-loop request (one decision per call it wants to make).
export function interruptCard(value, answer) {
  const card = el("div", { class: "approval", "data-testid": "approval" });
  if (value.kind === "approval") {
    card.append(callReview(value, value.reason, (decision) => answer(
      decision.type === "edit" ? { action: "edit", arguments: decision.args }
        : decision.type === "reject" ? (decision.reason ? { action: "reject", reason: decision.reason } : "reject")
          : "approve")));
  } else if (value.kind === "choice") {
    card.append(el("p", { class: "question", text: value.question }),
      el("div", { class: "actions" }, (value.options || []).map((option) =>
        el("button", { type: "button", onclick: () => answer(option), text: option }))));
  } else if (Array.isArray(value.action_requests)) {
    const decisions = new Array(value.action_requests.length);
    value.action_requests.forEach((request, index) => {
      const review = callReview({ pool: "agent", tool: request.name, arguments: request.args }, request.description,
        (decision) => {
          decisions[index] = decision.type === "edit" ? { type: "edit", edited_action: { name: request.name, args: decision.args } }
            : decision.type === "reject" ? { type: "reject", ...(decision.reason ? { message: decision.reason } : {}) }
              : { type: "approve" };
          review.replaceWith(el("p", { class: "note", text: `${request.name}: ${decisions[index].type}` }));
          if (decisions.every(Boolean)) answer({ decisions });
        });
      card.append(review);
    });
  } else {
    const reply = el("input", { type: "text", "aria-label": "Answer" });
    card.append(el("p", { class: "question", text: "The run is waiting for an answer:" }), el("pre", { text: shortJson(value) }),
      reply, el("button", { type: "button", onclick: () => answer(reply.value), text: "Send" }));
  }
  return card;
}

// One call to approve, edit or reject; `decide` gets {type: "approve"}, {type: "edit", args} or {type: "reject", reason}.
function callReview(call, reason, decide) {
  const review = el("div", { class: "review" });
  const editor = el("textarea", { class: "arguments", rows: 8, spellcheck: "false", "aria-label": "Arguments (JSON)", hidden: true });
  editor.value = JSON.stringify(call.arguments, null, 2);
  const why = el("input", { type: "text", class: "reason", placeholder: "Why not? (optional)", "aria-label": "Reason", hidden: true });
  const problem = el("p", { class: "error", role: "alert", hidden: true });
  const show = (message) => { problem.textContent = message; problem.hidden = !message; };
  const approve = el("button", { type: "button", class: "primary", text: "Approve", onclick: () => decide({ type: "approve" }) });
  const edit = el("button", { type: "button", text: "Edit", onclick: () => {
    if (editor.hidden) { editor.hidden = false; edit.textContent = "Send edited call"; editor.focus(); return; }
    let parsed;
    try { parsed = JSON.parse(editor.value); } catch (error) { show(`The arguments are not valid JSON: ${error.message}`); return; }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) { show("The arguments must be a JSON object."); return; }
    show("");
    decide({ type: "edit", args: parsed });
  } });
  const reject = el("button", { type: "button", class: "danger", text: "Reject", onclick: () => {
    if (why.hidden) { why.hidden = false; reject.textContent = "Confirm reject"; why.focus(); return; }
    decide({ type: "reject", reason: why.value.trim() });
  } });
  review.append(
    el("p", { class: "question" }, el("b", { text: "Approval needed: " }), reason || "this call changes something outside Orchestra."),
    el("div", { class: "call" }, el("code", { text: `${call.pool} · ${call.tool}` })),
    el("pre", { class: "arguments-shown", text: JSON.stringify(call.arguments, null, 2) }),
    editor, why, problem, ...(call.problem ? [el("p", { class: "error", text: call.problem })] : []),
    el("div", { class: "actions" }, approve, edit, reject));
  return review;
}
