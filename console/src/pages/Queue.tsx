// Work queue: the open node tasks of a role, oldest first, with the node's SLA time left (the SLA
// service's timers of the page's tickets); claim (accept), then the action dialog; a claim someone
// else won is a 409, shown plainly; then the next item.
import { useMemo, useState } from "react";
import { api, isApiError } from "../api/client";
import type { BoardTimer, QueueTask, Ticket, TicketActionName } from "../api/types";
import { hasRole } from "../auth/session";
import { openTimersOf } from "../board/data";
import { rowOf, secondsLeft } from "../board/model";
import { ActionDialog } from "../components/ActionDialog";
import { Badge } from "../components/common";
import { ListStatus, TaskCells, TaskHeads, WaitingCell } from "../components/TaskCells";
import { useI18n } from "../i18n";
import { useAsync, useNow, useSession } from "../lib/hooks";
import { useLabels } from "../lib/labels";
import { TimeLeft } from "./Board";

type Filter = "all" | "unassigned" | "mine";

export default function Queue() {
  const { t, lang } = useI18n();
  const labels = useLabels();
  const session = useSession();
  const roles = session?.nodeRoles ?? [];
  const readsSla = hasRole(session, "network_staff", "supervisor", "admin");
  const [role, setRole] = useState(roles[0] ?? "");
  const [filter, setFilter] = useState<Filter>("all");
  const [extra, setExtra] = useState<QueueTask[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [working, setWorking] = useState<Ticket | null>(null);
  const [conflict, setConflict] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const now = useNow(1000);

  const queue = useAsync(async (signal) => {
    if (!role) return null;
    const page = await api.get("eoms", "/api/v1/queues/{role}", {
      path: { role: role as never },
      query: { limit: 50, unassigned: filter === "unassigned", assignee: filter === "mine" ? session?.subject : undefined },
      signal,
    });
    setExtra([]);
    setCursor(page.next_cursor ?? null);
    return page;
  }, [role, filter, session?.subject]);

  const more = async () => {
    if (!cursor) return;
    const page = await api.get("eoms", "/api/v1/queues/{role}", {
      path: { role: role as never },
      query: { limit: 50, cursor, unassigned: filter === "unassigned", assignee: filter === "mine" ? session?.subject : undefined },
    });
    setExtra((x) => [...x, ...page.items]);
    setCursor(page.next_cursor ?? null);
  };

  const open = async (ticketId: string) => {
    setError(null);
    try {
      setWorking(await api.get("eoms", "/api/v1/tickets/{ticket_id}", { path: { ticket_id: ticketId } }));
    } catch (e) {
      setError(e);
    }
  };

  const claim = async (task: QueueTask) => {
    setConflict(null);
    setNotice(null);
    setError(null);
    try {
      const tk = await api.post("eoms", "/api/v1/tickets/{ticket_id}/actions/{action}", {
        path: { ticket_id: task.ticket_id, action: "accept" }, body: { expected_version: task.version },
      });
      setNotice(t("queue.claimed", { id: task.ticket_id }));
      setWorking(tk);
    } catch (e) {
      if (isApiError(e, 409)) {
        setConflict(e.problem?.detail ?? e.message);
        queue.reload();
      } else setError(e);
    }
  };

  const items = useMemo(() => [...(queue.data?.items ?? []), ...extra], [queue.data, extra]);
  const next = items.find((i) => i.assignee === null);
  // the SLA's open timers of the listed tickets (only the SLA knows a node's deadline)
  const ticketIds = useMemo(() => [...new Set(items.map((i) => i.ticket_id))], [items]);
  const timers = useAsync(async (signal) => {
    const found = readsSla && ticketIds.length ? await openTimersOf(ticketIds, signal) : new Map<string, BoardTimer[]>();
    return { found, at: Date.now() };
  }, [readsSla, ticketIds.join(",")]);
  const timerOf = (task: QueueTask) => {
    const d = timers.data;
    const timer = d?.found.get(task.ticket_id)?.find((x) => x.node === task.node);
    return d && timer ? rowOf(timer, d.at) : null;
  };

  if (!roles.length) return <p>{t("queue.noRoles")}</p>;
  return (
    <div>
      <div className="page-head">
        <h1>{t("queue.title")}</h1>
        <label>
          {t("queue.role")}
          <select value={role} onChange={(e) => setRole(e.target.value)} data-testid="queue-role">
            {roles.map((r) => <option key={r} value={r}>{labels.role(r)}</option>)}
          </select>
        </label>
        <label>
          <select value={filter} onChange={(e) => setFilter(e.target.value as Filter)} aria-label={t("board.filters")}>
            <option value="all">{t("app.all")}</option>
            <option value="unassigned">{t("queue.onlyUnassigned")}</option>
            <option value="mine">{t("queue.mine")}</option>
          </select>
        </label>
        <button type="button" onClick={queue.reload}>{t("app.refresh")}</button>
      </div>
      {conflict && <p className="error conflict" role="alert">{t("queue.conflict", { detail: conflict })}</p>}
      {notice && <p className="ok" role="status">{notice}</p>}
      <ListStatus error={error ?? queue.error} loading={queue.loading} loaded={!!queue.data} count={items.length}
        empty={t("queue.empty")} />
      {items.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <TaskHeads />
              <th>{t("queue.col.state")}</th><th>{t("queue.col.assignee")}</th><th>{t("queue.waiting")}</th>
              {readsSla && <th>{t("queue.timeLeft")}</th>}<th />
            </tr>
          </thead>
          <tbody>
            {items.map((i) => (
              <tr key={`${i.ticket_id}-${i.node}`} data-ticket={i.ticket_id}>
                <TaskCells task={i} />
                <td><Badge kind={i.state}>{labels.state(i.state)}</Badge></td>
                <td>{i.assignee ?? <span className="muted">{t("board.unassigned")}</span>}</td>
                <WaitingCell since={i.node_entered_at} now={now} />
                {readsSla && (
                  <td data-col="time-left">
                    {(() => {
                      const row = timerOf(i);
                      return row
                        ? <TimeLeft seconds={secondsLeft(row, now)} business={row.clock === "working"} running={row.countdown.running} t={t} lang={lang} />
                        : <span className="muted">—</span>;
                    })()}
                  </td>
                )}
                <td className="buttons">
                  {i.assignee === null && <button type="button" className="primary" onClick={() => void claim(i)}>{t("queue.claim")}</button>}
                  {i.assignee === session?.subject && <button type="button" onClick={() => void open(i.ticket_id)}>{t("queue.act")}</button>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {cursor && <button type="button" onClick={() => void more()}>{t("app.more")}</button>}
      {!working && next && notice && (
        <button type="button" onClick={() => void claim(next)}>{t("queue.next")}</button>
      )}
      {working && (
        <ActionDialog ticket={working}
          onClose={() => { setWorking(null); queue.reload(); }}
          onDone={(_tk, action: TicketActionName) => {
            setWorking(null);
            setNotice(t("action.done", { action: t(`action.${action}`) }));
            queue.reload();
          }} />
      )}
    </div>
  );
}
