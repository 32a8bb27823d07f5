// What the board reads besides the stream: the at-risk snapshot (every open timer whose clock runs,
// breached and escalated ones included, with the server's countdown).
import { api } from "../api/client";
import type { AtRiskPage, BoardTimer } from "../api/types";

export const MAX_ROWS = 10000;
/** The first page is small (the rows at the top of the screen, nearest their deadline, arrive and render
 * first: issue 10's first-render target), the rest come in pages of PAGE_ROWS. */
export const FIRST_PAGE_ROWS = 100;
export const PAGE_ROWS = 500;

/** Every open timer nearest its deadline first (overdue first), up to `max` (a first page of 100, then
 * pages of 500). */
export async function fetchAtRisk(
  signal: AbortSignal, max = MAX_ROWS, onPage?: (items: BoardTimer[]) => void,
): Promise<BoardTimer[]> {
  const out: BoardTimer[] = [];
  let cursor: string | null = null;
  do {
    const page: AtRiskPage = await api.get("sla", "/api/v1/at-risk", {
      query: { limit: Math.min(out.length ? PAGE_ROWS : FIRST_PAGE_ROWS, max - out.length), cursor }, signal,
    });
    out.push(...page.items);
    cursor = page.next_cursor ?? null;
    if (cursor) onPage?.(page.items);
  } while (cursor && out.length < max);
  return out;
}

/** The SLA timers of some tickets (a work queue's page), open ones only: ticket id → its timers. */
export async function openTimersOf(ticketIds: string[], signal?: AbortSignal): Promise<Map<string, BoardTimer[]>> {
  const out = new Map<string, BoardTimer[]>();
  if (!ticketIds.length) return out;
  const page = await api.get("sla", "/api/v1/at-risk", {
    query: { ticket_id: ticketIds, state: ["running", "warned", "breached", "escalated", "paused"], limit: 500 },
    signal,
  });
  for (const t of page.items) out.set(t.ticket_id, [...(out.get(t.ticket_id) ?? []), t]);
  return out;
}
