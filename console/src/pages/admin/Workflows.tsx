// Workflow versions, and each version's ticket kinds drawn as graphs.
import { useState } from "react";
import { api } from "../../api/client";
import { Badge, ErrorBox, Loading, Section } from "../../components/common";
import { WorkflowGraph } from "../../components/WorkflowGraph";
import { useI18n } from "../../i18n";
import { useAsync } from "../../lib/hooks";
import { useLabels } from "../../lib/labels";
import { useProducts } from "../../lib/products";
import { formatDateTime } from "../../lib/time";
import { fetchWorkflow } from "../../lib/workflow";

export default function Workflows() {
  const { t, lang } = useI18n();
  const labels = useLabels();
  const { name: productName } = useProducts();
  const list = useAsync((signal) => api.get("eoms", "/api/v1/admin/workflows", { signal }), []);
  const [selected, setSelected] = useState<{ id: string; version: number } | null>(null);
  const def = useAsync(async () => (selected ? fetchWorkflow(selected.id, selected.version) : null), [selected?.id, selected?.version]);

  return (
    <div>
      <div className="page-head"><h1>{t("admin.workflows")}</h1></div>
      <ErrorBox error={list.error} />
      {list.loading && !list.data && <Loading />}
      <div className="split">
        {list.data && (
          <table className="table">
            <thead>
              <tr><th>{t("admin.wf.id")}</th><th>{t("admin.wf.version")}</th><th>{t("admin.wf.tickets")}</th><th>{t("admin.wf.nodes")}</th><th>{t("admin.wf.created")}</th><th /></tr>
            </thead>
            <tbody>
              {list.data.map((w) => (
                <tr key={`${w.id}@${w.version}`} className={selected?.id === w.id && selected.version === w.version ? "selected" : ""}>
                  <td>{labels.businessType(w.business_type, productName)}<div className="muted small">{w.id}</div></td>
                  <td>{w.version} {w.latest && <Badge kind="ok">{t("admin.wf.latest")}</Badge>}</td>
                  <td>{w.tickets.map((k) => labels.ticketKind(k)).join(" → ")}</td>
                  <td>{w.node_count}</td>
                  <td>{formatDateTime(w.created_at, lang)}<div className="muted small">{w.source}</div></td>
                  <td><button type="button" onClick={() => setSelected({ id: w.id, version: w.version })}>{t("admin.wf.view")}</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      {selected && (
        <Section title={`${selected.id} v${selected.version}`}
          actions={<button type="button" onClick={() => setSelected(null)}>{t("app.close")}</button>}>
          {def.loading && <Loading />}
          <ErrorBox error={def.error} />
          {def.data?.tickets.map((tk) => (
            <div key={tk.kind}>
              <h3>{labels.ticketKind(tk.kind)}{tk.depends_on?.length ? ` ← ${tk.depends_on.map((d) => labels.ticketKind(d)).join(", ")}` : ""}</h3>
              <WorkflowGraph ticket={tk} />
            </div>
          ))}
        </Section>
      )}
    </div>
  );
}
