// Times are shown in Asia/Shanghai whatever the browser's zone; durations as countdowns.
import type { Lang } from "../i18n";

export const TZ = "Asia/Shanghai";
const formatters = new Map<string, Intl.DateTimeFormat>();

function fmt(lang: Lang, opts: Intl.DateTimeFormatOptions, key: string): Intl.DateTimeFormat {
  const k = `${lang}|${key}`;
  let f = formatters.get(k);
  if (!f) {
    f = new Intl.DateTimeFormat(lang, { timeZone: TZ, hourCycle: "h23", ...opts });
    formatters.set(k, f);
  }
  return f;
}

function toMs(v: string | number | Date): number {
  return typeof v === "number" ? v : typeof v === "string" ? Date.parse(v) : v.getTime();
}

/** 2025-11-26 14:03:05 in Shanghai (numeric, so the same shape in both languages). */
export function formatDateTime(v: string | number | Date | null | undefined, lang: Lang): string {
  if (v === null || v === undefined) return "—";
  const ms = toMs(v);
  if (Number.isNaN(ms)) return "—";
  const parts = fmt(lang, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  }, "dt").formatToParts(ms);
  const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

export function formatTime(v: string | number | Date, lang: Lang): string {
  return fmt(lang, { hour: "2-digit", minute: "2-digit", second: "2-digit" }, "t").format(toMs(v));
}

/** The Shanghai calendar date (YYYY-MM-DD) of an instant. */
export function shanghaiDate(v: string | number | Date): string {
  return formatDateTime(v, "en").slice(0, 10);
}

/** A Shanghai wall time "YYYY-MM-DDTHH:MM" (an <input type=datetime-local> value) → RFC 3339. */
export function shanghaiInputToIso(value: string): string {
  return `${value.length === 16 ? `${value}:00` : value}+08:00`;
}

export function isoToShanghaiInput(v: string | number | Date): string {
  return formatDateTime(v, "en").slice(0, 16).replace(" ", "T");
}

const pad = (n: number) => String(n).padStart(2, "0");

/** Seconds → "2d 03:04:05" / "03:04:05" / "04:05" (the sign is the caller's business). */
export function formatDuration(seconds: number, lang: Lang): string {
  let s = Math.floor(Math.abs(seconds));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const clock = h > 0 || d > 0 ? `${pad(h)}:${pad(m)}:${pad(s)}` : `${pad(m)}:${pad(s)}`;
  if (d === 0) return clock;
  return lang === "zh-CN" ? `${d}天 ${clock}` : `${d}d ${clock}`;
}

/** Minutes, one decimal (reports). */
export function minutes(seconds: number): number {
  return Math.round((seconds / 60) * 10) / 10;
}
