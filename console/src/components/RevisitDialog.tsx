import { useState } from "react";
import { api, isApiError } from "../api/client";
import type { Complaint } from "../api/types";
import { useI18n } from "../i18n";
import { ErrorBox, Modal } from "./common";

/** Revisit a resolved complaint with the customer's satisfaction (1..5). */
export function RevisitDialog({ complaint, onClose, onDone }: {
  complaint: Complaint; onClose: () => void; onDone: (c: Complaint) => void;
}) {
  const { t } = useI18n();
  const [satisfaction, setSatisfaction] = useState(5);
  const [note, setNote] = useState("");
  const [error, setError] = useState<unknown>(null);
  const fe = isApiError(error) ? error.fieldErrors : {};
  const submit = async () => {
    try {
      onDone(await api.post("crm", "/api/v1/complaints/{complaint_id}/{action}", {
        path: { complaint_id: complaint.id, action: "revisit" },
        body: { satisfaction, note: note.trim() || null },
        headers: { "Idempotency-Key": crypto.randomUUID() },
      }));
    } catch (e) {
      setError(e);
    }
  };
  return (
    <Modal title={`${t("wb.revisit")} · ${complaint.id}`} onClose={onClose}>
      <form className="form" noValidate onSubmit={(e) => { e.preventDefault(); void submit(); }}>
        <fieldset className="radios">
          <legend>{t("wb.satisfaction")}</legend>
          {[1, 2, 3, 4, 5].map((n) => (
            <label key={n}>
              <input type="radio" name="satisfaction" checked={satisfaction === n} onChange={() => setSatisfaction(n)} />
              {"★".repeat(n)}
            </label>
          ))}
          {fe.satisfaction && <span className="field-error" role="alert">{fe.satisfaction.join("; ")}</span>}
        </fieldset>
        <label>{t("wb.note")}<textarea value={note} onChange={(e) => setNote(e.target.value)} rows={2} /></label>
        {error !== null && !fe.satisfaction && <ErrorBox error={error} />}
        <div className="buttons">
          <button type="submit" className="primary">{t("wb.revisit")}</button>
          <button type="button" onClick={onClose}>{t("app.cancel")}</button>
        </div>
      </form>
    </Modal>
  );
}
