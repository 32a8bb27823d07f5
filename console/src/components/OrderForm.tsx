// Order form: customer, channel, items (product, business kind, attributes from the product's JSON
// Schema for that kind), note, submit at once. Server field errors are shown at the field
// (`items.0.attributes.bandwidth_mbps` under that item's input).
import { useEffect, useMemo, useState } from "react";
import { api, isApiError } from "../api/client";
import type { Customer, Order, ProductDetail } from "../api/types";
import { useI18n } from "../i18n";
import { defaults, fieldsOf, validate, serverErrorsUnder, type JsonSchema, type Values } from "../lib/jsonschema";
import { useProducts } from "../lib/products";
import { ErrorBox } from "./common";
import { SchemaForm } from "./SchemaForm";

interface Item {
  key: number;
  product: string;
  kind: string;
  attributes: Values;
}

const detailCache = new Map<string, Promise<ProductDetail>>();
function productDetail(id: string): Promise<ProductDetail> {
  let p = detailCache.get(id);
  if (!p) {
    p = api.get("crm", "/api/v1/products/{product_id}", { path: { product_id: id } });
    p.catch(() => detailCache.delete(id));
    detailCache.set(id, p);
  }
  return p;
}

function FieldErrors({ errors }: { errors: string[] | undefined }) {
  if (!errors?.length) return null;
  return <span className="field-error" role="alert">{errors.join("; ")}</span>;
}

export function OrderForm({ customers, onCreated }: { customers: Customer[]; onCreated: (o: Order) => void }) {
  const { t, tv } = useI18n();
  const { products, name } = useProducts();
  const [customerId, setCustomerId] = useState(customers[0]?.id ?? "");
  const [channel, setChannel] = useState<"account_manager" | "agent" | "web_portal">("account_manager");
  const [note, setNote] = useState("");
  const [submitNow, setSubmitNow] = useState(true);
  const [items, setItems] = useState<Item[]>([{ key: 0, product: "", kind: "opening", attributes: {} }]);
  const [details, setDetails] = useState<Record<string, ProductDetail>>({});
  const [error, setError] = useState<unknown>(null);
  const [tried, setTried] = useState(false);
  const [busy, setBusy] = useState(false);
  const [idemKey, setIdemKey] = useState(() => crypto.randomUUID());

  const wanted = useMemo(() => [...new Set(items.map((i) => i.product).filter(Boolean))], [items]);
  useEffect(() => {
    for (const p of wanted) {
      if (details[p]) continue;
      productDetail(p).then((d) => setDetails((x) => ({ ...x, [p]: d })), setError);
    }
  }, [wanted, details]);

  const fieldsFor = (i: Item) => {
    const d = details[i.product];
    const schema = d?.schemas_by_business_kind[i.kind] ?? d?.attributes_schema;
    return schema ? fieldsOf(schema as JsonSchema) : [];
  };
  const fieldErrors = isApiError(error) ? error.fieldErrors : {};
  const unplaced = isApiError(error)
    ? (error.problem?.errors ?? []).filter((e) => !/^(customer_id|channel|note|items\.\d+\.(product|business_kind|attributes\.\w+))/.test(e.field))
    : [];

  const update = (key: number, patch: Partial<Item>) =>
    setItems((xs) => xs.map((x) => (x.key === key ? { ...x, ...patch } : x)));

  const submit = async () => {
    setTried(true);
    const invalid = items.some((i) => !i.product || Object.keys(validate(fieldsFor(i), i.attributes)).length > 0);
    if (!customerId || invalid) {
      setError(new Error(t("form.invalid")));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const order = await api.post("crm", "/api/v1/orders", {
        body: {
          customer_id: customerId, channel, note: note.trim() || null, submit: submitNow,
          items: items.map((i) => ({ product: i.product as never, business_kind: i.kind as never, attributes: i.attributes })),
        },
        headers: { "Idempotency-Key": idemKey },
      });
      setIdemKey(crypto.randomUUID());
      onCreated(order);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="form" noValidate onSubmit={(e) => { e.preventDefault(); void submit(); }} data-testid="order-form">
      <label>
        {t("order.customer")}
        <select value={customerId} onChange={(e) => setCustomerId(e.target.value)} name="customer_id"
          aria-invalid={!!fieldErrors.customer_id}>
          {customers.map((c) => <option key={c.id} value={c.id}>{c.name} ({c.tier})</option>)}
        </select>
        <FieldErrors errors={fieldErrors.customer_id} />
      </label>
      <label>
        {t("order.channel")}
        <select value={channel} onChange={(e) => setChannel(e.target.value as typeof channel)} name="channel">
          {(["account_manager", "agent", "web_portal"] as const).map((c) => <option key={c} value={c}>{t(`channel.${c}`)}</option>)}
        </select>
      </label>
      {items.map((i, n) => {
        const d = details[i.product];
        const fields = fieldsFor(i);
        const prefix = `items.${n}.`;
        return (
          <fieldset key={i.key} className="item" data-item={n}>
            <legend>{t("order.item", { n: n + 1 })}</legend>
            <label>
              {t("order.product")}
              <select value={i.product} name={`${prefix}product`} aria-invalid={tried && !i.product}
                onChange={(e) => update(i.key, { product: e.target.value, kind: "opening", attributes: {} })}>
                <option value="">{t("form.select")}</option>
                {products.map((p) => <option key={p.id} value={p.id}>{name(p.id)}</option>)}
              </select>
              {tried && !i.product && <span className="field-error">{t("form.required")}</span>}
              <FieldErrors errors={fieldErrors[`${prefix}product`]} />
            </label>
            {d && (
              <label>
                {t("order.businessKind")}
                <select value={i.kind} name={`${prefix}business_kind`}
                  onChange={(e) => {
                    const kind = e.target.value;
                    const schema = d.schemas_by_business_kind[kind] as JsonSchema | undefined;
                    update(i.key, { kind, attributes: schema ? defaults(fieldsOf(schema)) : {} });
                  }}>
                  {d.business_kinds.map((k) => <option key={k} value={k}>{tv("kind", k)}</option>)}
                </select>
              </label>
            )}
            {d && (
              <SchemaForm fields={fields} values={i.attributes} idPrefix={`item${i.key}`} showErrors={tried}
                serverErrors={serverErrorsUnder(fieldErrors, `${prefix}attributes.`)}
                onChange={(attributes) => update(i.key, { attributes })} />
            )}
            <FieldErrors errors={fieldErrors[`${prefix}attributes`]} />
            {items.length > 1 && (
              <button type="button" className="link" onClick={() => setItems((xs) => xs.filter((x) => x.key !== i.key))}>
                {t("order.removeItem")}
              </button>
            )}
          </fieldset>
        );
      })}
      <button type="button" onClick={() => setItems((xs) => [...xs, { key: Date.now(), product: "", kind: "opening", attributes: {} }])}>
        {t("order.addItem")}
      </button>
      <label>
        {t("order.note")}
        <textarea value={note} onChange={(e) => setNote(e.target.value)} rows={2} name="note" />
        <FieldErrors errors={fieldErrors.note} />
      </label>
      <label className="inline">
        <input type="checkbox" checked={submitNow} onChange={(e) => setSubmitNow(e.target.checked)} />
        {t("order.submitNow")}
      </label>
      {error !== null && (
        isApiError(error)
          ? <ErrorBox error={unplaced.length || !(error.problem?.errors?.length) ? error : new Error(t("form.invalid"))} />
          : <ErrorBox error={error} />
      )}
      <div className="buttons">
        <button type="submit" className="primary" disabled={busy}>{t("order.create")}</button>
      </div>
    </form>
  );
}
