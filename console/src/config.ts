// Runtime configuration: /config.json served beside the app (one build, any environment).
export type ServiceName = "crm" | "eoms" | "sla" | "notify" | "stats";
export const SERVICES: readonly ServiceName[] = ["crm", "eoms", "sla", "notify", "stats"];

export interface OidcConfig {
  /** issuer URL; its /.well-known/openid-configuration names the endpoints */
  issuer: string;
  clientId: string;
  scope?: string;
  /** claim holding the suite's roles (account_manager, network_staff, supervisor, admin) */
  rolesClaim?: string;
}

export interface RuntimeConfig {
  /** base URL of each service's REST gateway (absolute, or a path on this origin) */
  services: Record<ServiceName, string>;
  /** offer the persona picker (the CRM's dev token issuer must also answer) */
  devLogin: boolean;
  oidc: OidcConfig | null;
}

export const DEFAULT_CONFIG: RuntimeConfig = {
  services: { crm: "/svc/crm", eoms: "/svc/eoms", sla: "/svc/sla", notify: "/svc/notify", stats: "/svc/stats" },
  devLogin: true,
  oidc: null,
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Merge what /config.json says over the defaults, ignoring what is not understood. */
export function parseConfig(raw: unknown): RuntimeConfig {
  const out: RuntimeConfig = { ...DEFAULT_CONFIG, services: { ...DEFAULT_CONFIG.services } };
  if (!isRecord(raw)) return out;
  if (isRecord(raw.services)) {
    for (const s of SERVICES) {
      const v = raw.services[s];
      if (typeof v === "string" && v) out.services[s] = v.replace(/\/+$/, "");
    }
  }
  if (typeof raw.devLogin === "boolean") out.devLogin = raw.devLogin;
  const o = raw.oidc;
  if (isRecord(o) && typeof o.issuer === "string" && typeof o.clientId === "string") {
    out.oidc = {
      issuer: o.issuer.replace(/\/+$/, ""),
      clientId: o.clientId,
      scope: typeof o.scope === "string" ? o.scope : "openid profile",
      rolesClaim: typeof o.rolesClaim === "string" ? o.rolesClaim : "roles",
    };
  }
  return out;
}

let current: RuntimeConfig = DEFAULT_CONFIG;

export async function loadConfig(fetchImpl: typeof fetch = fetch): Promise<RuntimeConfig> {
  try {
    // served `no-store`; asked without a cache mode so that index.html's preload of it is used
    const res = await fetchImpl(`${import.meta.env.BASE_URL}config.json`);
    current = parseConfig(res.ok ? await res.json() : null);
  } catch {
    current = DEFAULT_CONFIG;
  }
  return current;
}

export function config(): RuntimeConfig {
  return current;
}

export function setConfig(c: RuntimeConfig): void {
  current = c;
}
