// Display names of the workflow vocabulary. Node titles come from the workflow definitions
// (`title_zh`); a role that may not read them (network staff, account managers) sees the node id
// humanised (see docs/console.md, API gaps). Roles, states, outcomes… come from the dictionaries.
import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api } from "../api/client";
import type { WorkflowOut } from "../api/types";
import { hasRole } from "../auth/session";
import { useI18n } from "../i18n";
import { useSession } from "./hooks";

export function humanize(id: string): string {
  const s = id.replace(/^\$/, "").replace(/[_.]+/g, " ").trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

interface TitleDef {
  title_zh?: string;
  tickets?: { kind?: string; title_zh?: string; nodes?: { name?: string; title_zh?: string }[] }[];
}

const nodeTitles = new Map<string, string>();

/** Remember the node titles of a workflow definition. */
export function learnTitles(definition: unknown): void {
  const d = definition as TitleDef;
  for (const tk of d.tickets ?? []) {
    for (const n of tk.nodes ?? []) if (n.name && n.title_zh && !nodeTitles.has(n.name)) nodeTitles.set(n.name, n.title_zh);
  }
}

const Ctx = createContext(0);

/** Loads every latest workflow definition once, for the roles that may read them. */
export function LabelsProvider({ children }: { children: ReactNode }) {
  const session = useSession();
  const [version, setVersion] = useState(0);
  const canRead = hasRole(session, "admin", "supervisor");
  useEffect(() => {
    if (!canRead) return;
    const controller = new AbortController();
    (async () => {
      const list = await api.get("eoms", "/api/v1/admin/workflows", { signal: controller.signal });
      const latest = list.filter((w) => w.latest);
      await Promise.all(latest.map(async (w) => {
        const full: WorkflowOut = await api.get("eoms", "/api/v1/admin/workflows/{workflow_id}/versions/{version}", {
          path: { workflow_id: w.id, version: w.version }, signal: controller.signal,
        });
        learnTitles(full.definition);
      }));
      setVersion((v) => v + 1);
    })().catch(() => undefined);
    return () => controller.abort();
  }, [canRead]);
  return <Ctx.Provider value={version}>{children}</Ctx.Provider>;
}

export function useLabels() {
  const version = useContext(Ctx);
  const { lang, tv } = useI18n();
  return useMemo(() => ({
    version,
    node: (name: string | null | undefined) => {
      if (!name) return "—";
      const zh = nodeTitles.get(name);
      return lang === "zh-CN" && zh ? zh : humanize(name);
    },
    role: (r: string | null | undefined) => tv("role", r, r ? humanize(r) : undefined),
    state: (s: string | null | undefined) => tv("state", s, s ? humanize(s) : undefined),
    outcome: (o: string | null | undefined) => tv("outcome", o, o ? humanize(o) : undefined),
    ticketKind: (k: string | null | undefined) => tv("ticketKind", k, k ? humanize(k) : undefined),
    businessType: (bt: string | null | undefined, productName?: (p: string) => string | undefined) => {
      if (!bt) return "—";
      const [product = bt, kind] = bt.split(".");
      const p = productName?.(product) ?? humanize(product);
      return kind ? `${p} · ${tv("kind", kind, humanize(kind))}` : p;
    },
  }), [version, lang, tv]);
}
