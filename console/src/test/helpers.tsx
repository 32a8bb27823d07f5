import type { ReactNode } from "react";
import { render } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { vi } from "vitest";
import { sessionFromMe, setSession, type Role } from "../auth/session";
import { DEFAULT_CONFIG, setConfig } from "../config";
import { I18nProvider, type Lang } from "../i18n";

export function fakeToken(sub: string, roles: Role[], name?: string): string {
  const b64 = (o: unknown) => btoa(unescape(encodeURIComponent(JSON.stringify(o))))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return `${b64({ alg: "HS256" })}.${b64({ sub, roles, name, exp: Math.floor(Date.now() / 1000) + 3600 })}.sig`;
}

/** What GET /api/v1/me answers for these roles (backbone.vocabulary: the node roles they work). */
export const NODE_ROLES: Record<Role, string[]> = {
  account_manager: ["account_manager"],
  network_staff: ["core_network", "data_production", "field_engineer", "network_resource", "network_staff",
    "noc_tester", "transmission"],
  supervisor: ["complaint_desk", "partner_si", "supervisor"],
  admin: ["account_manager", "complaint_desk", "core_network", "data_production", "field_engineer",
    "network_resource", "network_staff", "noc_tester", "partner_si", "supervisor", "transmission"],
  department_head: [],
  dispatcher: [],
  complaint_desk: ["complaint_desk"],
  network_resource: ["network_resource"],
  data_production: ["data_production"],
  field_engineer: ["field_engineer"],
  noc_tester: ["noc_tester"],
  transmission: ["transmission"],
  core_network: ["core_network"],
  partner_si: ["partner_si"],
};

export function meOf(sub: string, roles: Role[], name: string | null = null) {
  return { subject: sub, name, partner: null, roles, node_roles: [...new Set(roles.flatMap((r) => NODE_ROLES[r]))].sort(),
    service: "crm" };
}

export function signIn(sub: string, roles: Role[]): void {
  setSession(sessionFromMe(fakeToken(sub, roles), "dev", meOf(sub, roles)));
}

export function useTestConfig(): void {
  setConfig({ ...DEFAULT_CONFIG, services: { crm: "http://t/crm", eoms: "http://t/eoms", sla: "http://t/sla", notify: "http://t/notify", stats: "http://t/stats" } });
}

export function renderApp(ui: ReactNode, { route = "/", lang = "zh-CN" as Lang } = {}) {
  return render(
    <I18nProvider initial={lang}>
      <MemoryRouter initialEntries={[route]}>{ui}</MemoryRouter>
    </I18nProvider>,
  );
}

export type Handler = (url: URL, init: RequestInit) => Response | Promise<Response>;

export function json(body: unknown, status = 200, type = "application/json"): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": type } });
}

export function problem(status: number, detail: string, errors: { field: string; message: string }[] = []): Response {
  return json({ type: "about:blank", title: status === 409 ? "Conflict" : "Invalid request", status, detail, errors },
    status, "application/problem+json");
}

/** fetch mocked by "METHOD /service/path" routes (path without the query); unknown → 404. */
export function mockFetch(routes: Record<string, Handler>) {
  const calls: { method: string; url: URL; init: RequestInit }[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url, "http://t");
    const method = (init.method ?? "GET").toUpperCase();
    calls.push({ method, url, init });
    const key = `${method} ${url.pathname}`;
    const handler = routes[key] ?? Object.entries(routes).find(([k]) => {
      const [m, p] = k.split(" ");
      return m === method && p !== undefined && new RegExp(`^${p.replace(/\{[^}]+\}/g, "[^/]+")}$`).test(url.pathname);
    })?.[1];
    if (!handler) return problem(404, `no route ${key}`);
    return handler(url, init);
  });
  vi.stubGlobal("fetch", fn);
  return { fn, calls };
}
