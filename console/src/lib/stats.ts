// Data shaping for the statistics screen (services/stats, docs/stats.md): the period of local days
// (Asia/Shanghai) the API takes, the volumes per day with the days nothing happened filled in, and the
// filename a downloaded CSV gets. Pure: unit-tested in stats.test.ts.
import { shanghaiDate } from "./time";

export interface DayRange {
  /** first local day, YYYY-MM-DD (included) */
  from: string;
  /** last local day, YYYY-MM-DD (included) */
  to: string;
}

const DAY_MS = 86400000;

/** The `days` local days up to and including today's (the API's default is 30). */
export function lastDays(days: number, now: number = Date.now()): DayRange {
  return { from: shanghaiDate(now - (days - 1) * DAY_MS), to: shanghaiDate(now) };
}

/** Every day from `from` to `to`, both included (calendar days: no time zone arithmetic). */
export function daysOf(range: DayRange): string[] {
  const start = Date.parse(`${range.from}T00:00:00Z`);
  const end = Date.parse(`${range.to}T00:00:00Z`);
  if (Number.isNaN(start) || Number.isNaN(end) || end < start) return [];
  const out: string[] = [];
  for (let t = start; t <= end && out.length <= 366; t += DAY_MS) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

export interface DayCount {
  day?: string | null;
}

/** Sum a count per day over the rows of a `group_by=day` answer, zero on the days the API has no row for. */
export function perDay<R extends DayCount>(range: DayRange, rows: readonly R[], count: (r: R) => number): number[] {
  const sums = new Map<string, number>();
  for (const r of rows) if (r.day) sums.set(r.day, (sums.get(r.day) ?? 0) + count(r));
  return daysOf(range).map((d) => sums.get(d) ?? 0);
}

export interface Volumes {
  days: string[];
  orders: number[];
  items: number[];
  complaints: number[];
}

/** Orders, items and complaints per local day of the period (the chart's series, aligned on `days`). */
export function volumesPerDay(
  range: DayRange,
  orders: readonly { day?: string | null; orders: number; items: number }[],
  complaints: readonly { day?: string | null; complaints: number }[],
): Volumes {
  return {
    days: daysOf(range),
    orders: perDay(range, orders, (r) => r.orders),
    items: perDay(range, orders, (r) => r.items),
    complaints: perDay(range, complaints, (r) => r.complaints),
  };
}

/** Seconds → minutes, one decimal; null (nothing measured) stays null. */
export function minutesOrNull(seconds: number | null | undefined): number | null {
  return seconds === null || seconds === undefined ? null : Math.round((seconds / 60) * 10) / 10;
}

/** A percentage for a table cell: "87.5 %", or "—" when there was nothing to judge. */
export function pct(v: number | null | undefined): string {
  return v === null || v === undefined ? "—" : `${v} %`;
}

/** The file name of a downloaded table: the server's Content-Disposition name, else one made up. */
export function csvFilename(disposition: string | null, fallback: string): string {
  const m = disposition ? /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition) : null;
  return m?.[1] ? decodeURIComponent(m[1]) : fallback;
}
