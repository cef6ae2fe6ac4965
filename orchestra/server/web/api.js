// The server's LangGraph API as the chat page uses it: every call carries the tab's key, every failure becomes an
// ApiError whose message a person can act on, and a run's event stream survives a dropped connection.

const KEY = "orchestra.key";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status; // 0: the server could not be reached
  }
}

export const key = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
};

function headers(extra = {}) {
  const sent = { "Content-Type": "application/json", ...extra };
  const value = key.get();
  if (value) sent["X-Api-Key"] = value;
  return sent;
}

async function failure(response) {
  let detail = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && body.detail) detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
  } catch {
    // not JSON: the status line says enough
  }
  if (response.status === 401) return new ApiError(401, "The server needs an API key, and this tab has none it accepts.");
  return new ApiError(response.status, detail);
}

async function send(method, path, body, extra = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: headers(extra.headers),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: extra.signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "Cannot reach the Orchestra server. Is `orchestra serve` still running?");
  }
  if (!response.ok) throw await failure(response);
  return response;
}

export async function call(method, path, body) {
  const response = await send(method, path, body);
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

export async function image(path) {
  const response = await send("GET", path);
  return URL.createObjectURL(await response.blob());
}

// One SSE frame: `id:`, `event:`, `data:` lines (data joined by newlines), ended by a blank line.
function parseFrame(frame) {
  const event = { id: null, event: "message", data: "" };
  const data = [];
  for (const line of frame.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "id") event.id = value;
    else if (field === "event") event.event = value;
    else if (field === "data") data.push(value);
  }
  event.data = data.join("\n");
  return event;
}

async function* frames(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (frame.trim()) yield parseFrame(frame);
    }
  }
}

// A run's events, from `POST .../runs/stream` (or joining a run already going), to its end. When the connection
// drops, it rejoins `GET .../runs/{run}/stream` with `Last-Event-ID`: nothing is lost, nothing comes twice.
export async function* runEvents(threadId, body, { runId = null, signal, onReconnect } = {}) {
  let last = runId ? "-1" : null;
  let attempt = 0;
  while (true) {
    let response;
    try {
      response = runId
        ? await send("GET", `/threads/${threadId}/runs/${runId}/stream`, undefined, {
            signal,
            headers: { "Last-Event-ID": last ?? "-1", Accept: "text/event-stream" },
          })
        : await send("POST", `/threads/${threadId}/runs/stream`, body, { signal });
    } catch (error) {
      if (!runId || error.status !== 0 || attempt >= 20) throw error;
      attempt += 1;
      await pause(Math.min(500 * attempt, 3000), signal);
      continue;
    }
    try {
      for await (const event of frames(response)) {
        attempt = 0;
        if (event.id !== null) {
          if (last !== null && last !== "-1" && Number(event.id) <= Number(last)) continue;
          last = event.id;
        }
        const data = event.data ? JSON.parse(event.data) : null;
        if (event.event === "metadata" && data && data.run_id) runId = data.run_id;
        yield { id: event.id, event: event.event, data };
      }
      return; // the server closes the stream when the run ends
    } catch (error) {
      if (signal && signal.aborted) throw error;
      if (!runId || attempt >= 20) throw new ApiError(0, "The connection to the run was lost.");
      attempt += 1;
      if (onReconnect) onReconnect(attempt);
      await pause(Math.min(500 * attempt, 3000), signal);
    }
  }
}

function pause(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    if (signal) signal.addEventListener("abort", () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
  });
}
