// Business time as the SLA service counts it (sla/domain/calendar.py): working periods of a
// calendar, per local date, in the calendar's time zone. Used to count a timer down in business
// time when its rule uses `clock: working`. Statutory Chinese holidays (`holidays: cn`) are not
// known here (the server's chinese_calendar data): see docs/console.md, API gaps.

export interface CalendarSpec {
  name: string;
  tz?: string;
  hours?: string[];
  weekday_hours?: Partial<Record<Weekday, string[]>>;
  weekend?: Weekday[];
  holidays?: string;
  extra_holidays?: string[];
  extra_workdays?: string[];
}

export type Weekday = "mon" | "tue" | "wed" | "thu" | "fri" | "sat" | "sun";
const WEEKDAYS: Weekday[] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]; // Date.getUTCDay order

const offsetFormatters = new Map<string, Intl.DateTimeFormat>();

/** Offset of `tz` at instant `ms`, in ms (local = utc + offset). */
export function tzOffset(ms: number, tz: string): number {
  let f = offsetFormatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
      hour: "numeric", minute: "numeric", second: "numeric",
    });
    offsetFormatters.set(tz, f);
  }
  const p: Record<string, number> = {};
  for (const x of f.formatToParts(ms)) if (x.type !== "literal") p[x.type] = Number(x.value);
  const asUtc = Date.UTC(p.year ?? 1970, (p.month ?? 1) - 1, p.day ?? 1, p.hour ?? 0, p.minute ?? 0, p.second ?? 0);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/** The UTC instant of a local wall time (a "day number" = days since 1970-01-01 local). */
function localToUtc(day: number, minute: number, tz: string): number {
  const guess = day * 86400000 + minute * 60000;
  const first = guess - tzOffset(guess, tz);
  return guess - tzOffset(first, tz);
}

function localDay(ms: number, tz: string): number {
  return Math.floor((ms + tzOffset(ms, tz)) / 86400000);
}

function parseRange(r: string): [number, number] {
  const m = /^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$/.exec(r.trim());
  if (!m) throw new Error(`bad hours range ${r}`);
  return [Number(m[1]) * 60 + Number(m[2]), Number(m[3]) * 60 + Number(m[4])];
}

function isoDay(day: number): string {
  return new Date(day * 86400000).toISOString().slice(0, 10);
}

export function isWorkday(spec: CalendarSpec, day: number): boolean {
  const iso = isoDay(day);
  if (spec.extra_workdays?.includes(iso)) return true;
  if (spec.extra_holidays?.includes(iso)) return false;
  const wd = WEEKDAYS[new Date(day * 86400000).getUTCDay()] as Weekday;
  return !(spec.weekend ?? ["sat", "sun"]).includes(wd);
}

/** Working periods of one local day as UTC [start, end) pairs (ms). */
export function periodsOn(spec: CalendarSpec, day: number): [number, number][] {
  if (!isWorkday(spec, day)) return [];
  const tz = spec.tz ?? "Asia/Shanghai";
  const wd = WEEKDAYS[new Date(day * 86400000).getUTCDay()] as Weekday;
  const ranges = spec.weekday_hours?.[wd] ?? spec.hours ?? ["09:00-18:00"];
  return ranges.map(parseRange).map(([a, b]) => [localToUtc(day, a, tz), localToUtc(day, b, tz)]);
}

/** Business seconds between two instants: positive when `to` is after `from`, negative otherwise. */
export function businessSecondsBetween(spec: CalendarSpec, fromMs: number, toMs: number): number {
  if (toMs < fromMs) return -businessSecondsBetween(spec, toMs, fromMs);
  const tz = spec.tz ?? "Asia/Shanghai";
  let total = 0;
  const last = localDay(toMs, tz);
  for (let day = localDay(fromMs, tz); day <= last; day += 1) {
    for (const [a, b] of periodsOn(spec, day)) {
      const lo = Math.max(a, fromMs);
      const hi = Math.min(b, toMs);
      if (hi > lo) total += hi - lo;
    }
  }
  return total / 1000;
}
