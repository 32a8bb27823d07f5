// Which rule of a policy set governs a timer (sla/domain/policy.py precedence), and its clock.
import type { CalendarSpec } from "./calendar";

export interface PolicyRule {
  id: string;
  business_type?: string;
  ticket_kind?: string;
  node?: string;
  customer_tier?: string;
  role?: string;
  limit_minutes: number;
  clock?: "working" | "calendar";
  calendar?: string | null;
}

export interface PolicyBody {
  version: string;
  default_calendar?: string | null;
  calendars?: CalendarSpec[];
  rules: PolicyRule[];
}

export interface TimerContext {
  business_type: string;
  ticket_kind: string;
  node: string;
  customer_tier: string;
  role: string;
}

const named = (v: string | undefined) => v !== undefined && v !== null && v !== "*";

function matches(rule: PolicyRule, ctx: TimerContext): boolean {
  if (named(rule.business_type)) {
    const bt = rule.business_type as string;
    if (ctx.business_type !== bt && !ctx.business_type.startsWith(`${bt}.`)) return false;
  }
  for (const k of ["ticket_kind", "node", "customer_tier", "role"] as const) {
    if (named(rule[k]) && rule[k] !== ctx[k]) return false;
  }
  return true;
}

function score(rule: PolicyRule): number[] {
  const n = (k: keyof PolicyRule) => (named(rule[k] as string | undefined) ? 1 : 0);
  const bt = named(rule.business_type) ? ((rule.business_type as string).includes(".") ? 2 : 1) : 0;
  const count = n("node") + n("ticket_kind") + (bt ? 1 : 0) + n("customer_tier") + n("role");
  return [count, n("node"), n("ticket_kind"), bt, n("customer_tier"), n("role")];
}

function greater(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i += 1) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return false;
}

/** The most specific matching rule (or null: no rule matches, the node has no timer). */
export function resolveRule(body: PolicyBody, ctx: TimerContext): PolicyRule | null {
  let best: PolicyRule | null = null;
  let bestScore: number[] = [];
  for (const r of body.rules ?? []) {
    if (!matches(r, ctx)) continue;
    const s = score(r);
    if (!best || greater(s, bestScore)) {
      best = r;
      bestScore = s;
    }
  }
  return best;
}

/** The business calendar a rule counts on, or null for wall-clock (`clock: calendar`). */
export function calendarOf(body: PolicyBody, rule: PolicyRule): CalendarSpec | null {
  if ((rule.clock ?? "working") === "calendar") return null;
  const name = rule.calendar ?? body.default_calendar;
  return body.calendars?.find((c) => c.name === name) ?? null;
}
