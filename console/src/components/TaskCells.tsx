// What every list of node tasks shows (work queue, dispatch, my tasks): its state (error, loading,
// empty), the cells each row starts with (the ticket: link, kind and business type; the node's title;
// the customer with tier) and how long the task has waited.
import { Link } from "react-router";
import type { QueueTask } from "../api/types";
import { useI18n } from "../i18n";
import { useLabels } from "../lib/labels";
import { useProducts } from "../lib/products";
import { formatDateTime, formatDuration } from "../lib/time";
import { Badge, ErrorBox, Loading } from "./common";

export function TaskHeads() {
  const { t } = useI18n();
  return <><th>{t("queue.col.ticket")}</th><th>{t("queue.col.node")}</th><th>{t("queue.col.customer")}</th></>;
}

export function TaskCells({ task }: { task: QueueTask }) {
  const labels = useLabels();
  const { name: productName } = useProducts();
  return (
    <>
      <td>
        <Link to={`/tickets/${task.ticket_id}`}>{task.ticket_id}</Link>
        <div className="muted small">{labels.ticketKind(task.ticket_kind)} · {labels.businessType(task.business_type, productName)}</div>
      </td>
      <td>{labels.text(task.node_title, labels.node(task.node))}</td>
      <td>{task.customer_name} <Badge kind={`tier-${task.customer_tier}`}>{task.customer_tier}</Badge></td>
    </>
  );
}

/** Time since the node was entered (never negative when the clocks differ), the moment in the tooltip. */
export function WaitingCell({ since, now }: { since: string; now: number }) {
  const { lang } = useI18n();
  return <td title={formatDateTime(since, lang)}>{formatDuration(Math.max(0, (now - Date.parse(since)) / 1000), lang)}</td>;
}

/** A task list's error, its first load, or "nothing here" once loaded and empty. */
export function ListStatus({ error, loading, loaded, count, empty }: {
  error: unknown; loading: boolean; loaded: boolean; count: number; empty: string;
}) {
  return (
    <>
      <ErrorBox error={error} />
      {loading && !loaded && <Loading />}
      {loaded && count === 0 && <p className="muted">{empty}</p>}
    </>
  );
}
