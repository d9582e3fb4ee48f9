// Live updates: GET /v1/events (server-sent events) read with fetch, else polling every 2 s.
//
// EventSource cannot send an Authorization header, so the stream is read with fetch() and a
// stream reader, and the SSE lines are parsed here. After a dropped stream it reconnects with
// Last-Event-ID and polls meanwhile; a 404 (no events endpoint) means polling for good.
import { ApiError, authHeaders, query } from "./api.js";

export const POLL_MS = 2000;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 15000;
let eventsMissing = false; // the API has no /v1/events: do not ask again on every page

// what the page is doing right now, for people (the status line) and for tests
export const liveState = { mode: "idle", events: 0 };
window.mediaqLive = liveState;

function showMode(mode) {
  liveState.mode = mode;
  const label = {
    live: "Live",
    polling: "Updating every 2 s",
    reconnecting: "Reconnecting… (updating every 2 s)",
    idle: "",
  }[mode];
  const status = document.getElementById("live-status");
  if (status) status.textContent = label;
}

/**
 * Follow the events that match `filter` ({batch_id} or {job_id} or {}).
 * onEvent({type, id, data}) runs per event; refresh() re-reads the page's data: once when the
 * stream (re)connects, and every 2 s while there is no stream.
 * Returns a function that stops everything.
 */
export function follow(filter, { onEvent, refresh }) {
  const controller = new AbortController();
  let pollTimer = null;
  let lastEventId = null;
  let stopped = false;

  function startPolling(mode) {
    showMode(mode);
    if (pollTimer === null) pollTimer = setInterval(refresh, POLL_MS);
  }

  function stopPolling() {
    if (pollTimer !== null) clearInterval(pollTimer);
    pollTimer = null;
  }

  async function run() {
    let delay = RETRY_MIN_MS;
    while (!stopped && !eventsMissing) {
      try {
        await readStream(`/v1/events${query(filter)}`, {
          lastEventId,
          signal: controller.signal,
          onOpen() {
            stopPolling();
            showMode("live");
            delay = RETRY_MIN_MS;
            refresh(); // catch up on whatever happened before the stream opened
          },
          onEvent(event) {
            if (event.id !== null) lastEventId = event.id;
            liveState.events += 1;
            onEvent(event);
          },
          onRetry(ms) {
            delay = ms;
          },
        });
      } catch (error) {
        if (stopped) return;
        if (error instanceof ApiError && error.status === 404) {
          eventsMissing = true;
          break;
        }
        if (error instanceof ApiError && error.status === 401) {
          window.dispatchEvent(new CustomEvent("mediaq:unauthorized"));
          return;
        }
      }
      if (stopped) return;
      startPolling("reconnecting");
      await sleep(delay, controller.signal);
      delay = Math.min(delay * 2, RETRY_MAX_MS);
    }
    if (!stopped) startPolling("polling");
  }

  if (eventsMissing) startPolling("polling");
  else run();
  return function stop() {
    stopped = true;
    controller.abort();
    stopPolling();
    showMode("idle");
  };
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function readStream(url, { lastEventId, signal, onOpen, onEvent, onRetry }) {
  const headers = { Accept: "text/event-stream", ...authHeaders() };
  if (lastEventId !== null) headers["Last-Event-ID"] = lastEventId;
  const response = await fetch(url, { headers, signal, cache: "no-store" });
  const type = response.headers.get("content-type") || "";
  if (!response.ok || !type.startsWith("text/event-stream")) {
    // an API without the route answers 404; a proxy's HTML page is no stream either
    throw new ApiError(response.ok ? 404 : response.status, null);
  }
  onOpen();
  const parser = new SseParser(onEvent, onRetry);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return; // the server closed it: reconnect
    parser.push(value);
  }
}

// The text/event-stream format (WHATWG HTML, "Server-sent events"), enough of it for the API.
export class SseParser {
  constructor(onEvent, onRetry = () => {}) {
    this.onEvent = onEvent;
    this.onRetry = onRetry;
    this.buffer = "";
    this.reset();
  }

  reset() {
    this.type = "";
    this.data = [];
    this.id = null;
  }

  push(text) {
    this.buffer += text;
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) return;
      // a lone \r at the end may be the first half of \r\n: wait for the next chunk
      if (match[0] === "\r" && match.index === this.buffer.length - 1) return;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      this.line(line);
    }
  }

  line(line) {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return; // a comment: the server's keep-alive
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.type = value;
    else if (field === "id" && !value.includes("\0")) this.id = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.onRetry(Number(value));
  }

  dispatch() {
    if (this.data.length === 0) return this.reset();
    let data = this.data.join("\n");
    try {
      data = JSON.parse(data);
    } catch {
      // not JSON: hand it over as text
    }
    this.onEvent({ type: this.type || "message", id: this.id, data });
    this.reset();
  }
}
