// Dispatch (dispatchers, supervisors, admins): the open node tasks of a role in a region (the EOMS
// bridge's queue, `region=`), each with its assignee or "unassigned"; dispatch an unassigned one to the
// on-duty person by the role's rule (POST /api/v1/assignments/{id}/dispatch), or hand any of them to a
// named person of its role (the organisation's people: GET /api/v1/assignments/people, on duty in the
// task's region first, with their open tasks) with `reassign`. A task that changed meanwhile is a 409,
// shown plainly.
import { useState } from "react";
import { api, isApiError } from "../api/client";
import type { QueueTask } from "../api/types";
import { Badge, ErrorBox, Loading } from "../components/common";
import {
  DISPATCH_ROLES, candidatesFor, dispatchRows, regionsOf, type Candidate, type DispatchRole, type Show,
} from "../dispatch/model";
import { ListStatus, TaskCells, TaskHeads, WaitingCell } from "../components/TaskCells";
import { useI18n } from "../i18n";
import { useAsync, useNow } from "../lib/hooks";
import { useLabels } from "../lib/labels";

const REGION_KEY = "console.dispatch.region";
const PAGE = 200;

function storedRegion(): string {
  try {
    return localStorage.getItem(REGION_KEY) ?? "";
  } catch {
    return "";
  }
}

export default function Dispatch() {
  const { t } = useI18n();
  const labels = useLabels();
  const [role, setRole] = useState<DispatchRole>(DISPATCH_ROLES[0]);
  const [region, setRegionState] = useState(storedRegion);
  const [show, setShow] = useState<Show>("unassigned");
  const [assigning, setAssigning] = useState<QueueTask | null>(null);
  const [to, setTo] = useState("");
  const [notice, setNotice] = useState<string | null>(null);
  const [conflict, setConflict] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const now = useNow(5000);

  const setRegion = (r: string) => {
    setRegionState(r);
    try {
      localStorage.setItem(REGION_KEY, r); // a dispatcher's region, remembered
    } catch {
      /* private mode: for this page only */
    }
  };

  const queue = useAsync((signal) => api.get("eoms", "/api/v1/queues/{role}", {
    path: { role }, query: { limit: PAGE, region: region || undefined }, signal,
  }), [role, region]);
  // the role's people (names for the assignee column; their duty in the region chosen)
  const people = useAsync((signal) => api.get("eoms", "/api/v1/assignments/people", {
    query: { role, region: region || undefined }, signal,
  }), [role, region]);
  // whom the task being assigned can go to: on duty in ITS region
  const candidates = useAsync(async (signal) => assigning
    ? (await api.get("eoms", "/api/v1/assignments/people", {
      query: { role: assigning.role as DispatchRole, region: assigning.customer_region ?? undefined }, signal,
    })).items
    : [], [assigning?.ticket_id, assigning?.role, assigning?.customer_region]);

  const tasks = queue.data?.items ?? [];
  const rows = dispatchRows(tasks, people.data?.items ?? [], show, now);
  const offered = assigning ? candidatesFor(assigning, candidates.data ?? []) : [];
  const regions = regionsOf(tasks, region);

  const act = async (task: QueueTask, call: () => Promise<{ assignee?: string | null }>, who: (id: string) => string) => {
    setBusy(true);
    setNotice(null);
    setConflict(null);
    setError(null);
    try {
      const tk = await call();
      setNotice(t("dispatch.done", { id: task.ticket_id, name: tk.assignee ? who(tk.assignee) : "—" }));
      setAssigning(null);
    } catch (e) {
      if (isApiError(e, 409)) setConflict(e.problem?.detail ?? e.message);
      else setError(e);
    } finally {
      setBusy(false);
      queue.reload();
      people.reload();
    }
  };
  const nameOf = (list: readonly Candidate[]) => (id: string) => list.find((p) => p.id === id)?.name ?? id;
  const autoDispatch = (task: QueueTask) => act(task, () => api.post("eoms", "/api/v1/assignments/{ticket_id}/dispatch", {
    path: { ticket_id: task.ticket_id }, body: {},
  }), nameOf(people.data?.items ?? []));
  const assign = (task: QueueTask, person: string) => act(task, () => api.post("eoms", "/api/v1/tickets/{ticket_id}/actions/{action}", {
    path: { ticket_id: task.ticket_id, action: "reassign" }, body: { to: person, expected_version: task.version },
  }), nameOf(offered));

  const personLabel = (p: Candidate) => t("dispatch.person", {
    name: p.name, unit: p.department_name ?? p.department, duty: t(p.on_duty ? "dispatch.onDuty" : "dispatch.offDuty"),
    n: p.open_tasks,
  });

  return (
    <div>
      <div className="page-head">
        <h1>{t("dispatch.title")}</h1>
        <label>
          {t("queue.role")}
          <select value={role} data-testid="dispatch-role"
            onChange={(e) => { setRole(e.target.value as DispatchRole); setAssigning(null); }}>
            {DISPATCH_ROLES.map((r) => <option key={r} value={r}>{labels.role(r)}</option>)}
          </select>
        </label>
        <label>
          {t("dispatch.region")}
          <select value={region} data-testid="dispatch-region"
            onChange={(e) => { setRegion(e.target.value); setAssigning(null); }}>
            <option value="">{t("dispatch.allRegions")}</option>
            {regions.map((r) => <option key={r} value={r}>{r}</option>)}
          </select>
        </label>
        <label>
          <select value={show} onChange={(e) => setShow(e.target.value as Show)} aria-label={t("board.filters")}
            data-testid="dispatch-show">
            <option value="unassigned">{t("queue.onlyUnassigned")}</option>
            <option value="all">{t("app.all")}</option>
          </select>
        </label>
        <button type="button" onClick={() => { queue.reload(); people.reload(); }}>{t("app.refresh")}</button>
      </div>
      <p className="muted small">{t("dispatch.hint")}</p>
      {conflict && <p className="error conflict" role="alert">{t("dispatch.conflict", { detail: conflict })}</p>}
      {notice && <p className="ok" role="status">{notice}</p>}
      <ListStatus error={error ?? queue.error ?? people.error} loading={queue.loading} loaded={!!queue.data}
        count={rows.length} empty={t("dispatch.empty")} />
      {rows.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <TaskHeads />
              <th>{t("dispatch.region")}</th><th>{t("queue.col.state")}</th><th>{t("queue.col.assignee")}</th>
              <th>{t("queue.waiting")}</th><th />
            </tr>
          </thead>
          <tbody>
            {rows.map(({ task: i, assignee }) => (
              <tr key={`${i.ticket_id}-${i.node}`} data-ticket={i.ticket_id}>
                <TaskCells task={i} />
                <td>{i.customer_region ?? "—"}</td>
                <td><Badge kind={i.state}>{labels.state(i.state)}</Badge></td>
                <td data-col="assignee">{assignee ?? <span className="muted">{t("board.unassigned")}</span>}</td>
                <WaitingCell since={i.node_entered_at} now={now} />
                <td className="buttons">
                  {i.assignee === null && (
                    <button type="button" className="primary" disabled={busy} onClick={() => void autoDispatch(i)}>
                      {t("dispatch.auto")}
                    </button>
                  )}
                  <button type="button" disabled={busy}
                    onClick={() => { setAssigning(i); setTo(""); setConflict(null); setNotice(null); }}>
                    {t(i.assignee === null ? "dispatch.assign" : "dispatch.reassign")}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {assigning && (
        <section className="card" data-testid="assign-panel">
          <h2>{t("dispatch.assignTitle", { id: assigning.ticket_id, node: labels.text(assigning.node_title, labels.node(assigning.node)) })}</h2>
          {candidates.loading && <Loading />}
          <ErrorBox error={candidates.error} />
          {candidates.data && offered.length === 0 && <p className="muted">{t("dispatch.nobody")}</p>}
          {offered.length > 0 && (
            <form onSubmit={(e) => { e.preventDefault(); if (to) void assign(assigning, to); }}>
              <label>
                {t("dispatch.to")}
                <select value={to} onChange={(e) => setTo(e.target.value)} data-testid="assign-to" required>
                  <option value="">{t("dispatch.choose")}</option>
                  {offered.map((p) => <option key={p.id} value={p.id}>{personLabel(p)}</option>)}
                </select>
              </label>
              <button type="submit" className="primary" disabled={busy || !to}>{t("dispatch.send")}</button>
              <button type="button" onClick={() => setAssigning(null)}>{t("app.cancel")}</button>
            </form>
          )}
        </section>
      )}
    </div>
  );
}
