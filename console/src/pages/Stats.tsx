// Statistics (services/stats, docs/stats.md): orders and complaints per local day (ECharts), timeliness
// per department or person with the server's CSV, complaint satisfaction, opportunity conversion and the
// daily reports with their download. Account managers get the volumes, satisfaction and conversion of
// their own customers (the API scopes them); timeliness and the reports are for supervisor,
// department_head and admin (a department head sees their departments: the API filters).
import { useMemo, useState } from "react";
import { api, rawRequest } from "../api/client";
import { hasRole } from "../auth/session";
import { Chart } from "../components/Chart";
import { ErrorBox, Loading, Section } from "../components/common";
import { useI18n } from "../i18n";
import { downloadBlob } from "../lib/csv";
import { useAsync, useSession } from "../lib/hooks";
import { useProducts } from "../lib/products";
import { formatDateTime } from "../lib/time";
import { buildQuery } from "../api/client";
import { csvFilename, lastDays, minutesOrNull, pct, volumesPerDay, type DayRange } from "../lib/stats";

type TimelinessBy = "department" | "person";
type SatisfactionBy = "product" | "account_manager";
type ConversionBy = "account_manager" | "channel";

/** GET a stats path as the server's CSV and save it under the name the server gives. */
async function downloadCsvFrom(path: string, fallback: string): Promise<void> {
  const res = (await rawRequest("stats", path, { method: "GET", headers: { Accept: "text/csv" }, raw: true })) as Response;
  downloadBlob(csvFilename(res.headers.get("Content-Disposition"), fallback), await res.blob());
}

export default function Stats() {
  const { t, lang } = useI18n();
  const session = useSession();
  const { name: productName } = useProducts();
  const reads = hasRole(session, "supervisor", "department_head", "admin");
  const [draft, setDraft] = useState<DayRange>(() => lastDays(30));
  const [range, setRange] = useState<DayRange>(draft);
  const [tBy, setTBy] = useState<TimelinessBy>("department");
  const [sBy, setSBy] = useState<SatisfactionBy>("product");
  const [cBy, setCBy] = useState<ConversionBy>("account_manager");
  const [downloadError, setDownloadError] = useState<unknown>(null);

  const volumes = useAsync(async (signal) => {
    const [orders, complaints] = await Promise.all([
      api.get("stats", "/api/v1/stats/orders", { query: { ...range, group_by: ["day"] }, signal }),
      api.get("stats", "/api/v1/stats/complaints", { query: { ...range, group_by: ["day"] }, signal }),
    ]);
    return volumesPerDay(range, orders.rows, complaints.rows);
  }, [range.from, range.to]);
  const timeliness = useAsync((signal) => reads
    ? api.get("stats", "/api/v1/stats/timeliness", { query: { ...range, by: tBy }, signal })
    : Promise.resolve(null), [reads, range.from, range.to, tBy]);
  const satisfaction = useAsync((signal) =>
    api.get("stats", "/api/v1/stats/satisfaction", { query: { ...range, by: sBy }, signal }), [range.from, range.to, sBy]);
  const conversion = useAsync((signal) =>
    api.get("stats", "/api/v1/stats/opportunities", { query: { ...range, by: cBy }, signal }), [range.from, range.to, cBy]);
  const reports = useAsync((signal) => reads
    ? api.get("stats", "/api/v1/stats/reports", { query: { limit: 14 }, signal })
    : Promise.resolve(null), [reads]);

  const v = volumes.data;
  const volumeOption = useMemo(() => v && ({
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 48, right: 24, bottom: 48, top: 40 },
    xAxis: { type: "category", data: v.days },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      { type: "bar", name: t("stats.orders"), data: v.orders, color: "#5470c6" },
      { type: "bar", name: t("stats.complaints"), data: v.complaints, color: "#ee6666" },
    ],
  }), [v, t]);

  const download = (path: string, fallback: string) => {
    setDownloadError(null);
    downloadCsvFrom(path, fallback).catch(setDownloadError);
  };
  const group = (by: SatisfactionBy, g: string) => (by === "product" ? productName(g) ?? g : g);

  return (
    <div>
      <div className="page-head"><h1>{t("stats.title")}</h1></div>
      <form className="filters" onSubmit={(e) => { e.preventDefault(); setRange(draft); }}>
        <label>{t("reports.from")}
          <input type="date" value={draft.from} onChange={(e) => setDraft((d) => ({ ...d, from: e.target.value }))} />
        </label>
        <label>{t("reports.to")}
          <input type="date" value={draft.to} onChange={(e) => setDraft((d) => ({ ...d, to: e.target.value }))} />
        </label>
        <button type="submit" className="primary">{t("reports.apply")}</button>
        {([7, 30, 90] as const).map((d) => (
          <button key={d} type="button" onClick={() => { const p = lastDays(d); setDraft(p); setRange(p); }}>
            {t(`reports.days${d}`)}
          </button>
        ))}
      </form>
      <ErrorBox error={downloadError} />

      <Section title={t("stats.volumes")}>
        {volumes.loading && <Loading />}
        <ErrorBox error={volumes.error} onRetry={volumes.reload} />
        {v && volumeOption && (v.orders.some(Boolean) || v.complaints.some(Boolean)
          ? <Chart option={volumeOption} label={t("stats.volumes")} />
          : <p className="muted">{t("reports.noData")}</p>)}
      </Section>

      {reads && (
        <Section title={t("stats.timeliness")} actions={<>
          <select aria-label={t("reports.groupBy")} value={tBy} onChange={(e) => setTBy(e.target.value as TimelinessBy)}>
            <option value="department">{t("stats.by.department")}</option>
            <option value="person">{t("stats.by.person")}</option>
          </select>
          <button type="button" disabled={!timeliness.data?.rows.length}
            onClick={() => download(`/api/v1/stats/timeliness${buildQuery({ ...range, by: tBy, format: "csv" })}`,
              `timeliness-${tBy}.csv`)}>{t("reports.csv")}</button>
        </>}>
          {timeliness.loading && <Loading />}
          <ErrorBox error={timeliness.error} onRetry={timeliness.reload} />
          {timeliness.data && (timeliness.data.rows.length ? (
            <table className="table" aria-label={t("stats.timeliness")}>
              <thead><tr>
                <th>{t(tBy === "department" ? "stats.by.department" : "stats.by.person")}</th>
                {tBy === "person" && <th>{t("stats.by.department")}</th>}
                <th>{t("reports.completed")}</th><th>{t("stats.onTimePct")}</th><th>{t("stats.meanMin")}</th>
                <th>{t("stats.p90Min")}</th><th>{t("reports.breached")}</th><th>{t("reports.escalated")}</th>
              </tr></thead>
              <tbody>
                {timeliness.data.rows.map((r) => (
                  <tr key={r.group}>
                    <td>{tBy === "department" ? r.department_name || r.group : r.group}</td>
                    {tBy === "person" && <td>{r.department_name || r.department}</td>}
                    <td>{r.completed}</td><td>{pct(r.on_time_pct)}</td><td>{minutesOrNull(r.mean_s) ?? "—"}</td>
                    <td>{minutesOrNull(r.p90_s) ?? "—"}</td><td>{r.breaches}</td><td>{r.escalations}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : <p className="muted">{t("reports.noData")}</p>)}
        </Section>
      )}

      <Section title={t("stats.satisfaction")} actions={
        <select aria-label={t("reports.groupBy")} value={sBy} onChange={(e) => setSBy(e.target.value as SatisfactionBy)}>
          <option value="product">{t("stats.by.product")}</option>
          <option value="account_manager">{t("stats.by.account_manager")}</option>
        </select>}>
        <ErrorBox error={satisfaction.error} onRetry={satisfaction.reload} />
        {satisfaction.data && (satisfaction.data.rows.length ? (
          <table className="table" aria-label={t("stats.satisfaction")}>
            <thead><tr><th>{t(`stats.by.${sBy}`)}</th><th>{t("stats.revisits")}</th><th>{t("stats.meanScore")}</th>
              <th>{t("stats.satisfiedPct")}</th></tr></thead>
            <tbody>
              {satisfaction.data.rows.map((r) => (
                <tr key={r.group}><td>{group(sBy, r.group)}</td><td>{r.revisits}</td><td>{r.mean_score ?? "—"}</td>
                  <td>{pct(r.satisfied_pct)}</td></tr>
              ))}
            </tbody>
          </table>
        ) : <p className="muted">{t("reports.noData")}</p>)}
      </Section>

      <Section title={t("stats.conversion")} actions={
        <select aria-label={t("reports.groupBy")} value={cBy} onChange={(e) => setCBy(e.target.value as ConversionBy)}>
          <option value="account_manager">{t("stats.by.account_manager")}</option>
          <option value="channel">{t("stats.by.channel")}</option>
        </select>}>
        <ErrorBox error={conversion.error} onRetry={conversion.reload} />
        {conversion.data && (conversion.data.rows.length ? (
          <table className="table" aria-label={t("stats.conversion")}>
            <thead><tr><th>{t(`stats.by.${cBy}`)}</th><th>{t("stats.created")}</th><th>{t("stats.confirmed")}</th>
              <th>{t("stats.lost")}</th><th>{t("stats.open")}</th><th>{t("stats.conversionPct")}</th></tr></thead>
            <tbody>
              {conversion.data.rows.map((r) => (
                <tr key={r.group}><td>{r.group}</td><td>{r.created}</td><td>{r.confirmed}</td><td>{r.lost}</td>
                  <td>{r.open}</td><td>{pct(r.conversion_pct)}</td></tr>
              ))}
            </tbody>
          </table>
        ) : <p className="muted">{t("reports.noData")}</p>)}
      </Section>

      {reads && (
        <Section title={t("stats.dailyReports")}>
          <ErrorBox error={reports.error} onRetry={reports.reload} />
          {reports.data && (reports.data.items.length ? (
            <table className="table" aria-label={t("stats.dailyReports")}>
              <thead><tr><th>{t("reports.day")}</th><th>{t("stats.status")}</th><th>{t("stats.generatedAt")}</th>
                <th>{t("stats.rows")}</th><th /></tr></thead>
              <tbody>
                {reports.data.items.map((r) => (
                  <tr key={r.day}>
                    <td>{r.day}</td><td>{t(r.status === "done" ? "stats.done" : "stats.pending")}</td>
                    <td>{r.generated_at ? formatDateTime(r.generated_at, lang) : "—"}</td><td>{r.rows ?? "—"}</td>
                    <td>{r.status === "done" && (
                      <button type="button" onClick={() => download(`/api/v1/stats/reports/${encodeURIComponent(r.day)}/download`,
                        r.filename ?? `daily-report-${r.day}.csv`)}>{t("reports.csv")}</button>)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : <p className="muted">{t("reports.noData")}</p>)}
        </Section>
      )}
    </div>
  );
}
