import { afterEach, describe, expect, it, vi } from "vitest";
import { json, mockFetch, useTestConfig } from "../test/helpers";
import {
  FIRST_PAGE_ROWS, PAGE_ROWS, PREFETCH_MAX_AGE_MS, arrivedFirstPage, fetchAtRisk, prefetchFirstPage, takePrefetched,
} from "./data";

describe("the board's at-risk snapshot", () => {
  afterEach(() => vi.restoreAllMocks());

  it("asks a small first page, then big pages, until the cursor ends or the cap is reached", async () => {
    useTestConfig();
    let n = 0;
    const { calls } = mockFetch({
      "GET /sla/api/v1/at-risk": (url) => {
        const limit = Number(url.searchParams.get("limit"));
        const items = Array.from({ length: limit }, () => ({ timer_id: `t${n++}` }));
        return json({ items, next_cursor: n < 1200 ? `c${n}` : null });
      },
    });
    const pages: number[] = [];
    const rows = await fetchAtRisk(new AbortController().signal, 10000, (items) => pages.push(items.length));
    expect(calls.map((c) => Number(c.url.searchParams.get("limit")))).toEqual([FIRST_PAGE_ROWS, PAGE_ROWS, PAGE_ROWS, PAGE_ROWS]);
    expect(rows).toHaveLength(1600);
    expect(pages[0]).toBe(FIRST_PAGE_ROWS);
    n = 0;
    const capped = await fetchAtRisk(new AbortController().signal, 150);
    expect(capped).toHaveLength(150);
    expect(calls.slice(4).map((c) => Number(c.url.searchParams.get("limit")))).toEqual([FIRST_PAGE_ROWS, 50]);
  });

  it("uses the first page asked before the board mounted, once, and asks again when it failed or is stale", async () => {
    useTestConfig();
    let n = 0;
    let fail = false;
    const { calls } = mockFetch({
      "GET /sla/api/v1/at-risk": (url) => {
        if (fail) return json({ title: "down" }, 503);
        const limit = Number(url.searchParams.get("limit"));
        const items = Array.from({ length: limit }, () => ({ timer_id: `t${n++}` }));
        return json({ items, next_cursor: n < 600 ? `c${n}` : null });
      },
    });
    const limits = () => calls.map((c) => Number(c.url.searchParams.get("limit")));
    const settled = prefetchFirstPage();
    expect(limits()).toEqual([FIRST_PAGE_ROWS]); // asked at once, before anything takes it
    expect(arrivedFirstPage()).toBeUndefined(); // not here yet
    await settled; // main.tsx renders once it is here: the first render shows it
    expect(arrivedFirstPage()?.items).toHaveLength(FIRST_PAGE_ROWS);
    expect(arrivedFirstPage(Date.now() + PREFETCH_MAX_AGE_MS)).toBeUndefined(); // too old
    const pages: number[] = [];
    const rows = await fetchAtRisk(new AbortController().signal, 10000, (items) => pages.push(items.length), takePrefetched());
    expect(rows).toHaveLength(600);
    expect(limits()).toEqual([FIRST_PAGE_ROWS, PAGE_ROWS]); // the prefetched page was not asked twice
    expect(pages).toEqual([FIRST_PAGE_ROWS]);
    expect(calls[1]?.url.searchParams.get("cursor")).toBe(`c${FIRST_PAGE_ROWS}`);
    expect(takePrefetched()).toBeUndefined(); // once
    expect(arrivedFirstPage()).toBeUndefined();

    fail = true;
    const failing = prefetchFirstPage();
    const failed = takePrefetched();
    await expect(failing).resolves.toBeUndefined(); // a failed prefetch does not hold up the first render
    fail = false;
    n = 0;
    expect(await fetchAtRisk(new AbortController().signal, 10000, undefined, failed)).toHaveLength(600);
    expect(limits().slice(2)).toEqual([FIRST_PAGE_ROWS, FIRST_PAGE_ROWS, PAGE_ROWS]); // failed, then asked again

    prefetchFirstPage(Date.now() - PREFETCH_MAX_AGE_MS - 1);
    expect(takePrefetched()).toBeUndefined(); // too old: the board asks afresh
  });
});
