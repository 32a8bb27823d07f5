// Tasks assigned to me (every role that works nodes): the open node tasks dispatched to or claimed by
// the caller, across their roles, oldest first (GET /api/v1/assignments/mine); each opens on its ticket,
// where the action dialog offers what the node allows.
import { useState } from "react";
import { Link } from "react-router";
import { api } from "../api/client";
import type { QueueTask } from "../api/types";
import { Badge } from "../components/common";
import { ListStatus, TaskCells, TaskHeads, WaitingCell } from "../components/TaskCells";
import { useI18n } from "../i18n";
import { useAsync, useNow } from "../lib/hooks";
import { useLabels } from "../lib/labels";

export default function Mine() {
  const { t } = useI18n();
  const labels = useLabels();
  const [extra, setExtra] = useState<QueueTask[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const now = useNow(5000);
  const mine = useAsync(async (signal) => {
    const page = await api.get("eoms", "/api/v1/assignments/mine", { query: { limit: 100 }, signal });
    setExtra([]);
    setCursor(page.next_cursor ?? null);
    return page;
  }, []);
  const more = async () => {
    if (!cursor) return;
    const page = await api.get("eoms", "/api/v1/assignments/mine", { query: { limit: 100, cursor } });
    setExtra((x) => [...x, ...page.items]);
    setCursor(page.next_cursor ?? null);
  };
  const items = [...(mine.data?.items ?? []), ...extra];
  return (
    <div>
      <div className="page-head">
        <h1>{t("mine.title")}</h1>
        <button type="button" onClick={mine.reload}>{t("app.refresh")}</button>
      </div>
      <ListStatus error={mine.error} loading={mine.loading} loaded={!!mine.data} count={items.length} empty={t("mine.empty")} />
      {items.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <TaskHeads /><th>{t("queue.role")}</th><th>{t("dispatch.region")}</th><th>{t("queue.col.state")}</th>
              <th>{t("queue.waiting")}</th><th />
            </tr>
          </thead>
          <tbody>
            {items.map((i) => (
              <tr key={`${i.ticket_id}-${i.node}`} data-ticket={i.ticket_id}>
                <TaskCells task={i} />
                <td>{labels.role(i.role)}</td>
                <td>{i.customer_region ?? "—"}</td>
                <td><Badge kind={i.state}>{labels.state(i.state)}</Badge></td>
                <WaitingCell since={i.node_entered_at} now={now} />
                <td className="buttons"><Link className="button" to={`/tickets/${i.ticket_id}`}>{t("mine.work")}</Link></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {cursor && <button type="button" onClick={() => void more()}>{t("app.more")}</button>}
    </div>
  );
}
