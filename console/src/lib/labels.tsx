// Display names of the workflow vocabulary. Node and outcome names come from the suite's one source of
// labels (`GET /api/v1/labels`: backbone/labels.yaml, zh-CN and en), loaded once for every role; roles,
// states, ticket kinds… come from the dictionaries. A code without a label reads humanised, never raw.
import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api } from "../api/client";
import type { Labels, LocalText } from "../api/types";
import { useI18n } from "../i18n";
import { useSession } from "./hooks";

export function humanize(id: string): string {
  const s = id.replace(/^\$/, "").replace(/[_.]+/g, " ").trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

const EMPTY: Labels = {};
const Ctx = createContext<Labels>(EMPTY);

/** Loads the suite's labels once per session (any signed-in role may read them). */
export function LabelsProvider({ children }: { children: ReactNode }) {
  const session = useSession();
  const [labels, setLabels] = useState<Labels>(EMPTY);
  const signedIn = session !== null;
  useEffect(() => {
    if (!signedIn) return;
    const controller = new AbortController();
    api.get("eoms", "/api/v1/labels", { signal: controller.signal }).then(setLabels, () => undefined);
    return () => controller.abort();
  }, [signedIn]);
  return <Ctx.Provider value={labels}>{children}</Ctx.Provider>;
}

export function useLabels() {
  const table = useContext(Ctx);
  const { lang, tv } = useI18n();
  return useMemo(() => {
    const of = (category: string, code: string): string | undefined => table[category]?.[code]?.[lang];
    return {
      /** a text the API gave in both languages, in the current one */
      text: (x: LocalText | null | undefined, fallback = "—") => (x ? x[lang] : fallback),
      node: (name: string | null | undefined) => (name ? of("node", name) ?? humanize(name) : "—"),
      role: (r: string | null | undefined) => tv("role", r, r ? humanize(r) : undefined),
      state: (s: string | null | undefined) => tv("state", s, s ? humanize(s) : undefined),
      /** `$resolved` / `$rejected` / `$return` / `$cancelled` from the dictionaries, outcomes from the labels */
      outcome: (o: string | null | undefined) =>
        !o ? "—" : o.startsWith("$") ? tv("outcome", o, humanize(o)) : of("outcome", o) ?? humanize(o),
      ticketKind: (k: string | null | undefined) => tv("ticketKind", k, k ? humanize(k) : undefined),
      businessType: (bt: string | null | undefined, productName?: (p: string) => string | undefined) => {
        if (!bt) return "—";
        const [product = bt, kind] = bt.split(".");
        const p = productName?.(product) ?? humanize(product);
        return kind ? `${p} · ${tv("kind", kind, humanize(kind))}` : p;
      },
    };
  }, [table, lang, tv]);
}
