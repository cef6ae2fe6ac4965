#!/usr/bin/env node
// Renders a compiled page in headless Chromium and reports what the browser made of it, for
// tests/test_design_compiler.py:
//
//   node tests/render_page.mjs --page PATH.html --screenshot OUT.png [--width 1440] [--height 1000]
//
// Prints one JSON object: the box and colours of every element carrying data-node (keyed by design node id),
// the form controls with their accessible labels, the document size, and any network request the page made.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

import { chromium } from "playwright-core";

const { values } = parseArgs({
  options: {
    page: { type: "string" },
    screenshot: { type: "string" },
    width: { type: "string", default: "1440" },
    height: { type: "string", default: "1000" },
  },
});
if (!values.page || !values.screenshot) {
  console.error("usage: render_page.mjs --page PATH.html --screenshot OUT.png [--width W] [--height H]");
  process.exit(2);
}

const profile = mkdtempSync(path.join(tmpdir(), "render-page-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/lib/chromium/chromium",
  headless: true,
  viewport: { width: Number(values.width), height: Number(values.height) },
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
  ],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  const requests = [];
  page.on("request", (request) => {
    if (!request.url().startsWith("file:") && !request.url().startsWith("data:")) requests.push(request.url());
  });
  await page.goto(pathToFileURL(path.resolve(values.page)).href, { waitUntil: "load" });
  const report = await page.evaluate(() => {
    const nodes = {};
    for (const element of document.querySelectorAll("[data-node]")) {
      const rect = element.getBoundingClientRect();
      const style = getComputedStyle(element);
      nodes[element.dataset.node] = {
        tag: element.tagName.toLowerCase(),
        x: rect.x + window.scrollX,
        y: rect.y + window.scrollY,
        width: rect.width,
        height: rect.height,
        backgroundColor: style.backgroundColor,
        color: style.color,
        text: element.innerText ?? "",
      };
    }
    const controls = [...document.querySelectorAll("input, select, textarea, button")].map((control) => ({
      tag: control.tagName.toLowerCase(),
      type: control.type ?? "",
      role: control.getAttribute("role"),
      value: control.value ?? "",
      checked: control.checked ?? null,
      labels: control.labels ? [...control.labels].map((label) => label.innerText) : [],
      ariaLabel: control.getAttribute("aria-label"),
      text: control.tagName === "BUTTON" ? control.innerText : null,
    }));
    return {
      nodes,
      controls,
      scrollWidth: document.documentElement.scrollWidth,
      scrollHeight: document.documentElement.scrollHeight,
      bodyText: document.body.innerText,
    };
  });
  await page.screenshot({ path: values.screenshot, fullPage: true });
  console.log(JSON.stringify({ ...report, requests }));
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
