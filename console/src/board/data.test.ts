import { afterEach, describe, expect, it, vi } from "vitest";
import { json, mockFetch, useTestConfig } from "../test/helpers";
import { FIRST_PAGE_ROWS, PAGE_ROWS, fetchAtRisk } from "./data";

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
});
