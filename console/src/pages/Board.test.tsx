import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { json, mockFetch, renderApp, signIn, useTestConfig } from "../test/helpers";
import Board from "./Board";

const now = Date.now();
const iso = (ms: number) => new Date(ms).toISOString();

function sse(text: string, then: "error" | "hang"): Response {
  let sent = false;
  return new Response(new ReadableStream<Uint8Array>({
    pull(c) {
      if (!sent) {
        sent = true;
        c.enqueue(new TextEncoder().encode(text));
      } else if (then === "error") c.error(new TypeError("network error"));
      else return new Promise(() => undefined);
    },
  }), { headers: { "content-type": "text/event-stream" } });
}

const timerOf = (id: string, extra: Record<string, unknown>) => ({
  id, ticket_id: `tk_${id.slice(3)}`, node: "resource_check", state: "warned", open: true, role: "network_resource",
  assignee: "p-wanglei", ticket_kind: "resource_confirmation", business_type: "dedicated_line_data.opening",
  customer_id: "cus_tj_port", customer_name: "天津港集团有限公司", customer_tier: "B", customer_region: "天津-滨海新区",
  account_manager_id: "am_zhang", escalation_level: 0, policy_version: "demo-1", rule_id: "all", clock: "working",
  started_at: iso(now - 600_000), deadline: iso(now + 3600_000), seconds_to_deadline: 3600,
  business_seconds_used: 600, business_seconds_left: 3600, clock_running: true, clock_changes_at: null, as_of: iso(now),
  ...extra,
});
const breachedTimer = timerOf("tm_9", {
  node: "data_production", role: "data_production", state: "breached", assignee: null, ticket_kind: "service_opening",
  business_type: "vpmn.opening", customer_id: "cus_tj_bank", customer_name: "天津农商银行股份有限公司", customer_tier: "A",
  customer_region: "天津-河西区", clock: "calendar", deadline: iso(now - 5000), seconds_to_deadline: -5,
  business_seconds_left: -5,
});
const breach = {
  event_id: "e1", type: "sla.breached", timer_id: "tm_9", ticket_id: "tk_9", fired_at: iso(now),
  data: { timer_id: "tm_9", lateness_seconds: 5 }, timer: breachedTimer,
};
const started = {
  event_id: "e2", type: "sla.timer_started", timer_id: "tm_5", ticket_id: "tk_5", fired_at: iso(now),
  data: {}, timer: timerOf("tm_5", { state: "running", deadline: iso(now + 7200_000) }),
};
const met = { event_id: "e3", type: "sla.met", timer_id: "tm_5", ticket_id: "tk_5", fired_at: iso(now), data: {}, timer: null };

describe("SLA board", () => {
  beforeEach(() => {
    useTestConfig();
    signIn("p-liuyang", ["supervisor"]);
    // jsdom lays nothing out: give the list's scroll box a size so the virtualizer renders rows
    vi.spyOn(HTMLElement.prototype, "clientHeight", "get").mockReturnValue(600);
    vi.spyOn(HTMLElement.prototype, "clientWidth", "get").mockReturnValue(1200);
  });
  afterEach(() => vi.restoreAllMocks());

  it("lists at-risk rows, adds a live breach with a cue, resumes after a drop with Last-Event-ID, filters", async () => {
    const streamCalls: Record<string, string>[] = [];
    mockFetch({
      "GET /sla/api/v1/at-risk": () => json({ items: [timerOf("tm_1", {})], next_cursor: null }),
      "GET /crm/api/v1/products": () => json([]),
      "GET /sla/api/v1/stream": (_u, init) => {
        streamCalls.push({ ...(init.headers as Record<string, string>) });
        const event = (id: string, e: { type: string }) => `id: ${id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
        return streamCalls.length === 1
          ? sse(`retry: 10\n${event("42.7", breach)}${event("42.8", started)}`, "error")
          : sse(`: connected\n\n${event("43.1", met)}`, "hang");
      },
    });
    renderApp(<Board />, { lang: "en" });
    const first = await screen.findByText("tk_1");
    // the server's business-time countdown, counting (no calendar in the browser)
    const left = first.closest("[role=row]")?.querySelector("[data-running]");
    expect(left?.getAttribute("data-running")).toBe("yes");
    expect(left?.textContent).toMatch(/^(01:00:00|59:5\d) \(business time\)$/);
    const row = await screen.findByText("tk_9");
    expect(row.closest("[role=row]")?.getAttribute("data-state")).toBe("breached");
    expect(await screen.findByText(/1 new breach/)).toBeTruthy();
    await waitFor(() => expect(streamCalls.length).toBe(2));
    expect(streamCalls[1]?.["Last-Event-ID"]).toBe("42.8");
    await waitFor(() => expect(screen.getByText("Live")).toBeTruthy());
    // the timer the feed started was met after the resume: it left the board
    await waitFor(() => expect(screen.queryByText("tk_5")).toBeNull());
    expect(screen.getByTestId("row-count").textContent).toBe("2 of 2");

    // filters: region (carried by the timers) and tier
    fireEvent.change(document.querySelector("[data-filter=region]") as HTMLSelectElement, { target: { value: "天津-河西区" } });
    expect(screen.getByTestId("row-count").textContent).toBe("1 of 2");
    expect(screen.queryByText("tk_1")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Clear filters" }));
    fireEvent.change(document.querySelector("[data-filter=tier]") as HTMLSelectElement, { target: { value: "B" } });
    expect(within(screen.getByTestId("board-scroll")).getByText("tk_1")).toBeTruthy();
    expect(screen.getByTestId("row-count").textContent).toBe("1 of 2");
    act(() => fireEvent.click(screen.getByRole("button", { name: "Got it" })));
    expect(screen.queryByText(/new breach/)).toBeNull();
  });

  it("shows 'reconnecting' while the feed is down", async () => {
    mockFetch({
      "GET /sla/api/v1/at-risk": () => json({ items: [], next_cursor: null }),
      "GET /crm/api/v1/products": () => json([]),
      "GET /sla/api/v1/stream": () => Promise.reject(new TypeError("connection refused")),
    });
    renderApp(<Board />, { lang: "en" });
    const status = await screen.findByText("Connection lost, reconnecting…");
    expect(status.getAttribute("data-stream")).toBe("reconnecting");
  });
});
