import { describe, expect, it } from "vitest";
import { csvFilename, daysOf, lastDays, minutesOrNull, pct, perDay, volumesPerDay } from "./stats";

describe("statistics data shaping", () => {
  it("takes the last n local days, Asia/Shanghai", () => {
    // 2026-03-01 17:00 UTC is already 2 March 01:00 in Shanghai
    const now = Date.parse("2026-03-01T17:00:00Z");
    expect(lastDays(1, now)).toEqual({ from: "2026-03-02", to: "2026-03-02" });
    expect(lastDays(7, now)).toEqual({ from: "2026-02-24", to: "2026-03-02" });
  });

  it("lists the days of a period, both ends included, across a month end", () => {
    expect(daysOf({ from: "2026-02-27", to: "2026-03-02" })).toEqual(["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"]);
    expect(daysOf({ from: "2026-03-02", to: "2026-03-01" })).toEqual([]);
    expect(daysOf({ from: "x", to: "2026-03-01" })).toEqual([]);
  });

  it("sums the rows per day and fills the quiet days with zero", () => {
    const range = { from: "2026-03-01", to: "2026-03-03" };
    const rows = [{ day: "2026-03-01", n: 2 }, { day: "2026-03-03", n: 1 }, { day: "2026-03-01", n: 3 }, { day: null, n: 9 },
      { day: "2026-02-28", n: 4 }];
    expect(perDay(range, rows, (r) => r.n)).toEqual([5, 0, 1]);
  });

  it("aligns orders, items and complaints on the same days", () => {
    const v = volumesPerDay({ from: "2026-03-01", to: "2026-03-02" },
      [{ day: "2026-03-02", orders: 2, items: 5 }], [{ day: "2026-03-01", complaints: 1 }]);
    expect(v).toEqual({ days: ["2026-03-01", "2026-03-02"], orders: [0, 2], items: [0, 5], complaints: [1, 0] });
  });

  it("formats minutes and percentages, keeping 'nothing measured' apart from zero", () => {
    expect(minutesOrNull(90)).toBe(1.5);
    expect(minutesOrNull(0)).toBe(0);
    expect(minutesOrNull(null)).toBeNull();
    expect(pct(87.5)).toBe("87.5 %");
    expect(pct(0)).toBe("0 %");
    expect(pct(null)).toBe("—");
  });

  it("names a download after the server's Content-Disposition", () => {
    expect(csvFilename('attachment; filename="timeliness-department.csv"', "x.csv")).toBe("timeliness-department.csv");
    expect(csvFilename(null, "x.csv")).toBe("x.csv");
  });
});
