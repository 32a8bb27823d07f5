// One complaint: its ticket, timeline, and the revisit with satisfaction.
import { useState } from "react";
import { useParams } from "react-router";
import { api } from "../api/client";
import { hasRole } from "../auth/session";
import { Badge, ErrorBox, Loading, Section } from "../components/common";
import { RevisitDialog } from "../components/RevisitDialog";
import { TicketsTable, Timeline, useTimeline } from "../components/Timeline";
import { useI18n } from "../i18n";
import { useAsync, useSession } from "../lib/hooks";
import { useLabels } from "../lib/labels";
import { useProducts } from "../lib/products";
import { formatDateTime } from "../lib/time";

export default function ComplaintPage() {
  const { id = "" } = useParams();
  const { t, lang, tv } = useI18n();
  const labels = useLabels();
  const { name: productName } = useProducts();
  const session = useSession();
  const [revisit, setRevisit] = useState(false);
  const complaint = useAsync((signal) => api.get("crm", "/api/v1/complaints/{complaint_id}", { path: { complaint_id: id }, signal }), [id]);
  const entries = useTimeline(complaint.data?.history ?? [], complaint.data?.tickets ?? []);
  if (complaint.loading && !complaint.data) return <Loading />;
  if (complaint.error) return <ErrorBox error={complaint.error} onRetry={complaint.reload} />;
  const c = complaint.data;
  if (!c) return null;
  return (
    <div>
      <div className="page-head">
        <h1>{t("complaint.title", { id: c.id })}</h1>
        <Badge kind={c.status}>{labels.state(c.status)}</Badge>
        {hasRole(session, "account_manager", "admin") && c.status === "resolved" && (
          <button type="button" className="primary" onClick={() => setRevisit(true)}>{t("wb.revisit")}</button>
        )}
      </div>
      <dl className="facts">
        <dt>{t("order.customer")}</dt><dd>{c.customer_name} <span className="muted small">{c.customer_id}</span></dd>
        <dt>{t("complaint.category")}</dt><dd>{tv("category", c.category)}</dd>
        <dt>{t("complaint.severity")}</dt><dd>{tv("severity", c.severity)}</dd>
        <dt>{t("complaint.product")}</dt><dd>{c.product ? (productName(c.product) ?? c.product) : "—"}</dd>
        <dt>{t("complaint.serviceRef")}</dt><dd>{c.service_ref ?? "—"}</dd>
        <dt>{t("complaint.description")}</dt><dd>{c.description}</dd>
        <dt>{t("wb.satisfaction")}</dt><dd>{c.satisfaction ? "★".repeat(c.satisfaction) : "—"} {c.revisit_note ?? ""}</dd>
        <dt>{t("wb.col.created")}</dt><dd>{formatDateTime(c.created_at, lang)}</dd>
      </dl>
      <Section title={t("order.trail")}><TicketsTable tickets={c.tickets ?? []} /></Section>
      <Section title={t("order.timeline")}><Timeline entries={entries} /></Section>
      {revisit && <RevisitDialog complaint={c} onClose={() => setRevisit(false)} onDone={() => { setRevisit(false); complaint.reload(); }} />}
    </div>
  );
}
