// SLA policy versions: list, view, validate an uploaded YAML (the refusal shown at the rule, field
// and line), load, activate. Loading and activating are the admin's; others read.
import { useState } from "react";
import { api, isApiError, rawRequest } from "../../api/client";
import type { PolicyDetail } from "../../api/types";
import { hasRole } from "../../auth/session";
import { Badge, ErrorBox, Loading, Section } from "../../components/common";
import { useI18n } from "../../i18n";
import { useAsync, useSession } from "../../lib/hooks";
import { locateErrors, type LocatedError } from "../../lib/policyErrors";
import { formatDateTime } from "../../lib/time";

type Verdict =
  | { kind: "valid"; version: string; rules: number; calendars: number }
  | { kind: "invalid"; errors: LocatedError[] }
  | { kind: "loaded"; version: string }
  | { kind: "error"; error: unknown };

export default function Policies() {
  const { t, lang } = useI18n();
  const session = useSession();
  const admin = hasRole(session, "admin");
  const list = useAsync((signal) => api.get("sla", "/api/v1/policies", { signal }), []);
  const [viewing, setViewing] = useState<PolicyDetail | null>(null);
  const [text, setText] = useState("");
  const [fileName, setFileName] = useState("");
  const [verdict, setVerdict] = useState<Verdict | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const contentType = fileName.endsWith(".json") || text.trimStart().startsWith("{") ? "application/json" : "application/yaml";
  const send = async (path: string) => {
    setVerdict(null);
    try {
      const res = await rawRequest("sla", path, { method: "POST", headers: { "Content-Type": contentType }, body: text });
      return res as Record<string, unknown>;
    } catch (e) {
      if (isApiError(e, 422)) setVerdict({ kind: "invalid", errors: locateErrors(text, e.problem?.errors ?? []) });
      else setVerdict({ kind: "error", error: e });
      return null;
    }
  };
  const validate = async () => {
    const r = await send("/api/v1/policies/validate");
    if (r) setVerdict({ kind: "valid", version: String(r.version), rules: Number(r.rules), calendars: Number(r.calendars) });
  };
  const load = async (activate: boolean) => {
    const r = await send(`/api/v1/policies?activate=${activate}`);
    if (r) {
      setVerdict({ kind: "loaded", version: String(r.version) });
      list.reload();
    }
  };
  const activate = async (version: string) => {
    setError(null);
    try {
      await api.post("sla", "/api/v1/policies/{version}/activate", { path: { version } });
      setNotice(t("admin.policy.activated", { version }));
      list.reload();
    } catch (e) {
      setError(e);
    }
  };
  const view = async (version: string) => {
    setError(null);
    try {
      setViewing(await api.get("sla", "/api/v1/policies/{version}", { path: { version } }));
    } catch (e) {
      setError(e);
    }
  };
  const badLines = new Set(verdict?.kind === "invalid" ? verdict.errors.map((e) => e.line).filter((x) => x !== null) : []);

  return (
    <div>
      <div className="page-head"><h1>{t("admin.policies")}</h1></div>
      {notice && <p className="ok" role="status">{notice}</p>}
      <ErrorBox error={error ?? list.error} />
      {list.loading && !list.data && <Loading />}
      {list.data && (
        <table className="table">
          <thead>
            <tr>
              <th>{t("admin.policy.version")}</th><th>{t("admin.policy.loadedAt")}</th><th>{t("admin.policy.loadedBy")}</th>
              <th>{t("admin.policy.source")}</th><th>{t("admin.policy.rules")}</th><th>{t("admin.policy.calendars")}</th><th />
            </tr>
          </thead>
          <tbody>
            {list.data.map((p) => (
              <tr key={p.version} data-version={p.version}>
                <td>{p.version} {p.active && <Badge kind="ok">{t("admin.policy.active")}</Badge>}</td>
                <td>{formatDateTime(p.loaded_at, lang)}</td>
                <td>{p.loaded_by}</td>
                <td>{p.source}</td>
                <td>{p.rules}</td>
                <td>{p.calendars}</td>
                <td className="buttons">
                  <button type="button" onClick={() => void view(p.version)}>{t("admin.policy.view")}</button>
                  {admin && !p.active && <button type="button" onClick={() => void activate(p.version)}>{t("admin.policy.activate")}</button>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {viewing && (
        <Section title={`${t("admin.policy.version")} ${viewing.version}`}
          actions={<button type="button" onClick={() => setViewing(null)}>{t("app.close")}</button>}>
          <pre className="code">{JSON.stringify(viewing.body, null, 2)}</pre>
        </Section>
      )}
      <Section title={t("admin.policy.upload")}>
        <label className="file-button">
          <input type="file" className="sr-only" accept=".yaml,.yml,.json,application/yaml,application/json"
            data-testid="policy-file"
            onChange={async (e) => {
              const f = e.target.files?.[0];
              if (!f) return;
              setFileName(f.name);
              setText(await f.text());
              setVerdict(null);
            }} />
          <span className="button-like">{t("admin.policy.chooseFile")}</span>
          <span className="muted">{fileName || t("admin.policy.noFile")}</span>
        </label>
        <textarea className="code" rows={12} value={text} onChange={(e) => { setText(e.target.value); setVerdict(null); }}
          aria-label={t("admin.policy.upload")} spellCheck={false} />
        <div className="buttons">
          <button type="button" onClick={() => void validate()} disabled={!text.trim()}>{t("admin.policy.validate")}</button>
          {admin && <button type="button" onClick={() => void load(false)} disabled={!text.trim()}>{t("admin.policy.load")}</button>}
          {admin && <button type="button" className="primary" onClick={() => void load(true)} disabled={!text.trim()}>{t("admin.policy.loadAndActivate")}</button>}
        </div>
        {!admin && <p className="muted small">{t("admin.policy.readOnly")}</p>}
        {verdict?.kind === "valid" && <p className="ok" role="status">{t("admin.policy.valid", verdict)}</p>}
        {verdict?.kind === "loaded" && <p className="ok" role="status">{t("admin.policy.loaded", verdict)}</p>}
        {verdict?.kind === "error" && <ErrorBox error={verdict.error} />}
        {verdict?.kind === "invalid" && (
          <div className="error" role="alert" data-testid="policy-refusal">
            <strong>{t("admin.policy.invalid", { n: verdict.errors.length })}</strong>
            <ul>
              {verdict.errors.map((e, i) => (
                <li key={i} data-field={e.field}>
                  <strong>
                    {e.ruleIndex !== null
                      ? t("admin.policy.atRule", { rule: e.ruleId ?? "?", index: e.ruleIndex, field: e.ruleField ?? "—" })
                      : t("admin.policy.atField", { field: e.field })}
                  </strong>
                  {e.line !== null && <> · {t("admin.policy.line", { line: e.line })}</>}
                  <div>{e.message}</div>
                </li>
              ))}
            </ul>
          </div>
        )}
        {verdict?.kind === "invalid" && (
          <pre className="code numbered">
            {text.split("\n").map((l, i) => (
              <div key={i} className={badLines.has(i + 1) ? "bad-line" : ""}><span className="ln">{i + 1}</span>{l}</div>
            ))}
          </pre>
        )}
      </Section>
    </div>
  );
}
