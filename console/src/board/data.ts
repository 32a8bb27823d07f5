// What the board reads besides the stream: the at-risk snapshot (every open timer whose clock runs,
// breached and escalated ones included, with the server's countdown).
import { api } from "../api/client";
import type { AtRiskPage, BoardTimer } from "../api/types";

export const MAX_ROWS = 10000;
/** The first page is small (the rows at the top of the screen, nearest their deadline, arrive and render
 * first: issue 10's first-render target), the rest come in pages of PAGE_ROWS. */
export const FIRST_PAGE_ROWS = 100;
export const PAGE_ROWS = 500;

/** A first page asked before the board mounts is used only while this fresh. */
export const PREFETCH_MAX_AGE_MS = 10000;

let prefetched: { page: Promise<AtRiskPage>; at: number; arrived?: AtRiskPage } | null = null;

/** Ask the first page now (main.tsx, when the page opened is the board: in parallel with the app's
 * code, not after it). The board takes it once (`takePrefetched`). Resolves (never rejects) once the page
 * has arrived (`arrivedFirstPage` gives it from then on) or failed (then the board asks again). */
export function prefetchFirstPage(now = Date.now()): Promise<void> {
  const entry: NonNullable<typeof prefetched> = {
    page: api.get("sla", "/api/v1/at-risk", { query: { limit: FIRST_PAGE_ROWS } }), at: now,
  };
  prefetched = entry;
  return entry.page.then((p) => { entry.arrived = p; }, () => undefined);
}

/** The prefetched first page if it has already arrived and is fresh, without taking it: the board's
 * first render shows its rows at once (no effect, no second render before the first row). */
export function arrivedFirstPage(now = Date.now()): AtRiskPage | undefined {
  return prefetched && now - prefetched.at < PREFETCH_MAX_AGE_MS ? prefetched.arrived : undefined;
}

/** The prefetched first page, once, if still fresh; else undefined (then the board asks it itself). */
export function takePrefetched(now = Date.now()): Promise<AtRiskPage> | undefined {
  const p = prefetched;
  prefetched = null;
  return p && now - p.at < PREFETCH_MAX_AGE_MS ? p.page : undefined;
}

/** Every open timer nearest its deadline first (overdue first), up to `max` (a first page of 100, then
 * pages of 500). `first`: the first page already asked (`takePrefetched`); asked again if it failed. */
export async function fetchAtRisk(
  signal: AbortSignal, max = MAX_ROWS, onPage?: (items: BoardTimer[]) => void, first?: Promise<AtRiskPage>,
): Promise<BoardTimer[]> {
  const out: BoardTimer[] = [];
  let cursor: string | null = null;
  let given = max >= FIRST_PAGE_ROWS ? await first?.catch(() => undefined) : undefined;
  signal.throwIfAborted();
  do {
    const page: AtRiskPage = given ?? await api.get("sla", "/api/v1/at-risk", {
      query: { limit: Math.min(out.length ? PAGE_ROWS : FIRST_PAGE_ROWS, max - out.length), cursor }, signal,
    });
    given = undefined;
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
