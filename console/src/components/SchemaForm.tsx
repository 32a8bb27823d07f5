// Inputs generated from a JSON Schema; client-side errors and the server's errors at each field.
import { useI18n } from "../i18n";
import { hasKey } from "../i18n";
import { coerce, validateField, type FieldSpec, type Values } from "../lib/jsonschema";
import { humanize } from "../lib/labels";

export function SchemaForm({ fields, values, onChange, serverErrors, idPrefix, showErrors }: {
  fields: FieldSpec[];
  values: Values;
  onChange: (v: Values) => void;
  /** property name → messages from the server's problem+json */
  serverErrors: Record<string, string[]>;
  idPrefix: string;
  /** show client-side errors (after a first submit) */
  showErrors: boolean;
}) {
  const { t } = useI18n();
  const label = (f: FieldSpec) => {
    const key = `attr.${f.name}`;
    return hasKey(key) ? t(key) : (f.schema.title ?? humanize(f.name));
  };
  const set = (f: FieldSpec, raw: string | boolean) => {
    const v = coerce(f, raw);
    const rest = Object.fromEntries(Object.entries(values).filter(([k]) => k !== f.name));
    onChange(v === undefined ? rest : { ...rest, [f.name]: v });
  };
  return (
    <div className="schema-form">
      {fields.map((f) => {
        const id = `${idPrefix}-${f.name}`;
        const client = showErrors ? validateField(f, values[f.name]) : null;
        const server = serverErrors[f.name] ?? [];
        const invalid = !!client || server.length > 0;
        const value = values[f.name];
        const common = {
          id, name: f.name, "aria-invalid": invalid, "aria-describedby": invalid ? `${id}-err` : undefined,
          required: f.required,
        };
        return (
          <div key={f.name} className={`field${invalid ? " invalid" : ""}`} data-field={f.name}>
            <label htmlFor={id}>{label(f)}{f.required && <span className="req" aria-hidden="true"> *</span>}</label>
            {f.kind === "enum" ? (
              <select {...common} value={value === undefined ? "" : String(value)} onChange={(e) => set(f, e.target.value)}>
                <option value="">{t("form.select")}</option>
                {f.schema.enum?.map((o) => <option key={String(o)} value={String(o)}>{String(o)}</option>)}
              </select>
            ) : f.kind === "boolean" ? (
              <input {...common} type="checkbox" checked={value === true} onChange={(e) => set(f, e.target.checked)} />
            ) : (
              <input {...common} type={f.kind === "string" ? "text" : "number"}
                step={f.kind === "integer" ? 1 : "any"} min={f.schema.minimum} max={f.schema.maximum}
                value={value === undefined ? "" : String(value)} onChange={(e) => set(f, e.target.value)} />
            )}
            {(client || server.length > 0) && (
              <span id={`${id}-err`} className="field-error" role="alert">
                {[client ? t(client.key, client.vars) : null, ...server].filter(Boolean).join("; ")}
              </span>
            )}
          </div>
        );
      })}
    </div>
  );
}
