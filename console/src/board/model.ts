// The SLA board's state, as pure functions: rows keyed by timer id, merged from the at-risk snapshot
// (GET /api/v1/at-risk: every open timer whose clock runs, breached and escalated ones included) and
// the live feed (timers started, warnings, breaches, escalations; completions and cancellations drop
// the row); filtering and sorting; the countdown from the server's figures.
import type { BoardTimer, FeedEvent } from "../api/types";

export type RowState = "running" | "warned" | "breached" | "escalated" | "paused";
const RANK: Record<RowState, number> = { paused: 0, running: 0, warned: 1, breached: 2, escalated: 3 };
const isRowState = (s: string): s is RowState => s in RANK;

/** Where a timer stood when the console learnt it (the server computed it: the calendar, holidays included). */
export interface Countdown {
  /** browser time (ms) the figures were received at */
  at: number;
  /** business seconds left then (negative past the limit) */
  left: number;
  /** whether the clock was counting then */
  running: boolean;
  /** ms after `at` when the clock starts or stops counting by itself (null: never) */
  changesIn: number | null;
}

export interface BoardRow {
  timerId: string;
  ticketId: string;
  node: string;
  role: string;
  assignee: string | null;
  customerId: string;
  customerName: string;
  customerRegion: string | null;
  tier: string;
  accountManagerId: string;
  businessType: string;
  ticketKind: string;
  policyVersion: string;
  ruleId: string;
  clock: "working" | "calendar";
  deadline: number;
  state: RowState;
  escalationLevel: number;
  countdown: Countdown;
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

export function rowOf(t: BoardTimer, now: number, old?: BoardRow): BoardRow | null {
  if (!t.open || !isRowState(t.state)) return null;
  const changes = t.clock_changes_at ? Date.parse(t.clock_changes_at) - Date.parse(t.as_of) : null;
  return {
    timerId: t.id, ticketId: t.ticket_id, node: t.node, role: t.role, assignee: t.assignee ?? null,
    customerId: t.customer_id, customerName: t.customer_name, customerRegion: t.customer_region ?? null,
    tier: t.customer_tier, accountManagerId: t.account_manager_id, businessType: t.business_type,
    ticketKind: t.ticket_kind, policyVersion: t.policy_version, ruleId: t.rule_id, clock: t.clock,
    deadline: Date.parse(t.deadline), state: t.state, escalationLevel: t.escalation_level,
    countdown: { at: now, left: t.business_seconds_left, running: t.clock_running, changesIn: changes },
    seenAt: now, breachedAt: old?.breachedAt ?? null,
  };
}

/** Business seconds left at `now`, from the server's figures: counting down while the clock runs, until it
 * stops by itself (lunch, evening, a holiday) or starts again; the next snapshot brings fresh figures. */
export function secondsLeft(r: BoardRow, now: number): number {
  const { at, left, running, changesIn } = r.countdown;
  if (now <= at) return left;
  const changesAt = changesIn === null ? null : at + changesIn;
  if (running) return left - (Math.min(now, changesAt ?? now) - at) / 1000;
  if (changesAt !== null && now > changesAt) return left - (now - changesAt) / 1000;
  return left;
}

export type BoardAction =
  | { type: "snapshot"; items: BoardTimer[]; startedAt: number; now: number; partial?: boolean }
  | { type: "feed"; events: FeedEvent[]; now: number; live: boolean }
  | { type: "ack" };

const CLOSING: readonly string[] = ["sla.met", "sla.timer_cancelled"];

/**
 * snapshot: the open timers as the server saw them when the request started. A row the feed updated
 *   after that is kept as the feed left it; a row absent from a complete snapshot and not touched since
 *   the request started is gone (completed or cancelled). A partial snapshot (the first pages, shown
 *   while the rest loads) only adds and updates.
 * feed: sla.timer_started / warning / breached / escalated upsert the row from the timer the event
 *   carries; sla.met and sla.timer_cancelled drop it. A breach seen live counts as a new breach.
 */
export function boardReducer(s: BoardState, a: BoardAction): BoardState {
  switch (a.type) {
    case "snapshot": {
      const rows = new Map(s.rows);
      const present = new Set<string>();
      for (const item of a.items) {
        present.add(item.id);
        const old = rows.get(item.id);
        if (old && old.seenAt >= a.startedAt) continue; // the feed told us more recently
        const fresh = rowOf(item, a.now, old);
        if (fresh) rows.set(item.id, fresh);
        else rows.delete(item.id);
      }
      if (a.partial) return { ...s, rows }; // a page of a snapshot still loading: add, remove nothing yet
      for (const [id, r] of rows) if (!present.has(id) && r.seenAt < a.startedAt) rows.delete(id);
      return { ...s, rows };
    }
    case "feed": {
      if (!a.events.length) return s;
      const rows = new Map(s.rows);
      let unseen = s.unseenBreaches;
      for (const e of a.events) {
        if (CLOSING.includes(e.type)) {
          rows.delete(e.timer_id);
          continue;
        }
        if (!e.timer) continue;
        const old = rows.get(e.timer_id);
        const next = rowOf(e.timer, a.now, old);
        if (!next) {
          rows.delete(e.timer_id);
          continue;
        }
        const newBreach = a.live && e.type === "sla.breached" && (!old || RANK[old.state] < RANK.breached);
        if (newBreach) unseen += 1;
        rows.set(e.timer_id, { ...next, breachedAt: newBreach ? a.now : next.breachedAt });
      }
      return { ...s, rows, unseenBreaches: unseen, lastEventAt: a.now };
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

/** Filter and sort by deadline (the server's order: overdue first). The list is recomputed only when
 * rows or filters change, not as the clock ticks. */
export function visibleRows(rows: Iterable<BoardRow>, f: BoardFilters, sort: Sort): BoardRow[] {
  const q = f.search.trim().toLowerCase();
  const out: BoardRow[] = [];
  for (const r of rows) {
    if (f.tier && r.tier !== f.tier) continue;
    if (f.businessType && r.businessType !== f.businessType) continue;
    if (f.node && r.node !== f.node) continue;
    if (f.role && r.role !== f.role) continue;
    if (f.region && r.customerRegion !== f.region) continue;
    if (f.state === "breached" && RANK[r.state] < RANK.breached) continue;
    if (f.state === "at_risk" && RANK[r.state] >= RANK.breached) continue;
    if (q && ![r.ticketId, r.customerId, r.customerName, r.assignee ?? "", r.accountManagerId]
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
