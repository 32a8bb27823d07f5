// Complaint registration (category, severity, product, the affected service, description).
import { useState } from "react";
import { api, isApiError } from "../api/client";
import type { Complaint, ComplaintIn, Customer } from "../api/types";
import { useI18n } from "../i18n";
import { useProducts } from "../lib/products";
import { ErrorBox } from "./common";

const CATEGORIES = ["fault", "service_quality", "billing", "business_handling", "other"] as const;
const SEVERITIES = ["low", "medium", "high", "critical"] as const;

export function ComplaintForm({ customers, onCreated }: { customers: Customer[]; onCreated: (c: Complaint) => void }) {
  const { t } = useI18n();
  const { products, name } = useProducts();
  const [form, setForm] = useState({
    customer_id: customers[0]?.id ?? "", category: "fault" as ComplaintIn["category"],
    severity: "medium" as ComplaintIn["severity"], product: "", service_ref: "", description: "",
  });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [idemKey, setIdemKey] = useState(() => crypto.randomUUID());
  const fe = isApiError(error) ? error.fieldErrors : {};
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value }));
  const err = (k: string) => fe[k]?.length ? <span className="field-error" role="alert">{fe[k]?.join("; ")}</span> : null;

  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      const c = await api.post("crm", "/api/v1/complaints", {
        body: {
          customer_id: form.customer_id, category: form.category, severity: form.severity,
          product: (form.product || null) as ComplaintIn["product"], service_ref: form.service_ref.trim() || null,
          description: form.description,
        },
        headers: { "Idempotency-Key": idemKey },
      });
      setIdemKey(crypto.randomUUID());
      onCreated(c);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="form" noValidate onSubmit={(e) => { e.preventDefault(); void submit(); }} data-testid="complaint-form">
      <label>{t("order.customer")}
        <select value={form.customer_id} onChange={set("customer_id")} name="customer_id" aria-invalid={!!fe.customer_id}>
          {customers.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
        </select>{err("customer_id")}
      </label>
      <label>{t("complaint.category")}
        <select value={form.category} onChange={set("category")} name="category">
          {CATEGORIES.map((c) => <option key={c} value={c}>{t(`category.${c}`)}</option>)}
        </select>{err("category")}
      </label>
      <label>{t("complaint.severity")}
        <select value={form.severity} onChange={set("severity")} name="severity">
          {SEVERITIES.map((s) => <option key={s} value={s}>{t(`severity.${s}`)}</option>)}
        </select>{err("severity")}
      </label>
      <label>{t("complaint.product")}
        <select value={form.product} onChange={set("product")} name="product">
          <option value="">{t("app.none")}</option>
          {products.map((p) => <option key={p.id} value={p.id}>{name(p.id)}</option>)}
        </select>{err("product")}
      </label>
      <label>{t("complaint.serviceRef")}
        <input value={form.service_ref} onChange={set("service_ref")} name="service_ref" />{err("service_ref")}
      </label>
      <label>{t("complaint.description")}
        <textarea value={form.description} onChange={set("description")} rows={3} name="description"
          aria-invalid={!!fe.description} />{err("description")}
      </label>
      {error !== null && !Object.keys(fe).length && <ErrorBox error={error} />}
      <div className="buttons"><button type="submit" className="primary" disabled={busy}>{t("complaint.create")}</button></div>
    </form>
  );
}
