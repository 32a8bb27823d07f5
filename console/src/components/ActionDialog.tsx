// The action dialog of a ticket node: exactly the actions this user may take now and, for `complete`,
// exactly the node's outcomes with where each leads, as the EOMS bridge's domain says them (the
// ticket's `allowed_actions` for the caller and `allowed_outcomes`). A 409 (someone else claimed it
// first, stale version) is shown plainly.
import { useState } from "react";
import { api, isApiError } from "../api/client";
import type { Ticket, TicketActionName } from "../api/types";
import { useI18n } from "../i18n";
import { useLabels } from "../lib/labels";
import { ErrorBox, Modal } from "./common";

export function ActionDialog({ ticket, onClose, onDone, only }: {
  ticket: Ticket;
  onClose: () => void;
  onDone: (t: Ticket, action: TicketActionName) => void;
  /** restrict to these actions (e.g. the queue's claim button) */
  only?: TicketActionName[];
}) {
  const { t } = useI18n();
  const labels = useLabels();
  const actions = ticket.allowed_actions.filter((a) => !only || only.includes(a));
  const outcomes = ticket.allowed_outcomes;
  const [action, setAction] = useState<TicketActionName | "">(actions[0] ?? "");
  const [outcome, setOutcome] = useState("");
  const [reason, setReason] = useState("");
  const [to, setTo] = useState("");
  const [data, setData] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const fieldErrors = isApiError(error) ? error.fieldErrors : {};

  const submit = async () => {
    if (!action) return;
    let parsed: Record<string, unknown> = {};
    if (action === "complete" && data.trim()) {
      try {
        const v: unknown = JSON.parse(data);
        if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error();
        parsed = v as Record<string, unknown>;
      } catch {
        setError(new Error(t("action.badJson")));
        return;
      }
    }
    setBusy(true);
    setError(null);
    try {
      const body = {
        expected_version: ticket.version,
        ...(action === "complete" ? { outcome, data: parsed } : {}),
        ...(reason.trim() ? { reason: reason.trim() } : {}),
        ...(action === "reassign" ? { to: to.trim() } : {}),
      };
      const res = await api.post("eoms", "/api/v1/tickets/{ticket_id}/actions/{action}", {
        path: { ticket_id: ticket.id, action }, body,
      });
      onDone(res, action);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const needsReason = action === "return" || action === "suspend" || action === "hold" || action === "cancel"
    || (action === "complete" && outcomes.some((o) => o.outcome === outcome && o.needs_reason));
  const conflict = isApiError(error, 409);

  return (
    <Modal title={t("action.dialogTitle", { node: labels.text(ticket.current_node_title, labels.node(ticket.current_node)) })}
      onClose={onClose}>
      {actions.length === 0 ? <p>{t("action.noActions")}</p> : (
        <form className="form" onSubmit={(e) => { e.preventDefault(); void submit(); }}>
          <fieldset className="radios">
            <legend>{t("action.choose")}</legend>
            {actions.map((a) => (
              <label key={a}>
                <input type="radio" name="action" value={a} checked={action === a} onChange={() => setAction(a)} />
                {t(`action.${a}`)}
              </label>
            ))}
          </fieldset>
          {action === "complete" && (
            <label>
              {t("action.outcome")}
              <select value={outcome} onChange={(e) => setOutcome(e.target.value)} required name="outcome"
                aria-invalid={!!fieldErrors.outcome}>
                <option value="">{t("form.select")}</option>
                {outcomes.map((o) => (
                  <option key={o.outcome} value={o.outcome}>
                    {labels.text(o.label)}{" "}
                    {o.next_node === "$resolved" ? t("action.terminalResolved") : o.next_node === "$rejected"
                      ? t("action.terminalRejected") : t("action.toNode", { node: labels.text(o.next_title, o.next_node) })}
                  </option>
                ))}
              </select>
              {fieldErrors.outcome?.map((m) => <span key={m} className="field-error">{m}</span>)}
            </label>
          )}
          {action === "complete" && (
            <label>
              {t("action.data")}
              <textarea value={data} onChange={(e) => setData(e.target.value)} rows={3} name="data" />
            </label>
          )}
          {(needsReason || action === "complete" || action === "reassign" || action === "release") && (
            <label>
              {t("action.reason")}
              <textarea value={reason} onChange={(e) => setReason(e.target.value)} rows={2} name="reason"
                required={needsReason} aria-invalid={!!fieldErrors.reason} />
              {fieldErrors.reason?.map((m) => <span key={m} className="field-error">{m}</span>)}
            </label>
          )}
          {action === "reassign" && (
            <label>
              {t("action.to")}
              <input value={to} onChange={(e) => setTo(e.target.value)} required name="to" aria-invalid={!!fieldErrors.to} />
              {fieldErrors.to?.map((m) => <span key={m} className="field-error">{m}</span>)}
            </label>
          )}
          {conflict && (
            <p className="error conflict" role="alert">
              {t("queue.conflict", { detail: isApiError(error) ? (error.problem?.detail ?? error.message) : "" })}
            </p>
          )}
          {error !== null && !conflict && <ErrorBox error={error} />}
          <div className="buttons">
            <button type="submit" className="primary" disabled={busy || !action}>{action ? t(`action.${action}`) : t("app.submit")}</button>
            <button type="button" onClick={onClose}>{t("app.cancel")}</button>
          </div>
        </form>
      )}
    </Modal>
  );
}
