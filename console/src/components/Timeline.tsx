// An order's or complaint's timeline: its own status history and every ticket event the CRM
// received (the ticket trail), in time order.
import { Link } from "react-router";
import type { CrmTicket } from "../api/types";
import { useI18n } from "../i18n";
import { useLabels } from "../lib/labels";
import { formatDateTime } from "../lib/time";

export interface TimelineEntry {
  at: string;
  kind: "status" | "ticket";
  text: string;
  by?: string;
  reason?: string;
  ticketId?: string;
}

type HistoryItem = { from?: string | null; to?: string; action?: string; by?: string; at?: string; reason?: string };
type TrailItem = { event?: string; at?: string; state?: string; node?: string; reason?: string };

export function useTimeline(history: Record<string, unknown>[], tickets: CrmTicket[]): TimelineEntry[] {
  const { t, tv } = useI18n();
  const labels = useLabels();
  const out: TimelineEntry[] = [];
  for (const h of history as HistoryItem[]) {
    if (!h.at) continue;
    out.push({
      at: h.at, kind: "status", by: h.by, reason: h.reason,
      text: t("order.statusChange", { from: labels.state(h.from ?? null), to: labels.state(h.to ?? null), action: tv("lifecycle", h.action) }),
    });
  }
  for (const tk of tickets) {
    for (const e of tk.trail as TrailItem[]) {
      if (!e.at) continue;
      const bits = [tv("event", e.event), e.node ? labels.node(e.node) : null, e.state ? labels.state(e.state) : null];
      out.push({
        at: e.at, kind: "ticket", ticketId: tk.ticket_id, reason: e.reason,
        text: `${labels.ticketKind(tk.ticket_kind)}: ${bits.filter(Boolean).join(" · ")}`,
      });
    }
  }
  return out.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}

export function Timeline({ entries }: { entries: TimelineEntry[] }) {
  const { t, lang } = useI18n();
  return (
    <ol className="timeline">
      {entries.map((e, i) => (
        <li key={i} className={`tl-${e.kind}`}>
          <time dateTime={e.at}>{formatDateTime(e.at, lang)}</time>
          <span>{e.text}</span>
          {e.ticketId && <Link to={`/tickets/${e.ticketId}`}>{e.ticketId}</Link>}
          {e.by && <span className="muted small">{t("order.by", { by: e.by })}</span>}
          {e.reason && <span className="muted small">{e.reason}</span>}
        </li>
      ))}
    </ol>
  );
}

export function TicketsTable({ tickets }: { tickets: CrmTicket[] }) {
  const { t, lang } = useI18n();
  const labels = useLabels();
  return (
    <table className="table">
      <thead>
        <tr><th>{t("queue.col.ticket")}</th><th>{t("ticket.kind")}</th><th>{t("ticket.col.state")}</th><th>{t("ticket.currentNode")}</th><th>{t("wb.risk")}</th><th>{t("ticket.col.at")}</th></tr>
      </thead>
      <tbody>
        {tickets.map((tk) => (
          <tr key={tk.ticket_id}>
            <td><Link to={`/tickets/${tk.ticket_id}`}>{tk.ticket_id}</Link></td>
            <td>{labels.ticketKind(tk.ticket_kind)}</td>
            <td>{labels.state(tk.state)}</td>
            <td>{labels.node(tk.node)}</td>
            <td>{tk.sla ? `${t(`wb.risk.${tk.sla.level as "warning"}`)} · ${formatDateTime(tk.sla.deadline, lang)}` : t("wb.risk.none")}</td>
            <td>{formatDateTime(tk.updated_at, lang)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
