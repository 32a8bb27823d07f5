import { describe, expect, it } from "vitest";
import { openStream, SseParser, type SseMessage, type StreamState } from "./sse";

describe("SseParser", () => {
  it("parses events split across chunks, CRLF and comments included", () => {
    const p = new SseParser();
    const out: SseMessage[] = [];
    for (const chunk of ["retry: 2000\n: connected\n\n", "id: 5.1\nevent: sla.bre", "ached\ndata: {\"a\":", "1}\r", "\n\r\n",
      "id: 5.2\nevent: sla.warning\ndata: line1\ndata: line2\n\n"]) out.push(...p.feed(chunk));
    expect(out).toEqual([
      { id: "5.1", event: "sla.breached", data: "{\"a\":1}" },
      { id: "5.2", event: "sla.warning", data: "line1\nline2" },
    ]);
    expect(p.retry).toBe(2000);
    expect(p.lastEventId).toBe("5.2");
  });

  it("ignores a message without data and keeps the last id", () => {
    const p = new SseParser();
    expect(p.feed("id: 7.7\n\n: keep-alive\n\n")).toEqual([]);
    expect(p.lastEventId).toBe("7.7");
    expect(p.feed("data: x\n\n")).toEqual([{ id: "7.7", event: "message", data: "x" }]);
  });
});

function streamOf(text: string, fail = false): Response {
  let sent = false;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (!sent) {
        sent = true;
        c.enqueue(new TextEncoder().encode(text));
      } else if (fail) c.error(new TypeError("network error"));
      else c.close();
    },
  });
  return new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } });
}

describe("openStream", () => {
  it("reconnects with Last-Event-ID after a drop, reporting 'reconnecting', and loses nothing", async () => {
    const seen: string[] = [];
    const states: StreamState["kind"][] = [];
    const requests: Record<string, string>[] = [];
    const delays: number[] = [];
    const responses = [
      () => streamOf("retry: 1500\nid: 10.1\nevent: sla.breached\ndata: {\"n\":1}\n\nid: 10.2\nevent: sla.breached\ndata: {\"n\":2}\n\n", true),
      () => Promise.reject(new TypeError("connection refused")),
      () => streamOf("id: 11.1\nevent: sla.escalated\ndata: {\"n\":3}\n\n"),
    ];
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const handle = openStream({
      url: "http://t/sla/api/v1/stream",
      headers: () => ({ Authorization: "Bearer x" }),
      fetchImpl: (async (_url: string, init: RequestInit) => {
        requests.push({ ...(init.headers as Record<string, string>) });
        const next = responses.shift();
        if (!next) {
          done();
          return new Promise<Response>(() => undefined);
        }
        return next();
      }) as typeof fetch,
      onMessage: (m) => seen.push(`${m.id}:${m.data}`),
      onState: (s) => states.push(s.kind),
      sleep: async (ms) => {
        delays.push(ms);
      },
    });
    await finished;
    handle.close();
    expect(seen).toEqual(["10.1:{\"n\":1}", "10.2:{\"n\":2}", "11.1:{\"n\":3}"]);
    expect(requests[0]?.["Last-Event-ID"]).toBeUndefined();
    expect(requests[0]?.Authorization).toBe("Bearer x");
    expect(requests[1]?.["Last-Event-ID"]).toBe("10.2");
    expect(requests[2]?.["Last-Event-ID"]).toBe("10.2");
    expect(requests[3]?.["Last-Event-ID"]).toBe("11.1");
    expect(states.slice(0, 4)).toEqual(["connecting", "open", "reconnecting", "reconnecting"]);
    expect(delays[0]).toBe(1500); // the server's retry: field
    expect(delays[1]).toBeGreaterThan(1500); // then backoff
    expect(handle.lastEventId()).toBe("11.1");
  });

  it("resumes from a given id and stops on 401/403 without retrying", async () => {
    const states: StreamState[] = [];
    let calls = 0;
    let first: Record<string, string> = {};
    await new Promise<void>((resolve) => {
      openStream({
        url: "u", lastEventId: "3.4",
        fetchImpl: (async (_u: string, init: RequestInit) => {
          calls += 1;
          first = init.headers as Record<string, string>;
          return new Response("", { status: 403 });
        }) as typeof fetch,
        onMessage: () => undefined,
        onState: (s) => {
          states.push(s);
          if (s.kind === "denied") resolve();
        },
      });
    });
    expect(first["Last-Event-ID"]).toBe("3.4");
    expect(calls).toBe(1);
    expect(states.at(-1)).toEqual({ kind: "denied", status: 403 });
  });
});
