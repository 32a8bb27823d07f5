// The notification directory (notify): people, roles, departments; phone and e-mail masked.
import { useState } from "react";
import { api } from "../../api/client";
import { ErrorBox, Loading } from "../../components/common";
import { useI18n } from "../../i18n";
import { useAsync } from "../../lib/hooks";
import { useLabels } from "../../lib/labels";

export default function Directory() {
  const { t, tv } = useI18n();
  const labels = useLabels();
  const [role, setRole] = useState("");
  const people = useAsync((signal) => api.get("notify", "/api/v1/directory/people", { query: { role: role || undefined }, signal }), [role]);
  const roles = [...new Set(people.data?.items.flatMap((p) => p.roles) ?? [])].sort();
  return (
    <div>
      <div className="page-head">
        <h1>{t("admin.directory")}</h1>
        {people.data?.version != null && <span className="muted">{t("admin.dir.version", { v: people.data.version })}</span>}
        <label>{t("admin.dir.roles")}
          <select value={role} onChange={(e) => setRole(e.target.value)}>
            <option value="">{t("app.all")}</option>
            {(role ? [role] : roles).map((r) => <option key={r} value={r}>{labels.role(r)}</option>)}
          </select>
        </label>
      </div>
      <ErrorBox error={people.error} />
      {people.loading && !people.data && <Loading />}
      {people.data && (
        <table className="table">
          <thead>
            <tr>
              <th>ID</th><th>{t("admin.dir.name")}</th><th>{t("admin.dir.roles")}</th><th>{t("admin.dir.department")}</th>
              <th>{t("admin.dir.phone")}</th><th>{t("admin.dir.email")}</th><th>{t("admin.dir.language")}</th>
              <th>{t("admin.dir.quiet")}</th><th>{t("admin.dir.active")}</th>
            </tr>
          </thead>
          <tbody>
            {people.data.items.map((p) => (
              <tr key={p.id}>
                <td><code>{p.id}</code></td>
                <td>{p.name}</td>
                <td>{p.roles.map((r) => labels.role(r)).join(", ")}</td>
                <td>{p.department}</td>
                <td><code>{p.phone ?? "—"}</code></td>
                <td><code>{p.email ?? "—"}</code></td>
                <td>{tv("lang", p.language)}</td>
                <td>{p.quiet_hours ?? "—"}</td>
                <td>{p.active ? t("app.yes") : t("app.no")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
