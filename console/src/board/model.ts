// The SLA board's state, as pure functions: rows keyed by timer id, merged from the at-risk
// snapshot (GET /api/v1/at-risk: running and warned timers) and the live feed (warnings,
// breaches, escalations); filtering and sorting by time left.
import type { AlertEvent, AtRiskItem } from "../api/types";

export type RowState = "running" | "warned" | "breached" | "escalated";
const RANK: Record<RowState, number> = { running: 0, warned: 1, breached: 2, escalated: 3 };

export interface BoardRow {
  timerId: string;
  ticketId: string;
  node: string;
  role: string;
  assignee: string | null;
  customerId: string;
  customerName: string | null;
  tier: string;
  accountManagerId: string;
  /** null when only the at-risk snapshot knows the row (it lacks these fields) */
  businessType: string | null;
  ticketKind: string | null;
  policyVersion: string | null;
  deadline: number;
  state: RowState;
  escalationLevel: number;
  /** when the console last learnt something about this row (ms) */
  seenAt: number;
  /** set when a breach arrived live: drives the "new breach" cue */
  breachedAt: number | null;
}

export interface BoardState {
  rows: Map<string, BoardRow>;
  /** new breaches not yet acknowledged */
  unseenBreaches: number;
  lastEventAt: number | null;
}

export const emptyBoard = (): BoardState => ({ rows: new Map(), unseenBreaches: 0, lastEventAt: null });

function fromAtRisk(i: AtRiskItem, now: number): BoardRow {
  return {
    timerId: i.id, ticketId: i.ticket_id, node: i.node, role: i.role, assignee: i.assignee ?? null,
    customerId: i.customer_id, customerName: null, tier: i.customer_tier, accountManagerId: i.account_manager_id,
    businessType: null, ticketKind: null, policyVersion: null, deadline: Date.parse(i.deadline),
    state: i.state === "warned" ? "warned" : "running", escalationLevel: 0, seenAt: now, breachedAt: null,
  };
}

function stateOf(e: AlertEvent): RowState {
  return e.type === "sla.warning" ? "warned" : e.type === "sla.breached" ? "breached" : "escalated";
}

export type BoardAction =
  | { type: "snapshot"; items: AtRiskItem[]; startedAt: number; now: number; partial?: boolean }
  | { type: "alerts"; events: AlertEvent[]; now: number; live: boolean }
  | { type: "remove"; timerIds: string[] }
  | { type: "ack" };

/**
 * snapshot: the running/warned timers as the server saw them when the request started. A row
 *   is never moved back (a breach that arrived meanwhile stays); a running/warned row absent from
 *   the snapshot and not touched since the request started is gone (completed or cancelled).
 *   A partial snapshot (the first pages, shown while the rest loads) only adds and updates.
 * alerts: upsert from the live feed; a breach or escalation seen live counts as a new breach.
 */
export function boardReducer(s: BoardState, a: BoardAction): BoardState {
  switch (a.type) {
    case "snapshot": {
      const rows = new Map(s.rows);
      const present = new Set<string>();
      for (const item of a.items) {
        present.add(item.id);
        const old = rows.get(item.id);
        const fresh = fromAtRisk(item, a.now);
        if (!old) rows.set(item.id, fresh);
        else {
          const keepState = RANK[old.state] >= RANK[fresh.state];
          rows.set(item.id, {
            ...old, assignee: fresh.assignee, deadline: fresh.deadline,
            state: keepState ? old.state : fresh.state, seenAt: Math.max(old.seenAt, a.now),
          });
        }
      }
      if (a.partial) return { ...s, rows }; // a page of a snapshot still loading: add, remove nothing yet
      for (const [id, r] of rows) {
        if (!present.has(id) && RANK[r.state] <= RANK.warned && r.seenAt < a.startedAt) rows.delete(id);
      }
      return { ...s, rows };
    }
    case "alerts": {
      if (!a.events.length) return s;
      const rows = new Map(s.rows);
      let unseen = s.unseenBreaches;
      for (const e of a.events) {
        const d = e.data;
        const old = rows.get(d.timer_id);
        const next = stateOf(e);
        const state = old && RANK[old.state] > RANK[next] ? old.state : next;
        const newBreach = a.live && e.type === "sla.breached" && (!old || RANK[old.state] < RANK.breached);
        if (newBreach) unseen += 1;
        rows.set(d.timer_id, {
          timerId: d.timer_id, ticketId: d.ticket_id, node: d.node, role: d.role, assignee: d.assignee ?? null,
          customerId: d.customer_id, customerName: d.customer_name ?? old?.customerName ?? null,
          tier: d.customer_tier, accountManagerId: d.account_manager_id, businessType: d.business_type,
          ticketKind: d.ticket_kind, policyVersion: d.policy_version, deadline: Date.parse(d.deadline), state,
          escalationLevel: Math.max(old?.escalationLevel ?? 0, e.type === "sla.escalated" ? (d.level ?? 1) : 0),
          seenAt: a.now, breachedAt: newBreach ? a.now : (old?.breachedAt ?? null),
        });
      }
      return { ...s, rows, unseenBreaches: unseen, lastEventAt: a.now };
    }
    case "remove": {
      const rows = new Map(s.rows);
      for (const id of a.timerIds) rows.delete(id);
      return { ...s, rows };
    }
    case "ack":
      return { ...s, unseenBreaches: 0 };
  }
}

export interface BoardFilters {
  tier: string;
  businessType: string;
  node: string;
  role: string;
  region: string;
  state: "" | "at_risk" | "breached";
  search: string;
}

export const noFilters: BoardFilters = { tier: "", businessType: "", node: "", role: "", region: "", state: "", search: "" };

export type Sort = "asc" | "desc";

/** Filter and sort by time left. Time left is monotone in the deadline, on either clock, so the
 * order does not change as the clock ticks: the list is recomputed only when rows or filters do. */
export function visibleRows(
  rows: Iterable<BoardRow>, f: BoardFilters, sort: Sort, regionOf: (customerId: string) => string | null,
): BoardRow[] {
  const q = f.search.trim().toLowerCase();
  const out: BoardRow[] = [];
  for (const r of rows) {
    if (f.tier && r.tier !== f.tier) continue;
    if (f.businessType && r.businessType !== f.businessType) continue;
    if (f.node && r.node !== f.node) continue;
    if (f.role && r.role !== f.role) continue;
    if (f.region && regionOf(r.customerId) !== f.region) continue;
    if (f.state === "breached" && RANK[r.state] < RANK.breached) continue;
    if (f.state === "at_risk" && RANK[r.state] >= RANK.breached) continue;
    if (q && ![r.ticketId, r.customerId, r.customerName ?? "", r.assignee ?? "", r.accountManagerId]
      .some((x) => x.toLowerCase().includes(q))) continue;
    out.push(r);
  }
  const dir = sort === "asc" ? 1 : -1;
  out.sort((a, b) => dir * (a.deadline - b.deadline) || a.timerId.localeCompare(b.timerId));
  return out;
}

/** The distinct values of a field, for the filter menus. */
export function facet(rows: Iterable<BoardRow>, pick: (r: BoardRow) => string | null): string[] {
  const set = new Set<string>();
  for (const r of rows) {
    const v = pick(r);
    if (v) set.add(v);
  }
  return [...set].sort();
}
