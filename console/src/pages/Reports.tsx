// Compliance and trends: SLA compliance and node times per group, breaches per Shanghai day, over a
// period (ECharts); CSV of exactly what is charted.
import { useMemo, useState } from "react";
import { api } from "../api/client";
import { Chart } from "../components/Chart";
import { ErrorBox, Loading, Section } from "../components/common";
import { useI18n } from "../i18n";
import type { MessageKey } from "../i18n/zh-CN";
import { downloadCsv, toCsv } from "../lib/csv";
import { useAsync } from "../lib/hooks";
import { useLabels } from "../lib/labels";
import { useProducts } from "../lib/products";
import { isoToShanghaiInput, minutes, shanghaiInputToIso } from "../lib/time";

const GROUPS = ["node", "business_type", "ticket_kind", "tier", "account_manager", "role"] as const;
type Group = (typeof GROUPS)[number];

function period(days: number): { from: string; to: string } {
  const to = Date.now();
  return { from: isoToShanghaiInput(to - days * 86400000), to: isoToShanghaiInput(to + 60000) };
}

export default function Reports() {
  const { t } = useI18n();
  const labels = useLabels();
  const { name: productName } = useProducts();
  const [groupBy, setGroupBy] = useState<Group>("node");
  const [draft, setDraft] = useState(() => period(30));
  const [applied, setApplied] = useState(draft);

  const data = useAsync(async (signal) => {
    const range = { from: shanghaiInputToIso(applied.from), to: shanghaiInputToIso(applied.to) };
    const [compliance, nodeTimes, breaches] = await Promise.all([
      api.get("sla", "/api/v1/reports/compliance", { query: { group_by: groupBy, ...range }, signal }),
      api.get("sla", "/api/v1/reports/node-times", { query: { group_by: groupBy, ...range }, signal }),
      api.get("sla", "/api/v1/reports/breaches", { query: { ...range, bucket: "day", tz: "Asia/Shanghai" }, signal }),
    ]);
    return { compliance, nodeTimes, breaches };
  }, [groupBy, applied.from, applied.to]);

  const groupLabel = useMemo(() => (g: string | null): string => {
    if (g === null) return "—";
    switch (groupBy) {
      case "node": return labels.node(g);
      case "role": return labels.role(g);
      case "ticket_kind": return labels.ticketKind(g);
      case "business_type": return labels.businessType(g, productName);
      case "tier": return t(`tier.${g}` as MessageKey);
      default: return g;
    }
  }, [groupBy, labels, productName, t]);

  const compliance = useMemo(() => data.data?.compliance.rows ?? [], [data.data]);
  const nodeTimes = useMemo(() => data.data?.nodeTimes.rows ?? [], [data.data]);
  const cats = compliance.map((r) => groupLabel(r.group));
  const complianceOption = useMemo(() => ({
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 48, right: 48, bottom: 100, top: 56 },
    xAxis: { type: "category", data: cats, axisLabel: { rotate: 30, interval: 0, width: 120, overflow: "truncate" } },
    yAxis: [{ type: "value", name: t("reports.judged") }, { type: "value", name: "%", max: 100 }],
    series: [
      { type: "bar", stack: "n", name: t("reports.onTime"), data: compliance.map((r) => r.on_time), color: "#3ba272" },
      { type: "bar", stack: "n", name: t("reports.late"), data: compliance.map((r) => r.completed_late), color: "#fac858" },
      { type: "bar", stack: "n", name: t("reports.openBreached"), data: compliance.map((r) => r.open_breached), color: "#ee6666" },
      { type: "line", yAxisIndex: 1, name: t("reports.compliancePct"), data: compliance.map((r) => r.compliance_pct), color: "#5470c6" },
    ],
  }), [cats, compliance, t]);
  const ntCats = nodeTimes.map((r) => groupLabel(r.group));
  const nodeTimesOption = useMemo(() => ({
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 48, right: 24, bottom: 100, top: 56 },
    xAxis: { type: "category", data: ntCats, axisLabel: { rotate: 30, interval: 0, width: 120, overflow: "truncate" } },
    yAxis: { type: "value", name: t("reports.p90") },
    series: [
      { type: "bar", name: t("reports.p50"), data: nodeTimes.map((r) => minutes(r.p50_s)) },
      { type: "bar", name: t("reports.p90"), data: nodeTimes.map((r) => minutes(r.p90_s)) },
    ],
  }), [ntCats, nodeTimes, t]);

  const breaches = useMemo(() => data.data?.breaches.rows ?? [], [data.data]);
  const breachesOption = useMemo(() => ({
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 48, right: 24, bottom: 60, top: 56 },
    xAxis: { type: "category", data: breaches.map((r) => r.day) },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      { type: "bar", name: t("reports.breached"), data: breaches.map((r) => r.breached), color: "#ee6666" },
      { type: "bar", name: t("reports.escalated"), data: breaches.map((r) => r.escalated), color: "#9a60b4" },
    ],
  }), [breaches, t]);

  const stamp = `${applied.from}_${applied.to}`.replace(/[:T]/g, "");
  const complianceCsv = () => downloadCsv(`sla-compliance-${groupBy}-${stamp}.csv`, toCsv(
    [t(`reports.group.${groupBy}`), groupBy, t("reports.judged"), t("reports.onTime"), t("reports.late"),
      t("reports.openBreached"), t("reports.compliancePct")],
    compliance.map((r) => [groupLabel(r.group), r.group, r.judged, r.on_time, r.completed_late, r.open_breached, r.compliance_pct]),
  ));
  const nodeTimesCsv = () => downloadCsv(`sla-node-times-${groupBy}-${stamp}.csv`, toCsv(
    [t(`reports.group.${groupBy}`), groupBy, t("reports.completed"), t("reports.p50"), t("reports.p90")],
    nodeTimes.map((r) => [groupLabel(r.group), r.group, r.completed, minutes(r.p50_s), minutes(r.p90_s)]),
  ));

  const breachesCsv = () => downloadCsv(`sla-breaches-per-day-${stamp}.csv`, toCsv(
    [t("reports.day"), t("reports.breached"), t("reports.escalated")],
    breaches.map((r) => [r.day, r.breached, r.escalated]),
  ));

  return (
    <div>
      <div className="page-head"><h1>{t("reports.title")}</h1></div>
      <form className="filters" onSubmit={(e) => { e.preventDefault(); setApplied(draft); }}>
        <label>{t("reports.groupBy")}
          <select value={groupBy} onChange={(e) => setGroupBy(e.target.value as Group)}>
            {GROUPS.map((g) => <option key={g} value={g}>{t(`reports.group.${g}`)}</option>)}
          </select>
        </label>
        <label>{t("reports.from")}
          <input type="datetime-local" value={draft.from} onChange={(e) => setDraft((d) => ({ ...d, from: e.target.value }))} />
        </label>
        <label>{t("reports.to")}
          <input type="datetime-local" value={draft.to} onChange={(e) => setDraft((d) => ({ ...d, to: e.target.value }))} />
        </label>
        <button type="submit" className="primary">{t("reports.apply")}</button>
        {([7, 30, 90] as const).map((d) => (
          <button key={d} type="button" onClick={() => { const p = period(d); setDraft(p); setApplied(p); }}>
            {t(`reports.days${d}`)}
          </button>
        ))}
      </form>
      {data.loading && <Loading />}
      <ErrorBox error={data.error} onRetry={data.reload} />
      {data.data && (
        <>
          <Section title={t("reports.compliance")}
            actions={<button type="button" onClick={complianceCsv} disabled={!compliance.length}>{t("reports.csv")}</button>}>
            {compliance.length ? <Chart option={complianceOption} label={t("reports.compliance")} />
              : <p className="muted">{t("reports.noData")}</p>}
          </Section>
          <Section title={t("reports.nodeTimes")}
            actions={<button type="button" onClick={nodeTimesCsv} disabled={!nodeTimes.length}>{t("reports.csv")}</button>}>
            {nodeTimes.length ? <Chart option={nodeTimesOption} label={t("reports.nodeTimes")} />
              : <p className="muted">{t("reports.noData")}</p>}
          </Section>
          <Section title={t("reports.breachesPerDay")}
            actions={<button type="button" onClick={breachesCsv} disabled={!breaches.length}>{t("reports.csv")}</button>}>
            {breaches.some((r) => r.breached || r.escalated)
              ? <Chart option={breachesOption} label={t("reports.breachesPerDay")} />
              : <p className="muted">{t("reports.noData")}</p>}
          </Section>
        </>
      )}
    </div>
  );
}
