// Account manager workbench: their customers' open orders and complaints, SLA risk first; new
// order (JSON-Schema form), complaint registration, revisit with satisfaction.
import { useState } from "react";
import { Link, useNavigate } from "react-router";
import { api } from "../api/client";
import type { Complaint, Risk } from "../api/types";
import { hasRole } from "../auth/session";
import { Badge, ErrorBox, Loading, Modal, Section } from "../components/common";
import { ComplaintForm } from "../components/ComplaintForm";
import { OrderForm } from "../components/OrderForm";
import { RevisitDialog } from "../components/RevisitDialog";
import { useI18n } from "../i18n";
import { fetchMyCustomers } from "../lib/customers";
import { useAsync, useSession } from "../lib/hooks";
import { useLabels } from "../lib/labels";
import { useProducts } from "../lib/products";
import { formatDateTime } from "../lib/time";

export function RiskBadge({ risk }: { risk: Risk }) {
  const { t } = useI18n();
  const level = (risk.level ?? "none") as "escalated" | "breached" | "warning" | "none";
  return (
    <Badge kind={`risk-${level}`}>
      {t(`wb.risk.${level}`)}
      {risk.sla?.escalation_level ? ` ${t("board.escalationLevel", { n: risk.sla.escalation_level })}` : ""}
    </Badge>
  );
}

export default function Workbench() {
  const { t, lang, tv } = useI18n();
  const labels = useLabels();
  const { name: productName } = useProducts();
  const session = useSession();
  const navigate = useNavigate();
  const supervisor = hasRole(session, "supervisor", "admin");
  const mayWrite = hasRole(session, "account_manager", "admin");
  const [manager, setManager] = useState("");
  const [dialog, setDialog] = useState<"order" | "complaint" | null>(null);
  const [revisit, setRevisit] = useState<Complaint | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const wb = useAsync((signal) => api.get("crm", "/api/v1/me/workbench", {
    query: { manager: supervisor && manager ? manager : undefined }, signal,
  }), [manager, supervisor]);
  const customers = useAsync((signal) => fetchMyCustomers(signal), []);
  const managers = useAsync(async (signal) => supervisor
    ? (await api.get("notify", "/api/v1/directory/people", { query: { role: "account_manager" }, signal })).items
    : [], [supervisor]);

  const act = async (c: Complaint, action: "archive" | "reopen") => {
    setError(null);
    try {
      await api.post("crm", "/api/v1/complaints/{complaint_id}/{action}", {
        path: { complaint_id: c.id, action }, headers: { "Idempotency-Key": crypto.randomUUID() },
      });
      wb.reload();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <div>
      <div className="page-head">
        <h1>{t("wb.title")}</h1>
        {supervisor && (
          <label>{t("wb.manager")}
            <select value={manager} onChange={(e) => setManager(e.target.value)}>
              <option value="">{t("app.all")}</option>
              {managers.data?.map((p) => <option key={p.id} value={p.id}>{p.name} ({p.id})</option>)}
            </select>
          </label>
        )}
        {mayWrite && <button type="button" className="primary" onClick={() => setDialog("order")}>{t("wb.newOrder")}</button>}
        {mayWrite && <button type="button" onClick={() => setDialog("complaint")}>{t("wb.newComplaint")}</button>}
        <button type="button" onClick={wb.reload}>{t("app.refresh")}</button>
      </div>
      {notice && <p className="ok" role="status">{notice}</p>}
      <ErrorBox error={error ?? wb.error} onRetry={wb.error ? wb.reload : undefined} />
      {wb.loading && !wb.data && <Loading />}
      {wb.data && (
        <>
          <p className={wb.data.at_risk ? "warn-text" : "muted"}>{t("wb.atRisk", { n: wb.data.at_risk })}</p>
          <Section title={t("wb.orders")}>
            {wb.data.orders.length === 0 ? <p className="muted">{t("wb.empty")}</p> : (
              <table className="table">
                <thead>
                  <tr>
                    <th>{t("wb.risk")}</th><th>{t("wb.col.id")}</th><th>{t("wb.col.customer")}</th><th>{t("wb.col.status")}</th>
                    <th>{t("wb.col.products")}</th><th>{t("ticket.currentNode")}</th><th>{t("wb.col.deadline")}</th><th>{t("wb.col.created")}</th>
                  </tr>
                </thead>
                <tbody>
                  {wb.data.orders.map(({ order: o, risk }) => (
                    <tr key={o.id} data-order={o.id}>
                      <td><RiskBadge risk={risk} /></td>
                      <td><Link to={`/orders/${o.id}`}>{o.id}</Link></td>
                      <td title={o.customer_id}>{o.customer_name}</td>
                      <td><Badge kind={o.status}>{labels.state(o.status)}</Badge></td>
                      <td>{o.items.map((i) => `${productName(i.product) ?? i.product} · ${tv("kind", i.business_kind)}`).join(", ")}</td>
                      <td>{risk.sla ? `${labels.node(risk.sla.node)} (${labels.role(risk.sla.role)})` : "—"}</td>
                      <td>{risk.sla ? formatDateTime(risk.sla.deadline, lang) : "—"}</td>
                      <td>{formatDateTime(o.created_at, lang)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </Section>
          <Section title={t("wb.complaints")}>
            {wb.data.complaints.length === 0 ? <p className="muted">{t("wb.empty")}</p> : (
              <table className="table">
                <thead>
                  <tr>
                    <th>{t("wb.risk")}</th><th>{t("wb.col.id")}</th><th>{t("wb.col.customer")}</th><th>{t("wb.col.status")}</th>
                    <th>{t("wb.col.category")}</th><th>{t("wb.col.severity")}</th><th>{t("wb.col.created")}</th><th />
                  </tr>
                </thead>
                <tbody>
                  {wb.data.complaints.map(({ complaint: c, risk }) => (
                    <tr key={c.id} data-complaint={c.id}>
                      <td><RiskBadge risk={risk} /></td>
                      <td><Link to={`/complaints/${c.id}`}>{c.id}</Link></td>
                      <td title={c.customer_id}>{c.customer_name}</td>
                      <td><Badge kind={c.status}>{labels.state(c.status)}</Badge>{c.satisfaction ? ` ${"★".repeat(c.satisfaction)}` : ""}</td>
                      <td>{tv("category", c.category)}</td>
                      <td>{tv("severity", c.severity)}</td>
                      <td>{formatDateTime(c.created_at, lang)}</td>
                      <td className="buttons">
                        {mayWrite && c.status === "resolved" && <button type="button" onClick={() => setRevisit(c)}>{t("wb.revisit")}</button>}
                        {mayWrite && c.status === "resolved" && <button type="button" onClick={() => void act(c, "reopen")}>{t("wb.reopen")}</button>}
                        {mayWrite && c.status === "revisited" && <button type="button" onClick={() => void act(c, "archive")}>{t("wb.archive")}</button>}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </Section>
        </>
      )}
      {dialog === "order" && (
        <Modal title={t("wb.newOrder")} onClose={() => setDialog(null)}>
          {customers.data ? (
            <OrderForm customers={customers.data} onCreated={(o) => {
              setDialog(null);
              setNotice(t("order.created", { id: o.id }));
              navigate(`/orders/${o.id}`);
            }} />
          ) : <ErrorBox error={customers.error} />}
        </Modal>
      )}
      {dialog === "complaint" && (
        <Modal title={t("wb.newComplaint")} onClose={() => setDialog(null)}>
          {customers.data ? (
            <ComplaintForm customers={customers.data} onCreated={(c) => {
              setDialog(null);
              setNotice(t("complaint.created", { id: c.id }));
              wb.reload();
            }} />
          ) : <ErrorBox error={customers.error} />}
        </Modal>
      )}
      {revisit && (
        <RevisitDialog complaint={revisit} onClose={() => setRevisit(null)} onDone={() => {
          setRevisit(null);
          setNotice(t("wb.revisitDone"));
          wb.reload();
        }} />
      )}
    </div>
  );
}
