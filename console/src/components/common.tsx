import type { ReactNode } from "react";
import { isApiError } from "../api/client";
import { useI18n } from "../i18n";

/** An error as a person reads it: the problem's title and detail, each field error, the correlation id. */
export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useI18n();
  if (!error) return null;
  let title = t("app.error");
  let detail = error instanceof Error ? error.message : String(error);
  let fields: { field: string; message: string }[] = [];
  let correlation: string | null = null;
  if (isApiError(error)) {
    if (error.status === 403) title = t("app.forbidden");
    else if (error.problem?.title) title = `${error.problem.title} (${error.status})`;
    detail = error.problem?.detail ?? error.message;
    fields = error.problem?.errors ?? [];
    correlation = error.correlationId;
  }
  return (
    <div className="error" role="alert">
      <strong>{title}</strong>
      {detail && <div>{detail}</div>}
      {fields.length > 0 && (
        <ul>
          {fields.map((f, i) => <li key={i}><code>{f.field}</code>: {f.message}</li>)}
        </ul>
      )}
      {correlation && <div className="muted small">{t("app.correlation")}: <code>{correlation}</code></div>}
      {onRetry && <button type="button" onClick={onRetry}>{t("app.retry")}</button>}
    </div>
  );
}

export function Loading() {
  const { t } = useI18n();
  return <div className="muted" role="status">{t("app.loading")}</div>;
}

export function Section({ title, children, actions }: { title: ReactNode; children: ReactNode; actions?: ReactNode }) {
  return (
    <section className="card">
      <header className="card-head">
        <h2>{title}</h2>
        {actions && <div className="card-actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

export function Badge({ kind, children }: { kind: string; children: ReactNode }) {
  return <span className={`badge badge-${kind}`}>{children}</span>;
}

/** A notice that the API lacks what this part of the screen needs (see docs/console.md). */
export function Gap({ children }: { children: ReactNode }) {
  return <div className="gap" role="note">{children}</div>;
}

export function Modal({ title, onClose, children }: { title: ReactNode; onClose: () => void; children: ReactNode }) {
  const { t } = useI18n();
  return (
    <div className="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className="modal" role="dialog" aria-modal="true" aria-label={typeof title === "string" ? title : undefined}>
        <header className="card-head">
          <h2>{title}</h2>
          <button type="button" className="link" onClick={onClose} aria-label={t("app.close")}>✕</button>
        </header>
        {children}
      </div>
    </div>
  );
}
