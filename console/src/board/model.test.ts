import { describe, expect, it } from "vitest";
import type { AlertEvent, AtRiskItem } from "../api/types";
import { boardReducer, emptyBoard, noFilters, visibleRows, type BoardState } from "./model";

const T0 = Date.parse("2025-11-26T02:00:00Z");

function atRisk(id: string, minutes: number, extra: Partial<AtRiskItem> = {}): AtRiskItem {
  return {
    id, ticket_id: `tk_${id}`, node: "resource_check", state: "running", role: "network_resource", assignee: null,
    customer_id: "cus_tj_port", customer_tier: "A", account_manager_id: "am_zhang",
    deadline: new Date(T0 + minutes * 60000).toISOString(), seconds_to_deadline: minutes * 60, ...extra,
  };
}

function alert(type: AlertEvent["type"], timer: string, minutes: number, extra: Partial<AlertEvent["data"]> = {}): AlertEvent {
  return {
    event_id: `${type}-${timer}`, type, ticket_id: `tk_${timer}`, fired_at: new Date(T0).toISOString(),
    data: {
      timer_id: timer, ticket_id: `tk_${timer}`, ticket_kind: "resource_confirmation", business_type: "dedicated_line_data.opening",
      node: "resource_check", role: "network_resource", customer_id: "cus_tj_bank", customer_name: "天津农商银行",
      customer_tier: "B", account_manager_id: "am_zhang", deadline: new Date(T0 + minutes * 60000).toISOString(),
      policy_version: "demo-1", ...extra,
    },
  };
}

describe("board reducer", () => {
  it("merges the snapshot and the live feed without moving a row back", () => {
    let s: BoardState = emptyBoard();
    s = boardReducer(s, { type: "snapshot", items: [atRisk("a", 10), atRisk("b", 5)], startedAt: T0, now: T0 });
    expect(s.rows.size).toBe(2);
    s = boardReducer(s, { type: "alerts", events: [alert("sla.breached", "b", -1)], now: T0 + 1000, live: true });
    expect(s.rows.get("b")?.state).toBe("breached");
    expect(s.rows.get("b")?.businessType).toBe("dedicated_line_data.opening");
    expect(s.unseenBreaches).toBe(1);
    // an older snapshot still listing b as running does not undo the breach
    s = boardReducer(s, { type: "snapshot", items: [atRisk("a", 10), atRisk("b", 5)], startedAt: T0 + 500, now: T0 + 2000 });
    expect(s.rows.get("b")?.state).toBe("breached");
    // an escalation raises the level; a late warning does not lower the state
    s = boardReducer(s, { type: "alerts", events: [alert("sla.escalated", "b", -1, { level: 2 }), alert("sla.warning", "b", -1)], now: T0 + 3000, live: true });
    expect(s.rows.get("b")).toMatchObject({ state: "escalated", escalationLevel: 2 });
    expect(s.unseenBreaches).toBe(1);
    expect(boardReducer(s, { type: "ack" }).unseenBreaches).toBe(0);
  });

  it("drops running rows the snapshot no longer lists, but not rows touched since it started", () => {
    let s = boardReducer(emptyBoard(), { type: "snapshot", items: [atRisk("a", 10), atRisk("b", 5)], startedAt: T0, now: T0 });
    s = boardReducer(s, { type: "alerts", events: [alert("sla.warning", "c", 3)], now: T0 + 5000, live: true });
    s = boardReducer(s, { type: "snapshot", items: [atRisk("a", 10)], startedAt: T0 + 4000, now: T0 + 6000 });
    expect([...s.rows.keys()].sort()).toEqual(["a", "c"]);
  });

  it("a partial snapshot adds and removes nothing", () => {
    let s = boardReducer(emptyBoard(), { type: "snapshot", items: [atRisk("a", 10)], startedAt: T0, now: T0 });
    s = boardReducer(s, { type: "snapshot", items: [atRisk("b", 5)], startedAt: T0 + 1000, now: T0 + 2000, partial: true });
    expect([...s.rows.keys()].sort()).toEqual(["a", "b"]);
  });

  it("a replayed (not live) breach is no new-breach cue", () => {
    const s = boardReducer(emptyBoard(), { type: "alerts", events: [alert("sla.breached", "x", -3)], now: T0, live: false });
    expect(s.unseenBreaches).toBe(0);
    expect(s.rows.get("x")?.breachedAt).toBeNull();
  });
});

describe("visibleRows", () => {
  const items = [atRisk("a", 10, { customer_tier: "A" }), atRisk("b", 5, { customer_tier: "B", node: "site_survey", role: "field_engineer" }),
    atRisk("c", 30, { customer_tier: "A", customer_id: "cus_tj_gov", assignee: "p-wanglei" })];
  const s = boardReducer(emptyBoard(), { type: "snapshot", items, startedAt: 0, now: T0 });
  const withBreach = boardReducer(s, { type: "alerts", events: [alert("sla.breached", "d", -2)], now: T0, live: true });
  const regions: Record<string, string> = { cus_tj_port: "天津-滨海新区", cus_tj_gov: "天津-和平区", cus_tj_bank: "天津-河西区" };
  const regionOf = (id: string) => regions[id] ?? null;
  const ids = (f: Partial<typeof noFilters>, sort: "asc" | "desc" = "asc") =>
    visibleRows(withBreach.rows.values(), { ...noFilters, ...f }, sort, regionOf).map((r) => r.timerId);

  it("sorts by time left, most urgent first or last", () => {
    expect(ids({})).toEqual(["d", "b", "a", "c"]);
    expect(ids({}, "desc")).toEqual(["c", "a", "b", "d"]);
  });

  it("filters by tier, node, role, business type, region, state and text", () => {
    expect(ids({ tier: "A" })).toEqual(["a", "c"]);
    expect(ids({ node: "site_survey" })).toEqual(["b"]);
    expect(ids({ role: "network_resource" })).toEqual(["d", "a", "c"]);
    expect(ids({ businessType: "dedicated_line_data.opening" })).toEqual(["d"]);
    expect(ids({ region: "天津-和平区" })).toEqual(["c"]);
    expect(ids({ state: "breached" })).toEqual(["d"]);
    expect(ids({ state: "at_risk" })).toEqual(["b", "a", "c"]);
    expect(ids({ search: "wanglei" })).toEqual(["c"]);
    expect(ids({ search: "农商" })).toEqual(["d"]);
  });

  it("keeps 10,000 rows cheap to filter and sort", () => {
    const items = Array.from({ length: 10000 }, (_, i) => atRisk(`t${i}`, (i * 7919) % 10000, { customer_tier: "ABC"[i % 3] as string }));
    const big = boardReducer(emptyBoard(), { type: "snapshot", items, startedAt: 0, now: T0 });
    const started = performance.now();
    const rows = visibleRows(big.rows.values(), { ...noFilters, tier: "B" }, "asc", () => null);
    expect(performance.now() - started).toBeLessThan(200);
    expect(rows.length).toBe(3333);
    expect(rows.every((r, i) => i === 0 || (rows[i - 1] as { deadline: number }).deadline <= r.deadline)).toBe(true);
  });
});
