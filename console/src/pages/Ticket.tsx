// Ticket drill-down: TMF621 status, the workflow graph with the current node, node history,
// SLA timers per node, notifications sent for it, and the originating order or complaint.
import { useState } from "react";
import { Link, useParams } from "react-router";
import { api, isApiError } from "../api/client";
import type { Delivery, Ticket, Timer } from "../api/types";
import { ActionDialog } from "../components/ActionDialog";
import { Badge, ErrorBox, Gap, Loading, Section } from "../components/common";
import { ticketFromVisits, WorkflowGraph } from "../components/WorkflowGraph";
import { useI18n } from "../i18n";
import type { MessageKey } from "../i18n/zh-CN";
import { useAsync } from "../lib/hooks";
import { useLabels } from "../lib/labels";
import { useProducts } from "../lib/products";
import { formatDateTime, formatDuration } from "../lib/time";
import { fetchWorkflow } from "../lib/workflow";

async function optional<T>(p: Promise<T>): Promise<T | "denied"> {
  try {
    return await p;
  } catch (e) {
    if (isApiError(e, 403)) return "denied";
    throw e;
  }
}

export default function TicketPage() {
  const { id = "" } = useParams();
  const { t, lang, tv } = useI18n();
  const labels = useLabels();
  const { name: productName } = useProducts();
  const [dialog, setDialog] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);

  const ticket = useAsync(async (signal) => {
    const tk: Ticket = await api.get("eoms", "/api/v1/tickets/{ticket_id}", { path: { ticket_id: id }, signal });
    const [definition, tmf] = await Promise.all([
      fetchWorkflow(tk.workflow_id, tk.workflow_version).catch(() => null),
      api.get("eoms", "/tmf-api/troubleTicket/v4/troubleTicket/{ticket_id}", { path: { ticket_id: id }, signal }).catch(() => null),
    ]);
    return { ticket: tk, definition, tmfStatus: tmf?.status ?? null };
  }, [id]);
  const timers = useAsync((signal) => optional(api.get("sla", "/api/v1/timers", { query: { ticket_id: id }, signal })), [id]);
  const deliveries = useAsync((signal) => optional(api.get("notify", "/api/v1/deliveries", { query: { ticket_id: id, limit: 100 }, signal })), [id]);

  if (ticket.loading && !ticket.data) return <Loading />;
  if (ticket.error) return <ErrorBox error={ticket.error} onRetry={ticket.reload} />;
  if (!ticket.data) return null;
  const { ticket: tk, definition, tmfStatus } = ticket.data;
  const wfTicket = definition?.tickets.find((x) => x.kind === tk.kind)
    ?? ticketFromVisits(tk.kind, tk.nodes);
  const visited = tk.nodes.map((n) => n.node);
  const mayAct = tk.allowed_actions.length > 0; // for this caller, as the bridge's domain decides

  return (
    <div>
      <div className="page-head">
        <h1>{t("ticket.title", { id: tk.id })}</h1>
        <Badge kind={tk.state}>{labels.state(tk.state)}</Badge>
        {mayAct && <button type="button" className="primary" onClick={() => setDialog(true)}>{t("queue.act")}</button>}
      </div>
      {notice && <p className="ok" role="status">{notice}</p>}
      <dl className="facts">
        <dt>{t("ticket.status")}</dt><dd>{tmfStatus ? labels.state(tmfStatus) : "—"}</dd>
        <dt>{t("ticket.kind")}</dt><dd>{labels.ticketKind(tk.kind)}</dd>
        <dt>{t("ticket.businessType")}</dt><dd>{labels.businessType(tk.business_type, productName)}</dd>
        {tk.description && <><dt>{t("complaint.description")}</dt><dd>{tk.description}</dd></>}
        {tk.severity && <><dt>{t("complaint.severity")}</dt><dd>{tv("severity", tk.severity)}</dd></>}
        <dt>{t("ticket.customer")}</dt><dd>{tk.customer_name} <Badge kind={`tier-${tk.customer_tier}`}>{tk.customer_tier}</Badge></dd>
        <dt>{t("ticket.currentNode")}</dt>
        <dd>{labels.text(tk.current_node_title, labels.node(tk.current_node))} ({labels.role(tk.current_role)})</dd>
        {tk.customer_region && <><dt>{t("ticket.region")}</dt><dd>{tk.customer_region}</dd></>}
        <dt>{t("ticket.assignee")}</dt><dd>{tk.assignee ?? t("board.unassigned")}</dd>
        <dt>{t("ticket.workflow")}</dt><dd>{tk.workflow_id} v{tk.workflow_version}</dd>
        <dt>{t("ticket.origin")}</dt>
        <dd>
          <Link to={tk.origin === "complaint" ? `/complaints/${tk.origin_id}` : `/orders/${tk.origin_id}`}>
            {t(tk.origin === "complaint" ? "ticket.openComplaint" : "ticket.openOrder", { id: tk.origin_id })}
          </Link>
        </dd>
        <dt>{t("ticket.allowed", { actions: "" })}</dt>
        <dd>{tk.allowed_actions.map((a) => tv("action", a)).join(", ") || "—"}</dd>
      </dl>

      <Section title={t("ticket.graph")}>
        {!definition && <Gap>{t("ticket.workflowDenied")}</Gap>}
        <WorkflowGraph ticket={wfTicket} current={tk.current_node} visited={visited} />
      </Section>

      <Section title={t("ticket.history")}>
        <table className="table">
          <thead>
            <tr>
              {(["node", "role", "enteredAt", "acceptedAt", "leftAt", "who", "outcome", "reason"] as const)
                .map((c) => <th key={c}>{t(`ticket.col.${c}`)}</th>)}
            </tr>
          </thead>
          <tbody>
            {tk.nodes.map((v, i) => (
              <tr key={i} className={v.left_at ? "" : "current-row"}>
                <td>{labels.text(v.title, labels.node(v.node))}</td>
                <td>{labels.role(v.role)}</td>
                <td>{formatDateTime(v.entered_at, lang)}</td>
                <td>{formatDateTime(v.accepted_at, lang)}</td>
                <td>{formatDateTime(v.left_at, lang)}</td>
                <td>{v.left_by ?? v.assignee ?? "—"}</td>
                <td>{v.outcome ? labels.outcome(v.outcome) : "—"}</td>
                <td>{v.reason ?? "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>

      <Section title={t("ticket.timers")}>
        {timers.loading && <Loading />}
        <ErrorBox error={timers.error} />
        {timers.data === "denied" && <p className="muted">{t("ticket.timersDenied")}</p>}
        {timers.data && timers.data !== "denied" && <TimersTable timers={timers.data.items} />}
      </Section>

      <Section title={t("ticket.notifications")}>
        {deliveries.loading && <Loading />}
        <ErrorBox error={deliveries.error} />
        {deliveries.data === "denied" && <p className="muted">{t("ticket.deliveriesDenied")}</p>}
        {deliveries.data && deliveries.data !== "denied" && <DeliveriesTable items={deliveries.data.items} />}
      </Section>

      {dialog && (
        <ActionDialog ticket={tk} onClose={() => setDialog(false)}
          onDone={(_, action) => {
            setDialog(false);
            setNotice(t("action.done", { action: t(`action.${action}`) }));
            ticket.reload();
            timers.reload();
          }} />
      )}
    </div>
  );
}

function TimersTable({ timers }: { timers: Timer[] }) {
  const { t, lang, tv } = useI18n();
  const labels = useLabels();
  if (!timers.length) return <p className="muted">{t("ticket.noTimers")}</p>;
  return (
    <table className="table">
      <thead>
        <tr>
          {(["node", "state", "limit", "used", "paused", "fired"] as const).map((c) => <th key={c}>{t(`ticket.col.${c}`)}</th>)}
        </tr>
      </thead>
      <tbody>
        {timers.map((x) => (
          <tr key={x.id} data-timer={x.id}>
            <td>{labels.node(x.node)}<div className="muted small">{x.rule_id} · {x.policy_version}</div></td>
            <td>
              <Badge kind={x.state}>{labels.state(x.state)}</Badge>
              {x.escalation_level > 0 && ` ${t("board.escalationLevel", { n: x.escalation_level })}`}
              {x.met_late !== null && ` (${t(x.met_late ? "ticket.late" : "ticket.onTime")})`}
            </td>
            <td>{formatDateTime(x.deadline, lang)}</td>
            <td data-col="used">
              {formatDuration(x.used_s, lang)}
              {x.completed_at === null && x.cancelled_at === null && (
                <div className={`small ${x.remaining_s < 0 ? "overdue" : "muted"}`}>
                  {x.remaining_s < 0 ? t("time.overdue", { d: formatDuration(-x.remaining_s, lang) })
                    : `${t("time.left")} ${formatDuration(x.remaining_s, lang)}`}
                  {!x.clock_running && ` (${t("time.stopped")})`}
                </div>
              )}
            </td>
            <td>
              {x.paused_at ? `${formatDateTime(x.paused_at, lang)} (${t("time.left")} ${formatDuration(x.remaining_s_at_pause ?? 0, lang)})` : "—"}
            </td>
            <td>
              <ul className="plain">
                {x.schedule.filter((a) => a.fired_at).map((a) => (
                  <li key={a.key}>
                    {tv("timerAction", a.kind)}{a.level ? ` ${t("board.escalationLevel", { n: a.level })}` : ""}
                    {a.notify_role ? ` → ${labels.role(a.notify_role)}` : ""}: {formatDateTime(a.fired_at, lang)}
                  </li>
                ))}
              </ul>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function DeliveriesTable({ items }: { items: Delivery[] }) {
  const { t, lang, tv } = useI18n();
  if (!items.length) return <p className="muted">{t("ticket.noDeliveries")}</p>;
  return (
    <table className="table">
      <thead>
        <tr>
          {(["at", "event", "channel", "recipient", "address", "state", "receipt"] as const).map((c) => <th key={c}>{t(`ticket.col.${c}`)}</th>)}
        </tr>
      </thead>
      <tbody>
        {items.map((d) => (
          <tr key={d.id}>
            <td>{formatDateTime(d.created_at, lang)}</td>
            <td>{tv("alert", d.source_event_type)}</td>
            <td>{tv("channelName", d.channel)}</td>
            <td>{d.recipient_id}</td>
            <td><code>{d.address}</code></td>
            <td>
              <Badge kind={d.status}>{t(`state.${d.status}` as MessageKey)}</Badge>
              {d.uncertain && <span className="muted small"> ({t("ticket.uncertain")})</span>}
              {d.reason && <div className="muted small">{d.reason}</div>}
            </td>
            <td data-col="receipt">
              {d.delivered_at && <div>✓ {formatDateTime(d.delivered_at, lang)}</div>}
              {d.parts.length > 0 ? (
                <ul className="plain small">
                  {d.parts.map((p) => (
                    <li key={p.part_no}>
                      {d.parts_total && d.parts_total > 1 ? `${p.part_no}/${d.parts_total} ` : ""}
                      <code>{p.receipt_status ?? t("ticket.noReceipt")}</code>
                      {p.receipt_error && p.receipt_error !== "000" ? ` err ${p.receipt_error}` : ""}
                      {p.receipt_at ? ` ${formatDateTime(p.receipt_at, lang)}` : ""}
                      <span className="muted"> {p.message_id}</span>
                    </li>
                  ))}
                </ul>
              ) : (d.provider_message_id ?? "—")}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
