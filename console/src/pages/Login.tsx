// Sign-in: the persona picker (dev token issuer of the CRM, local/test only) and OIDC + PKCE. The CRM
// says which are on (GET /api/v1/auth/config); who a token is comes from GET /api/v1/me.
import { useEffect, useState } from "react";
import { Navigate, useNavigate, useSearchParams } from "react-router";
import { api, rawRequest } from "../api/client";
import type { AuthConfig } from "../api/types";
import { homeFor } from "../auth/nav";
import { PERSONAS, type Persona } from "../auth/personas";
import { beginLogin, completeLogin } from "../auth/pkce";
import { sessionFromMe, setSession, type MeView, type Session } from "../auth/session";
import { config, type OidcConfig } from "../config";
import { ErrorBox, Loading } from "../components/common";
import { LangSwitch } from "../components/Layout";
import { useI18n } from "../i18n";
import { useSession } from "../lib/hooks";

type DevState = "checking" | "on" | "off";

/** The session of a token: who the services say it is (roles mapped from the provider's claims server-side). */
export async function sessionOf(token: string, via: Session["via"]): Promise<Session> {
  const me = (await rawRequest("crm", "/api/v1/me", {
    method: "GET", headers: { Authorization: `Bearer ${token}` },
  })) as MeView;
  return sessionFromMe(token, via, me);
}

export async function devLogin(p: Persona): Promise<Session> {
  const res = (await rawRequest("crm", "/api/v1/dev/token", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ subject: p.subject, roles: p.roles, name: p.name, partner: p.partner }),
  })) as { access_token: string };
  const s = await sessionOf(res.access_token, "dev");
  setSession(s);
  return s;
}

const OIDC_KEY = "console.oidc.config";

function storedOidc(): OidcConfig | null {
  try {
    const raw = sessionStorage.getItem(OIDC_KEY);
    return raw ? (JSON.parse(raw) as OidcConfig) : null;
  } catch {
    return null;
  }
}

/** Single sign-on as configured: /config.json's, else what the CRM says its provider and client are. */
function oidcOf(server: AuthConfig | null): OidcConfig | null {
  const local = config().oidc;
  if (local) return local;
  const o = server?.oidc;
  return o?.client_id ? { issuer: o.issuer, clientId: o.client_id, scope: o.scope, rolesClaim: o.roles_claim } : null;
}

export function Login() {
  const { t, tv } = useI18n();
  const session = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = params.get("next");
  const cfg = config();
  const [server, setServer] = useState<AuthConfig | null>(null);
  const [dev, setDev] = useState<DevState>(cfg.devLogin ? "checking" : "off");
  const [error, setError] = useState<unknown>(null);
  const oidc = oidcOf(server);

  useEffect(() => {
    const controller = new AbortController();
    api.get("crm", "/api/v1/auth/config", { signal: controller.signal }).then((c) => {
      setServer(c);
      setDev(cfg.devLogin && c.dev_login ? "on" : "off");
    }, () => {
      if (!controller.signal.aborted) setDev("off");
    });
    return () => controller.abort();
  }, [cfg.devLogin]);

  if (session) return <Navigate to={next ?? homeFor(session.roles)} replace />;

  const pick = async (p: Persona) => {
    setError(null);
    try {
      const s = await devLogin(p);
      navigate(next ?? homeFor(s.roles), { replace: true });
    } catch (e) {
      setError(e);
    }
  };
  const sso = async () => {
    if (!oidc) return;
    setError(null);
    try {
      sessionStorage.setItem(OIDC_KEY, JSON.stringify(oidc)); // for the callback
      window.location.assign(await beginLogin(oidc, next ?? "/"));
    } catch (e) {
      setError(e);
    }
  };

  return (
    <div className="login">
      <header className="login-head">
        <h1>{t("app.title")}</h1>
        <LangSwitch />
      </header>
      <h2>{t("login.title")}</h2>
      <ErrorBox error={error} />
      {oidc
        ? <button type="button" className="primary" onClick={() => void sso()}>{t("login.oidc")}</button>
        : <p className="muted">{t("login.oidcNotConfigured")}</p>}
      {cfg.devLogin && (
        <section aria-labelledby="personas">
          <h3 id="personas">{t("login.personas")}</h3>
          <p className="muted small">{t("login.personasHint")}</p>
          {dev === "checking" && <Loading />}
          {dev === "off" && <p className="gap">{t("login.devUnavailable")}</p>}
          {dev === "on" && (
            <ul className="personas">
              {PERSONAS.map((p) => (
                <li key={p.subject}>
                  <button type="button" onClick={() => void pick(p)} data-persona={p.subject}
                    aria-label={`${t("login.signIn")}: ${p.name} (${p.subject})`}>
                    <strong>{p.name}</strong>
                    <span className="muted">{p.subject}</span>
                    <span>{p.roles.map((r) => tv("role", r)).join(", ")}</span>
                  </button>
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
    </div>
  );
}

export function AuthCallback() {
  const { t } = useI18n();
  const navigate = useNavigate();
  const cfg = config().oidc ?? storedOidc();
  const [failure, setError] = useState<string | null>(null);
  const error = cfg ? failure : t("login.oidcNotConfigured");
  useEffect(() => {
    if (!cfg) return;
    completeLogin(cfg, window.location.search).then(async ({ accessToken, returnTo }) => {
      const s = await sessionOf(accessToken, "oidc");
      if (!s.roles.length) throw new Error(t("login.noRoles"));
      setSession(s);
      navigate(returnTo === "/" ? homeFor(s.roles) : returnTo, { replace: true });
    }).catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
    // the callback runs once
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return (
    <div className="login">
      {error ? <p className="error" role="alert">{t("login.failed", { reason: error })}</p> : <Loading />}
      {!error && <p className="muted">{t("login.callback")}</p>}
    </div>
  );
}
