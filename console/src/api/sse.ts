// Server-Sent Events over fetch (EventSource cannot send a bearer token), with Last-Event-ID resume.
// The SLA stream's ids are commit-order cursors: reconnecting with the last id seen loses nothing
// and repeats nothing. A dropped connection is reported as "reconnecting" and retried with backoff.

export interface SseMessage {
  id: string | null;
  event: string;
  data: string;
}

/** Incremental parser of the text/event-stream format (WHATWG HTML §9.2). */
export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private event = "";
  private id: string | null = null;
  /** the last `id:` field seen (kept across messages, as the spec's last event ID buffer) */
  lastEventId: string | null = null;
  /** the last `retry:` field, ms */
  retry: number | null = null;

  feed(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const out: SseMessage[] = [];
    let nl: number;
    while ((nl = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, nl);
      const len = this.buffer.startsWith("\r\n", nl) ? 2 : 1;
      if (this.buffer[nl] === "\r" && nl + 1 === this.buffer.length) break; // a lone CR may be half a CRLF
      this.buffer = this.buffer.slice(nl + len);
      const msg = this.line(line);
      if (msg) out.push(msg);
    }
    return out;
  }

  private line(line: string): SseMessage | null {
    if (line === "") {
      const msg = this.data.length
        ? { id: this.id ?? this.lastEventId, event: this.event || "message", data: this.data.join("\n") }
        : null;
      this.data = [];
      this.event = "";
      this.id = null;
      return msg;
    }
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) {
      this.id = value;
      this.lastEventId = value;
    } else if (field === "retry" && /^\d+$/.test(value)) this.retry = Number(value);
    return null;
  }
}

export type StreamState =
  | { kind: "connecting" }
  | { kind: "open" }
  | { kind: "reconnecting"; attempt: number; inMs: number; reason: string }
  | { kind: "denied"; status: number }
  | { kind: "closed" };

export interface StreamOptions {
  url: string;
  /** headers for every (re)connection, e.g. the bearer token: a function, so a renewed token is used */
  headers?: () => Record<string, string>;
  lastEventId?: string | null;
  onMessage: (msg: SseMessage) => void;
  onState?: (s: StreamState) => void;
  /** called with each id as it is seen, e.g. to persist it */
  onCursor?: (id: string) => void;
  fetchImpl?: typeof fetch;
  /** first retry delay when the server gave none (ms) */
  initialRetryMs?: number;
  maxRetryMs?: number;
  /** injectable for tests */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}

export interface StreamHandle {
  close(): void;
  /** the id a reconnection would resume after */
  lastEventId(): string | null;
}

/** Open a stream that keeps itself connected until close(). 401/403 stop it (state "denied"). */
export function openStream(opts: StreamOptions): StreamHandle {
  const controller = new AbortController();
  const fetchImpl = opts.fetchImpl ?? fetch;
  const sleep = opts.sleep ?? defaultSleep;
  const initial = opts.initialRetryMs ?? 1000;
  const max = opts.maxRetryMs ?? 30000;
  let lastId = opts.lastEventId ?? null;
  let serverRetry: number | null = null;
  const state = (s: StreamState) => opts.onState?.(s);

  const run = async () => {
    let attempt = 0;
    state({ kind: "connecting" });
    while (!controller.signal.aborted) {
      let reason = "closed";
      try {
        const headers: Record<string, string> = { Accept: "text/event-stream", ...opts.headers?.() };
        if (lastId) headers["Last-Event-ID"] = lastId;
        const res = await fetchImpl(opts.url, { headers, signal: controller.signal, cache: "no-store" });
        if (res.status === 401 || res.status === 403) {
          state({ kind: "denied", status: res.status });
          return;
        }
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        state({ kind: "open" });
        attempt = 0;
        const parser = new SseParser();
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const msg of parser.feed(value)) {
            if (msg.id) {
              lastId = msg.id;
              opts.onCursor?.(msg.id);
            }
            opts.onMessage(msg);
          }
          if (parser.retry !== null) serverRetry = parser.retry;
        }
        if (parser.lastEventId && parser.lastEventId !== lastId) lastId = parser.lastEventId;
      } catch (e) {
        if (controller.signal.aborted) break;
        reason = e instanceof Error ? e.message : String(e);
      }
      if (controller.signal.aborted) break;
      attempt += 1;
      const base = attempt === 1 ? (serverRetry ?? initial) : Math.min(max, (serverRetry ?? initial) * 2 ** (attempt - 1));
      const inMs = Math.round(base * (attempt === 1 ? 1 : 0.75 + Math.random() * 0.5));
      state({ kind: "reconnecting", attempt, inMs, reason });
      await sleep(inMs, controller.signal);
    }
    state({ kind: "closed" });
  };
  void run();
  return {
    close: () => controller.abort(),
    lastEventId: () => lastId,
  };
}
