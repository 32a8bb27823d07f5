// A form from a product's JSON Schema (draft 2020-12, the subset the catalogue uses: an object of
// scalar properties with type, enum, minimum/maximum, minLength/maxLength, pattern, default,
// description, local $ref into $defs) and the same checks in the browser before the server's.
import type { MessageKey } from "../i18n/zh-CN";

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: (string | number | boolean)[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  default?: unknown;
  description?: string;
  title?: string;
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  definitions?: Record<string, JsonSchema>;
  minProperties?: number;
}

export type FieldKind = "integer" | "number" | "string" | "boolean" | "enum";

export interface FieldSpec {
  name: string;
  kind: FieldKind;
  required: boolean;
  schema: JsonSchema;
}

/** Follow a local reference (#/$defs/x, #/definitions/x) against the root schema. */
export function deref(root: JsonSchema, s: JsonSchema, depth = 0): JsonSchema {
  if (!s.$ref || depth > 10) return s;
  const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(s.$ref);
  const target = m ? root[m[1] as "$defs" | "definitions"]?.[decodeURIComponent(m[2] as string)] : undefined;
  if (!target) return s;
  const { $ref: _drop, ...rest } = s;
  return { ...deref(root, target, depth + 1), ...rest };
}

function typeOf(s: JsonSchema): string | undefined {
  return Array.isArray(s.type) ? s.type.find((x) => x !== "null") : s.type;
}

export function fieldsOf(root: JsonSchema): FieldSpec[] {
  const required = new Set(root.required ?? []);
  return Object.entries(root.properties ?? {}).map(([name, raw]) => {
    const schema = deref(root, raw);
    const type = typeOf(schema);
    const kind: FieldKind = schema.enum ? "enum"
      : type === "integer" ? "integer" : type === "number" ? "number" : type === "boolean" ? "boolean" : "string";
    return { name, kind, required: required.has(name), schema };
  });
}

export type Values = Record<string, unknown>;
export type ErrorMsg = { key: MessageKey; vars?: Record<string, string | number> };

/** The value to send for what the user typed ("" → absent). */
export function coerce(f: FieldSpec, raw: string | boolean): unknown {
  if (f.kind === "boolean") return raw === true;
  const s = String(raw);
  if (s.trim() === "") return undefined;
  if (f.kind === "integer" || f.kind === "number") {
    const n = Number(s);
    return Number.isNaN(n) ? s : n;
  }
  if (f.kind === "enum") {
    const match = f.schema.enum?.find((e) => String(e) === s);
    return match ?? s;
  }
  return s;
}

export function validateField(f: FieldSpec, v: unknown): ErrorMsg | null {
  const s = f.schema;
  if (v === undefined || v === null || v === "") return f.required ? { key: "form.required" } : null;
  if (s.enum && !s.enum.some((e) => e === v)) return { key: "form.enum" };
  if (f.kind === "integer" && !(typeof v === "number" && Number.isInteger(v))) return { key: "form.integer" };
  if ((f.kind === "number" || f.kind === "integer") && typeof v === "number") {
    if (s.minimum !== undefined && v < s.minimum) return { key: "form.min", vars: { n: s.minimum } };
    if (s.maximum !== undefined && v > s.maximum) return { key: "form.max", vars: { n: s.maximum } };
    if (s.exclusiveMinimum !== undefined && v <= s.exclusiveMinimum) return { key: "form.min", vars: { n: s.exclusiveMinimum } };
    if (s.exclusiveMaximum !== undefined && v >= s.exclusiveMaximum) return { key: "form.max", vars: { n: s.exclusiveMaximum } };
  }
  if (typeof v === "string") {
    const len = [...v].length;
    if (s.minLength !== undefined && len < s.minLength) return { key: "form.minLength", vars: { n: s.minLength } };
    if (s.maxLength !== undefined && len > s.maxLength) return { key: "form.maxLength", vars: { n: s.maxLength } };
    if (s.pattern) {
      try {
        if (!new RegExp(s.pattern, "u").test(v)) return { key: "form.pattern" };
      } catch {
        /* a pattern the browser cannot compile: leave it to the server */
      }
    }
  }
  return null;
}

export function validate(fields: FieldSpec[], values: Values): Record<string, ErrorMsg> {
  const out: Record<string, ErrorMsg> = {};
  for (const f of fields) {
    const e = validateField(f, values[f.name]);
    if (e) out[f.name] = e;
  }
  return out;
}

/** Initial values: each property's default. */
export function defaults(fields: FieldSpec[]): Values {
  const out: Values = {};
  for (const f of fields) if (f.schema.default !== undefined) out[f.name] = f.schema.default;
  return out;
}

/** Server field errors under a prefix (e.g. `items.0.attributes.`) → property name → messages. */
export function serverErrorsUnder(fieldErrors: Record<string, string[]>, prefix: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [path, msgs] of Object.entries(fieldErrors)) {
    if (path.startsWith(prefix)) {
      const name = path.slice(prefix.length).split(".")[0] ?? "";
      (out[name] ??= []).push(...msgs);
    }
  }
  return out;
}
