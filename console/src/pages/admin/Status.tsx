// System status: each service's readiness (/readyz: its checks) and its ops figures
// (GET /api/v1/ops/status: the outbox backlog, each consumer group's lag per partition), and the
// records each dead-letter topic of the suite holds.
import { api, rawRequest } from "../../api/client";
import type { OpsStatus } from "../../api/types";
import { SERVICES, type ServiceName } from "../../config";
import { Badge, ErrorBox, Loading, Section } from "../../components/common";
import { useI18n } from "../../i18n";
import { useAsync } from "../../lib/hooks";
import { formatDateTime } from "../../lib/time";

interface Status {
  service: ServiceName;
  ready: "ok" | "unavailable" | "unreachable";
  checks: Record<string, string>;
  ops: OpsStatus | null;
  opsError: unknown;
}

async function statusOf(service: ServiceName, signal: AbortSignal): Promise<Status> {
  const s: Status = { service, ready: "unreachable", checks: {}, ops: null, opsError: null };
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
    s.ops = await api.get(service, "/api/v1/ops/status", { signal });
  } catch (e) {
    s.opsError = e;
  }
  return s;
}

export default function StatusPage() {
  const { t, tv, lang } = useI18n();
  const status = useAsync((signal) => Promise.all(SERVICES.map((s) => statusOf(s, signal))), []);
  // the dead-letter topics are the suite's: every service reports the same counts, the first answer is shown
  const deadLetters = status.data?.find((s) => s.ops && s.ops.kafka === "ok")?.ops?.dead_letters ?? null;
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
              <th>{t("admin.status.outbox")}</th><th>{t("admin.status.lag")}</th>
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
                <td data-col="outbox">
                  {s.ops ? (
                    <>
                      {s.ops.outbox.pending}
                      {s.ops.outbox.oldest_pending_at && (
                        <div className="muted small">{t("admin.status.oldest", { at: formatDateTime(s.ops.outbox.oldest_pending_at, lang) })}</div>
                      )}
                      {!!s.ops.outbox.set_aside && <div className="bad-text small">{t("admin.status.setAside", { n: s.ops.outbox.set_aside })}</div>}
                    </>
                  ) : <ErrorBox error={s.opsError} />}
                </td>
                <td data-col="lag">
                  {s.ops && s.ops.kafka !== "ok" && <span className="bad-text">{s.ops.kafka}</span>}
                  {s.ops?.consumers.map((c) => (
                    <details key={c.group}>
                      <summary><code>{c.group}</code>: <strong className={c.lag > 0 ? "bad-text" : ""}>{c.lag}</strong></summary>
                      <table className="table small">
                        <tbody>
                          {c.partitions.map((p) => (
                            <tr key={`${p.topic}-${p.partition}`}>
                              <td>{p.topic}[{p.partition}]</td>
                              <td>{p.committed ?? "—"} / {p.end}</td>
                              <td>{p.lag}</td>
                            </tr>
                          ))}
                        </tbody>
                      </table>
                    </details>
                  ))}
                  {s.ops && s.ops.kafka === "ok" && !s.ops.consumers.length && <span className="muted">—</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {deadLetters && (
        <Section title={t("admin.status.dlq")}>
          <table className="table">
            <thead><tr><th>{t("admin.status.topic")}</th><th>{t("admin.status.records")}</th></tr></thead>
            <tbody>
              {deadLetters.map((d) => (
                <tr key={d.topic} data-dlq={d.topic}>
                  <td><code>{d.topic}</code></td>
                  <td className={d.records > 0 ? "bad-text" : ""}>{d.records}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Section>
      )}
    </div>
  );
}
