import { describe, expect, it } from "vitest";
import { formatDateTime, isoToShanghaiInput, shanghaiDate } from "./time";

const shanghai = new Intl.DateTimeFormat("en", {
  timeZone: "Asia/Shanghai", hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit",
});

/** What the time-zone database says the Shanghai wall time of an instant is. */
function byIntl(ms: number): string {
  const parts = shanghai.formatToParts(ms);
  const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

describe("Shanghai wall time by arithmetic", () => {
  it("agrees with the time-zone database on instants from 1992 to 2100", () => {
    const from = Date.UTC(1992, 0, 1), to = Date.UTC(2100, 0, 1);
    let seed = 20261202;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const instants = Array.from({ length: 2000 }, () => Math.floor(from + random() * (to - from)));
    // day and year boundaries in Shanghai and in UTC, leap days
    instants.push(Date.UTC(2025, 11, 31, 16, 0, 0), Date.UTC(2025, 11, 31, 15, 59, 59), Date.UTC(2024, 1, 28, 16),
      Date.UTC(2026, 9, 1, 0, 0, 0), Date.UTC(2026, 0, 1, 0, 0, 0) - 1);
    for (const ms of instants) expect(formatDateTime(ms, "zh-CN")).toBe(byIntl(ms));
  });

  it("reads ISO strings with any offset and Dates, and says — for what is not an instant", () => {
    expect(formatDateTime("2025-11-26T06:03:05Z", "en")).toBe("2025-11-26 14:03:05");
    expect(formatDateTime("2025-11-26T23:30:00+08:00", "zh-CN")).toBe("2025-11-26 23:30:00");
    expect(formatDateTime(new Date(Date.UTC(2025, 11, 31, 16)), "en")).toBe("2026-01-01 00:00:00");
    expect(formatDateTime(null, "en")).toBe("—");
    expect(formatDateTime(undefined, "en")).toBe("—");
    expect(formatDateTime("not a date", "en")).toBe("—");
    expect(formatDateTime(8.64e15, "en")).toBe("—");
    expect(shanghaiDate("2025-11-26T16:00:00Z")).toBe("2025-11-27");
    expect(isoToShanghaiInput("2025-11-26T06:03:05Z")).toBe("2025-11-26T14:03");
  });
});
