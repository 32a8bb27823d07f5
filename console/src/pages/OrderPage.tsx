// One order: items, ticket progress and the timeline (status history + ticket trail); cancel/close.
import { useState } from "react";
import { useParams } from "react-router";
import { api } from "../api/client";
import type { Order } from "../api/types";
import { hasRole } from "../auth/session";
import { Badge, ErrorBox, Loading, Section } from "../components/common";
import { TicketsTable, Timeline, useTimeline } from "../components/Timeline";
import { useI18n } from "../i18n";
import { hasKey } from "../i18n";
import { useAsync, useSession } from "../lib/hooks";
import { humanize, useLabels } from "../lib/labels";
import { useProducts } from "../lib/products";
import { formatDateTime } from "../lib/time";

export default function OrderPage() {
  const { id = "" } = useParams();
  const { t, lang, tv } = useI18n();
  const labels = useLabels();
  const { name: productName } = useProducts();
  const session = useSession();
  const order = useAsync((signal) => api.get("crm", "/api/v1/orders/{order_id}", { path: { order_id: id }, signal }), [id]);
  const [reason, setReason] = useState("");
  const [error, setError] = useState<unknown>(null);
  const mayWrite = hasRole(session, "account_manager", "admin");

  const act = async (o: Order, action: "cancel" | "close") => {
    setError(null);
    try {
      await api.post("crm", "/api/v1/orders/{order_id}/{action}", {
        path: { order_id: o.id, action }, body: action === "cancel" ? { reason } : {},
        headers: { "Idempotency-Key": crypto.randomUUID() },
      });
      order.reload();
    } catch (e) {
      setError(e);
    }
  };
  const entries = useTimeline(order.data?.history ?? [], order.data?.tickets ?? []);

  if (order.loading && !order.data) return <Loading />;
  if (order.error) return <ErrorBox error={order.error} onRetry={order.reload} />;
  const o = order.data;
  if (!o) return null;
  return (
    <div>
      <div className="page-head">
        <h1>{t("order.title", { id: o.id })}</h1>
        <Badge kind={o.status}>{labels.state(o.status)}</Badge>
        <button type="button" onClick={order.reload}>{t("app.refresh")}</button>
      </div>
      <dl className="facts">
        <dt>{t("order.customer")}</dt><dd>{o.customer_name} <span className="muted small">{o.customer_id}</span></dd>
        <dt>{t("order.channel")}</dt><dd>{tv("channel", o.channel)}</dd>
        <dt>{t("wb.manager")}</dt><dd>{o.account_manager_id}</dd>
        <dt>{t("wb.col.created")}</dt><dd>{formatDateTime(o.created_at, lang)}</dd>
        {o.note && <><dt>{t("order.note")}</dt><dd>{o.note}</dd></>}
        {o.status_reason && <><dt>{t("ticket.col.reason")}</dt><dd>{o.status_reason}</dd></>}
      </dl>
      <ErrorBox error={error} />
      {mayWrite && ["draft", "submitted", "in_progress"].includes(o.status) && (
        <form className="inline-form" onSubmit={(e) => { e.preventDefault(); void act(o, "cancel"); }}>
          <label>{t("order.cancelReason")}<input value={reason} onChange={(e) => setReason(e.target.value)} required /></label>
          <button type="submit">{t("order.cancel")}</button>
        </form>
      )}
      {mayWrite && ["opened", "rejected", "cancelled"].includes(o.status) && (
        <button type="button" onClick={() => void act(o, "close")}>{t("order.close")}</button>
      )}
      <Section title={t("order.items")}>
        <table className="table">
          <thead><tr><th>{t("order.product")}</th><th>{t("order.businessKind")}</th><th>{t("order.attributes")}</th></tr></thead>
          <tbody>
            {o.items.map((i) => (
              <tr key={i.id}>
                <td>{productName(i.product) ?? i.product}</td>
                <td>{tv("kind", i.business_kind)}</td>
                <td>
                  {Object.entries(i.attributes).map(([k, v]) => {
                    const key = `attr.${k}`;
                    return <div key={k}>{hasKey(key) ? t(key) : humanize(k)}: <strong>{String(v)}</strong></div>;
                  })}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title={t("order.trail")}><TicketsTable tickets={o.tickets ?? []} /></Section>
      <Section title={t("order.timeline")}><Timeline entries={entries} /></Section>
    </div>
  );
}
