// The signed-in user: a bearer token and who the services say it is (GET /api/v1/me: subject, roles,
// name, partner, the workflow node roles it works), with the token's expiry.
// The token roles of backbone.vocabulary.TokenRole the console has screens for (`integration` and
// `agent` are machine or CRM-only callers: no screen here).
export const ROLES = ["account_manager", "network_staff", "supervisor", "admin", "department_head", "dispatcher",
  "complaint_desk", "network_resource", "data_production", "field_engineer", "noc_tester", "transmission",
  "core_network", "partner_si"] as const;
export type Role = (typeof ROLES)[number];

export interface Session {
  token: string;
  subject: string;
  roles: Role[];
  name: string | null;
  /** a partner user's partner (the token's `partner` claim) */
  partner: string | null;
  /** the workflow node roles the roles work: the queues this user may open */
  nodeRoles: string[];
  /** expiry, epoch ms (null: the token says none) */
  expiresAt: number | null;
  via: "dev" | "oidc";
}

const KEY = "console.session";
type Listener = (s: Session | null) => void;
const listeners = new Set<Listener>();

function base64UrlDecode(part: string): string {
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
  const bin = atob(b64);
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The claims of a JWT (not verified: the services verify it; the console only reads them). */
export function decodeClaims(token: string): Record<string, unknown> {
  const part = token.split(".")[1];
  if (!part) throw new Error("not a JWT");
  const claims: unknown = JSON.parse(base64UrlDecode(part));
  if (typeof claims !== "object" || claims === null) throw new Error("not a JWT");
  return claims as Record<string, unknown>;
}

/** What GET /api/v1/me answers (backbone.me): the caller as the services see the token. */
export interface MeView {
  subject: string;
  name?: string | null;
  partner?: string | null;
  roles: string[];
  node_roles: string[];
}

/** A session from the token and the services' view of it (`me`); only the expiry is read from the token. */
export function sessionFromMe(token: string, via: Session["via"], me: MeView): Session {
  const c = decodeClaims(token);
  return {
    token,
    subject: me.subject,
    roles: me.roles.filter((r): r is Role => ROLES.includes(r as Role)),
    name: me.name ?? null,
    partner: me.partner ?? null,
    nodeRoles: [...me.node_roles],
    expiresAt: typeof c.exp === "number" ? c.exp * 1000 : null,
    via,
  };
}

export function loadSession(now = Date.now()): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Session;
    if (!Array.isArray(s.nodeRoles)) s.nodeRoles = []; // stored by an older console
    s.partner ??= null;
    if (s.expiresAt !== null && s.expiresAt <= now) {
      sessionStorage.removeItem(KEY);
      return null;
    }
    return s;
  } catch {
    return null;
  }
}

let cached: Session | null | undefined;

export function currentSession(): Session | null {
  if (cached === undefined) cached = loadSession();
  if (cached && cached.expiresAt !== null && cached.expiresAt <= Date.now()) cached = null;
  return cached;
}

export function setSession(s: Session | null): void {
  cached = s;
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
  for (const l of listeners) l(s);
}

export function onSessionChange(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function hasRole(s: Session | null, ...roles: Role[]): boolean {
  return !!s && s.roles.some((r) => roles.includes(r));
}
