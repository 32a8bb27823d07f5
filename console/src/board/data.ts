// What the board reads besides the stream: the at-risk snapshot, customer regions, policy bodies.
import { api } from "../api/client";
import type { AtRiskItem, AtRiskPage, CustomerPage } from "../api/types";
import type { PolicyBody } from "../lib/policy";

export const MAX_ROWS = 10000;

/** Every running/warned timer nearest its deadline first, up to `max` (pages of 500). */
export async function fetchAtRisk(
  signal: AbortSignal, max = MAX_ROWS, onPage?: (items: AtRiskItem[]) => void,
): Promise<AtRiskItem[]> {
  const out: AtRiskItem[] = [];
  let cursor: string | null = null;
  do {
    const page: AtRiskPage = await api.get("sla", "/api/v1/at-risk", {
      query: { limit: Math.min(500, max - out.length), cursor }, signal,
    });
    out.push(...page.items);
    cursor = page.next_cursor ?? null;
    if (cursor) onPage?.(page.items);
  } while (cursor && out.length < max);
  return out;
}

export interface CustomerInfo {
  name: string;
  region: string;
}

/** Customer id → name and region (supervisors and admins may list customers; others get 403). */
export async function fetchCustomers(signal: AbortSignal): Promise<Map<string, CustomerInfo>> {
  const out = new Map<string, CustomerInfo>();
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page: CustomerPage = await api.get("crm", "/api/v1/customers", { query: { limit: 200, cursor }, signal });
    for (const c of page.items) out.set(c.id, { name: c.name, region: c.region });
    cursor = page.next_cursor ?? null;
    pages += 1;
  } while (cursor && pages < 50);
  return out;
}

const policyCache = new Map<string, Promise<PolicyBody | null>>();

export function fetchPolicy(version: string): Promise<PolicyBody | null> {
  let p = policyCache.get(version);
  if (!p) {
    p = api.get("sla", "/api/v1/policies/{version}", { path: { version } })
      .then((d) => d.body as unknown as PolicyBody)
      .catch(() => null);
    policyCache.set(version, p);
  }
  return p;
}

/** Whether a ticket's timer is closed (met or cancelled): used to drop breached rows. */
export async function timerClosed(ticketId: string, timerId: string, signal: AbortSignal): Promise<boolean> {
  const page = await api.get("sla", "/api/v1/timers", { query: { ticket_id: ticketId }, signal });
  const timer = page.items.find((x) => x.id === timerId);
  return !timer || timer.completed_at !== null || timer.cancelled_at !== null;
}
