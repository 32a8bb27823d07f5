// SLA board: live list of at-risk and breached node timers (virtualized), over the SLA stream. The
// countdown is the server's (business time where the rule counts working hours, holidays known).
import { useEffect, useMemo, useReducer, useRef, useState } from "react";
import { Link } from "react-router";
import { useVirtualizer } from "@tanstack/react-virtual";
import { serviceUrl } from "../api/client";
import { openStream, type StreamState } from "../api/sse";
import type { FeedEvent } from "../api/types";
import { currentSession } from "../auth/session";
import { arrivedFirstPage, fetchAtRisk, takePrefetched } from "../board/data";
import {
  boardReducer, emptyBoard, facet, noFilters, secondsLeft, visibleRows, type BoardFilters, type BoardRow, type Sort,
} from "../board/model";
import { Badge, ErrorBox } from "../components/common";
import { useI18n, type Translate, type Lang } from "../i18n";
import { useNow } from "../lib/hooks";
import { useLabels } from "../lib/labels";
import { useProducts } from "../lib/products";
import { formatDateTime, formatDuration } from "../lib/time";

const SNAPSHOT_EVERY_MS = 30000;
const CURSOR_KEY = "console.board.cursor";
const CURSOR_MAX_AGE_MS = 10 * 60 * 1000;
const CUE_MS = 15000;
const ROW_HEIGHT = 36;

function storedCursor(): string | null {
  try {
    const raw = sessionStorage.getItem(CURSOR_KEY);
    if (!raw) return null;
    const { id, at } = JSON.parse(raw) as { id: string; at: number };
    return Date.now() - at < CURSOR_MAX_AGE_MS ? id : null;
  } catch {
    return null;
  }
}

export function TimeLeft({ seconds, business, running = true, t, lang }: {
  seconds: number; business: boolean; running?: boolean; t: Translate; lang: Lang;
}) {
  const text = seconds < 0 ? t("time.overdue", { d: formatDuration(-seconds, lang) }) : formatDuration(seconds, lang);
  return (
    <span className={seconds < 0 ? "overdue" : seconds < 300 ? "soon" : ""} title={t(business ? "time.business" : "time.wall")}
      data-running={running ? "yes" : "no"}>
      {text}{business && <small className="muted"> ({t(running ? "time.business" : "time.stopped")})</small>}
    </span>
  );
}

function streamLabel(s: StreamState, t: Translate): { text: string; kind: string } {
  switch (s.kind) {
    case "open": return { text: t("board.live"), kind: "ok" };
    case "connecting": return { text: t("board.connecting"), kind: "warn" };
    case "reconnecting": return { text: t("board.reconnecting"), kind: "bad" };
    case "denied": return { text: t("board.streamDenied", { status: s.status }), kind: "bad" };
    case "closed": return { text: t("board.reconnecting"), kind: "bad" };
  }
}

export default function Board() {
  const { t, lang } = useI18n();
  const labels = useLabels();
  const { name: productName } = useProducts();
  // the first page asked before React mounted (main.tsx), when it is already here: in the first render
  const [board, dispatch] = useReducer(boardReducer, undefined, () => {
    const first = arrivedFirstPage();
    const now = Date.now();
    return first
      ? boardReducer(emptyBoard(), { type: "snapshot", items: first.items, startedAt: now, now, partial: true })
      : emptyBoard();
  });
  const [stream, setStream] = useState<StreamState>({ kind: "connecting" });
  const [snapshotError, setSnapshotError] = useState<unknown>(null);
  const [filters, setFilters] = useState<BoardFilters>(noFilters);
  const [sort, setSort] = useState<Sort>("asc");
  const now = useNow(1000);

  // the at-risk snapshot, refreshed (new timers appear, completed ones go)
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      const startedAt = Date.now();
      try {
        const items = await fetchAtRisk(controller.signal, undefined, (page) =>
          dispatch({ type: "snapshot", items: page, startedAt, now: Date.now(), partial: true }), takePrefetched());
        dispatch({ type: "snapshot", items, startedAt, now: Date.now() });
        setSnapshotError(null);
      } catch (e) {
        if (!controller.signal.aborted) setSnapshotError(e);
      }
      if (!controller.signal.aborted) timer = setTimeout(() => void load(), SNAPSHOT_EVERY_MS);
    };
    void load();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, []);

  // the live feed (timers started, alerts, completions, cancellations), batched so a burst costs one render
  useEffect(() => {
    let pending: FeedEvent[] = [];
    let flush: ReturnType<typeof setTimeout> | undefined;
    const handle = openStream({
      url: serviceUrl("sla", "/api/v1/stream"),
      headers: (): Record<string, string> => {
        const s = currentSession();
        return s ? { Authorization: `Bearer ${s.token}` } : {};
      },
      lastEventId: storedCursor(),
      onState: setStream,
      onCursor: (id) => sessionStorage.setItem(CURSOR_KEY, JSON.stringify({ id, at: Date.now() })),
      onMessage: (msg) => {
        try {
          pending.push(JSON.parse(msg.data) as FeedEvent);
        } catch {
          return;
        }
        flush ??= setTimeout(() => {
          const events = pending;
          pending = [];
          flush = undefined;
          const at = Date.now();
          const live = events.filter((e) => at - Date.parse(e.fired_at) < 60000);
          const old = events.filter((e) => at - Date.parse(e.fired_at) >= 60000);
          if (old.length) dispatch({ type: "feed", events: old, now: at, live: false });
          if (live.length) dispatch({ type: "feed", events: live, now: at, live: true });
        }, 50);
      },
    });
    return () => {
      handle.close();
      clearTimeout(flush);
    };
  }, []);

  const rows = useMemo(() => visibleRows(board.rows.values(), filters, sort), [board.rows, filters, sort]);
  const facets = useMemo(() => ({
    tier: facet(board.rows.values(), (r) => r.tier),
    businessType: facet(board.rows.values(), (r) => r.businessType),
    node: facet(board.rows.values(), (r) => r.node),
    role: facet(board.rows.values(), (r) => r.role),
    region: facet(board.rows.values(), (r) => r.customerRegion),
  }), [board.rows]);

  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
    initialRect: { width: 1200, height: 600 },
  });

  const status = streamLabel(stream, t);
  const set = (k: keyof BoardFilters) => (e: { target: { value: string } }) =>
    setFilters((f) => ({ ...f, [k]: e.target.value }));
  const select = (k: "tier" | "businessType" | "node" | "role" | "region", label: string, values: string[],
    show: (v: string) => string) => (
    <label>
      {label}
      <select value={filters[k]} onChange={set(k)} data-filter={k}>
        <option value="">{t("app.all")}</option>
        {values.map((v) => <option key={v} value={v}>{show(v)}</option>)}
      </select>
    </label>
  );

  return (
    <div className="board">
      <div className="page-head">
        <h1>{t("board.title")}</h1>
        <span className="muted">{t("board.subtitle")}</span>
        <span className={`stream stream-${status.kind}`} role="status" aria-live="polite" data-stream={stream.kind}>
          {status.text}
        </span>
        {board.lastEventAt && <span className="muted small">{t("board.lastEvent", { at: formatDateTime(board.lastEventAt, lang) })}</span>}
      </div>
      {board.unseenBreaches > 0 && (
        <div className="breach-cue" role="alert">
          {t("board.newBreaches", { n: board.unseenBreaches })}
          <button type="button" onClick={() => dispatch({ type: "ack" })}>{t("board.ackBreaches")}</button>
        </div>
      )}
      {snapshotError !== null && (
        <div><strong>{t("board.snapshotFailed")}</strong><ErrorBox error={snapshotError} /></div>
      )}
      <fieldset className="filters">
        <legend>{t("board.filters")}</legend>
        {select("tier", t("board.filter.tier"), facets.tier, (v) => t(`tier.${v as "A"}`))}
        {select("businessType", t("board.filter.businessType"), facets.businessType,
          (v) => labels.businessType(v, productName))}
        {select("node", t("board.filter.node"), facets.node, labels.node)}
        {select("role", t("board.filter.role"), facets.role, labels.role)}
        {select("region", t("board.filter.region"), facets.region, (v) => v)}
        <label>
          {t("board.filter.state")}
          <select value={filters.state} onChange={set("state")} data-filter="state">
            <option value="">{t("app.all")}</option>
            <option value="at_risk">{t("state.warned")} / {t("state.running")}</option>
            <option value="breached">{t("state.breached")} / {t("state.escalated")}</option>
          </select>
        </label>
        <label>
          {t("board.filter.search")}
          <input type="search" value={filters.search} onChange={set("search")} />
        </label>
        <label>
          {t("board.sort")}
          <select value={sort} onChange={(e) => setSort(e.target.value as Sort)} data-filter="sort">
            <option value="asc">{t("board.sortAsc")}</option>
            <option value="desc">{t("board.sortDesc")}</option>
          </select>
        </label>
        <button type="button" onClick={() => setFilters(noFilters)}>{t("board.filter.clear")}</button>
      </fieldset>
      <div className="muted small" data-testid="row-count">{t("board.rows", { shown: rows.length, total: board.rows.size })}</div>
      <div className="vtable" role="table" aria-rowcount={rows.length + 1}>
        <div className="vrow vhead" role="row">
          {(["timeLeft", "tier", "businessType", "node", "role", "assignee", "escalation", "ticket", "customer", "deadline"] as const)
            .map((c) => <div key={c} role="columnheader" className={`c-${c}`}>{t(`board.col.${c}`)}</div>)}
        </div>
        <div ref={scrollRef} className="vscroll" data-testid="board-scroll">
          {rows.length === 0 && <p className="muted pad">{t("board.empty")}</p>}
          <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
            {virtualizer.getVirtualItems().map((v) => {
              const r = rows[v.index] as BoardRow;
              const left = secondsLeft(r, now);
              const fresh = r.breachedAt !== null && now - r.breachedAt < CUE_MS;
              return (
                <div key={r.timerId} role="row" data-timer={r.timerId} data-state={r.state}
                  className={`vrow state-${r.state}${fresh ? " fresh-breach" : ""}`}
                  style={{ position: "absolute", top: 0, transform: `translateY(${v.start}px)`, height: ROW_HEIGHT }}>
                  <div role="cell" className="c-timeLeft">
                    <TimeLeft seconds={left} business={r.clock === "working"} running={r.countdown.running} t={t} lang={lang} />
                  </div>
                  <div role="cell" className="c-tier"><Badge kind={`tier-${r.tier}`}>{r.tier}</Badge></div>
                  <div role="cell" className="c-businessType">{labels.businessType(r.businessType, productName)}</div>
                  <div role="cell" className="c-node">{labels.node(r.node)}</div>
                  <div role="cell" className="c-role">{labels.role(r.role)}</div>
                  <div role="cell" className="c-assignee">{r.assignee ?? <span className="muted">{t("board.unassigned")}</span>}</div>
                  <div role="cell" className="c-escalation">
                    <Badge kind={r.state}>{labels.state(r.state)}</Badge>
                    {r.escalationLevel > 0 && ` ${t("board.escalationLevel", { n: r.escalationLevel })}`}
                  </div>
                  <div role="cell" className="c-ticket"><Link to={`/tickets/${r.ticketId}`}>{r.ticketId}</Link></div>
                  <div role="cell" className="c-customer" title={r.customerId}>
                    {r.customerName}
                  </div>
                  <div role="cell" className="c-deadline">{formatDateTime(r.deadline, lang)}</div>
                </div>
              );
            })}
          </div>
        </div>
      </div>
    </div>
  );
}
