import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { json, mockFetch, renderApp, signIn, useTestConfig } from "../test/helpers";
import Board, { secondsLeft } from "./Board";
import type { BoardRow } from "../board/model";
import type { PolicyBody } from "../lib/policy";

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

const breach = {
  event_id: "e1", type: "sla.breached", ticket_id: "tk_9", fired_at: iso(now),
  data: {
    timer_id: "tm_9", ticket_id: "tk_9", ticket_kind: "service_opening", business_type: "vpmn.opening",
    node: "data_production", role: "data_production", assignee: null, customer_id: "cus_tj_bank",
    customer_name: "天津农商银行股份有限公司", customer_tier: "A", account_manager_id: "am_zhang",
    deadline: iso(now - 5000), policy_version: "demo-1", lateness_seconds: 5,
  },
};

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
      "GET /sla/api/v1/at-risk": () => json({
        items: [{ id: "tm_1", ticket_id: "tk_1", node: "resource_check", state: "warned", role: "network_resource",
          assignee: "p-wanglei", customer_id: "cus_tj_port", customer_tier: "B", account_manager_id: "am_zhang",
          deadline: iso(now + 3600_000), seconds_to_deadline: 3600 }],
        next_cursor: null,
      }),
      "GET /crm/api/v1/customers": () => json({ items: [
        { id: "cus_tj_port", name: "天津港集团有限公司", region: "天津-滨海新区" },
        { id: "cus_tj_bank", name: "天津农商银行股份有限公司", region: "天津-河西区" },
      ], next_cursor: null }),
      "GET /sla/api/v1/policies/demo-1": () => json({ version: "demo-1", body: { version: "demo-1", rules: [{ id: "all", clock: "calendar", limit_minutes: 1 }] } }),
      "GET /crm/api/v1/products": () => json([]),
      "GET /sla/api/v1/stream": (_u, init) => {
        streamCalls.push({ ...(init.headers as Record<string, string>) });
        return streamCalls.length === 1
          ? sse(`retry: 10\nid: 42.7\nevent: sla.breached\ndata: ${JSON.stringify(breach)}\n\n`, "error")
          : sse(": connected\n\n", "hang");
      },
    });
    renderApp(<Board />, { lang: "en" });
    await screen.findByText("tk_1");
    const row = await screen.findByText("tk_9");
    expect(row.closest("[role=row]")?.getAttribute("data-state")).toBe("breached");
    expect(await screen.findByText(/1 new breach/)).toBeTruthy();
    await waitFor(() => expect(streamCalls.length).toBe(2));
    expect(streamCalls[1]?.["Last-Event-ID"]).toBe("42.7");
    await waitFor(() => expect(screen.getByText("Live")).toBeTruthy());
    expect(screen.getByTestId("row-count").textContent).toBe("2 of 2");

    // filters: region (from the CRM) and tier
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
      "GET /crm/api/v1/customers": () => json({ items: [], next_cursor: null }),
      "GET /crm/api/v1/products": () => json([]),
      "GET /sla/api/v1/stream": () => Promise.reject(new TypeError("connection refused")),
    });
    renderApp(<Board />, { lang: "en" });
    const status = await screen.findByText("Connection lost, reconnecting…");
    expect(status.getAttribute("data-stream")).toBe("reconnecting");
  });
});

describe("countdown", () => {
  const base: BoardRow = {
    timerId: "t", ticketId: "k", node: "resource_check", role: "network_resource", assignee: null, customerId: "c",
    customerName: null, tier: "A", accountManagerId: "am", businessType: "dedicated_line_data.opening",
    ticketKind: "resource_confirmation", policyVersion: "p1", deadline: Date.parse("2025-12-01T10:00:00+08:00"),
    state: "warned", escalationLevel: 0, seenAt: 0, breachedAt: null,
  };
  const policy: PolicyBody = {
    version: "p1", default_calendar: "cn_office",
    calendars: [{ name: "cn_office", tz: "Asia/Shanghai", hours: ["09:00-12:00", "13:30-18:00"] }],
    rules: [{ id: "r", limit_minutes: 240 }, { id: "fault", node: "fault_repair", clock: "calendar", limit_minutes: 60 }],
  };
  const fri1700 = Date.parse("2025-11-28T17:00:00+08:00");

  it("counts down in business time where the rule uses working hours, wall clock otherwise", () => {
    const policies = new Map([["p1", policy]]);
    expect(secondsLeft(base, fri1700, policies)).toEqual({ seconds: 2 * 3600, business: true });
    expect(secondsLeft({ ...base, node: "fault_repair" }, fri1700, policies).business).toBe(false);
    expect(secondsLeft({ ...base, node: "fault_repair" }, fri1700, policies).seconds).toBe((base.deadline - fri1700) / 1000);
    // no policy known (a row only the at-risk snapshot told us about): wall clock
    expect(secondsLeft({ ...base, policyVersion: null }, fri1700, policies).business).toBe(false);
  });
});
