// Times are shown in Asia/Shanghai whatever the browser's zone; durations as countdowns.
//
// China Standard Time is UTC+08:00 all year and has been since 1991 (no daylight saving since), so a
// Shanghai wall time is the UTC one eight hours on: plain arithmetic, exact for every instant this
// suite records (src/lib/time.test.ts checks it against the browser's time-zone database). No
// Intl.DateTimeFormat on the board's first render: building one for Asia/Shanghai loads ICU's zone and
// locale data, 30-120 ms of the main thread on a cold page (issue 10's first-render target).
import type { Lang } from "../i18n";

export const TZ = "Asia/Shanghai";
const SHANGHAI_OFFSET_MS = 8 * 3600 * 1000;

function toMs(v: string | number | Date): number {
  return typeof v === "number" ? v : typeof v === "string" ? Date.parse(v) : v.getTime();
}

/** "YYYY-MM-DDTHH:MM:SS" in Shanghai, or null for what is not an instant. */
function shanghaiIso(v: string | number | Date): string | null {
  const shifted = new Date(toMs(v) + SHANGHAI_OFFSET_MS);
  const ms = shifted.getTime();
  return Number.isNaN(ms) ? null : shifted.toISOString().slice(0, 19);
}

/** 2025-11-26 14:03:05 in Shanghai (numeric: the same in both languages, so `lang` changes nothing). */
export function formatDateTime(v: string | number | Date | null | undefined, _lang?: Lang): string {
  if (v === null || v === undefined) return "—";
  const iso = shanghaiIso(v);
  return iso === null ? "—" : iso.replace("T", " ");
}

/** The Shanghai calendar date (YYYY-MM-DD) of an instant. */
export function shanghaiDate(v: string | number | Date): string {
  return formatDateTime(v).slice(0, 10);
}

/** A Shanghai wall time "YYYY-MM-DDTHH:MM" (an <input type=datetime-local> value) → RFC 3339. */
export function shanghaiInputToIso(value: string): string {
  return `${value.length === 16 ? `${value}:00` : value}+08:00`;
}

export function isoToShanghaiInput(v: string | number | Date): string {
  return formatDateTime(v).slice(0, 16).replace(" ", "T");
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
