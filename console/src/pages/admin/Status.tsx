// System status: each service's readiness (/readyz) and, from /metrics, the outbox backlog and the
// events dead-lettered; consumer lag is not exported by the services (see docs/console.md).
import { rawRequest } from "../../api/client";
import { SERVICES, type ServiceName } from "../../config";
import { Badge, Gap, Loading } from "../../components/common";
import { useI18n } from "../../i18n";
import { useAsync } from "../../lib/hooks";
import { parseMetrics, sumOf } from "../../lib/prom";

interface Status {
  service: ServiceName;
  ready: "ok" | "unavailable" | "unreachable";
  checks: Record<string, string>;
  outbox: number | null;
  dlq: number | null;
  metrics: boolean;
}

async function statusOf(service: ServiceName, signal: AbortSignal): Promise<Status> {
  const s: Status = { service, ready: "unreachable", checks: {}, outbox: null, dlq: null, metrics: false };
  try {
    const res = (await rawRequest(service, "/readyz", { method: "GET", signal, raw: true })) as Response;
    const body = (await res.json()) as { status?: string; checks?: Record<string, string> };
    s.ready = body.status === "ok" ? "ok" : "unavailable";
    s.checks = body.checks ?? {};
  } catch (e) {
    const problem = (e as { problem?: { checks?: Record<string, string> } }).problem;
    if (problem?.checks) {
      s.ready = "unavailable";
      s.checks = problem.checks;
    }
  }
  try {
    const text = (await rawRequest(service, "/metrics", { method: "GET", signal, headers: { Accept: "text/plain" } })) as string;
    const samples = parseMetrics(text);
    s.outbox = sumOf(samples, "outbox_pending_rows");
    s.dlq = sumOf(samples, "events_dead_lettered_total");
    s.metrics = true;
  } catch {
    s.metrics = false;
  }
  return s;
}

export default function StatusPage() {
  const { t, tv } = useI18n();
  const status = useAsync((signal) => Promise.all(SERVICES.map((s) => statusOf(s, signal))), []);
  return (
    <div>
      <div className="page-head">
        <h1>{t("admin.status")}</h1>
        <button type="button" onClick={status.reload}>{t("app.refresh")}</button>
      </div>
      {status.loading && !status.data && <Loading />}
      {status.data && (
        <table className="table">
          <thead>
            <tr>
              <th>{t("admin.status.service")}</th><th>{t("admin.status.ready")}</th><th>{t("admin.status.checks")}</th>
              <th>{t("admin.status.outbox")}</th><th>{t("admin.status.dlq")}</th><th>{t("admin.status.lag")}</th>
            </tr>
          </thead>
          <tbody>
            {status.data.map((s) => (
              <tr key={s.service} data-service={s.service}>
                <td>{tv("service", s.service)}</td>
                <td>
                  <Badge kind={s.ready === "ok" ? "ok" : "bad"}>
                    {t(s.ready === "ok" ? "admin.status.ready" : s.ready === "unavailable" ? "admin.status.notReady" : "admin.status.unreachable")}
                  </Badge>
                </td>
                <td>{Object.entries(s.checks).map(([k, v]) => <div key={k} className={v === "ok" ? "" : "bad-text"}>{k}: {v}</div>)}</td>
                <td>{s.metrics ? (s.outbox ?? 0) : <span className="muted">{t("admin.status.metricsDenied")}</span>}</td>
                <td>{s.metrics ? (s.dlq ?? 0) : "—"}</td>
                <td className="muted">—</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Gap>{t("admin.status.lag")}: {t("admin.status.lagGap")}</Gap>
    </div>
  );
}
