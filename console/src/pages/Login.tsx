// Sign-in: the persona picker (dev token issuer of the CRM, local/test only) and OIDC + PKCE.
import { useEffect, useState } from "react";
import { Navigate, useNavigate, useSearchParams } from "react-router";
import { rawRequest } from "../api/client";
import { homeFor } from "../auth/nav";
import { PERSONAS, type Persona } from "../auth/personas";
import { beginLogin, completeLogin } from "../auth/pkce";
import { sessionFromToken, setSession } from "../auth/session";
import { config } from "../config";
import { ErrorBox, Loading } from "../components/common";
import { LangSwitch } from "../components/Layout";
import { useI18n } from "../i18n";
import { useSession } from "../lib/hooks";

type DevState = "checking" | "on" | "off";

/** The issuer is "enabled" when it answers; a 404 problem means the environment turned it off. */
async function probeDevIssuer(): Promise<boolean> {
  try {
    await rawRequest("crm", "/api/v1/dev/token", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ subject: "probe", roles: ["network_staff"] }),
    });
    return true;
  } catch {
    return false;
  }
}

export async function devLogin(p: Persona): Promise<void> {
  const res = (await rawRequest("crm", "/api/v1/dev/token", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ subject: p.subject, roles: p.roles, name: p.name }),
  })) as { access_token: string };
  setSession(sessionFromToken(res.access_token, "dev"));
}

export function Login() {
  const { t, tv } = useI18n();
  const session = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = params.get("next");
  const cfg = config();
  const [dev, setDev] = useState<DevState>(cfg.devLogin ? "checking" : "off");
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    if (!cfg.devLogin) return;
    let live = true;
    void probeDevIssuer().then((ok) => live && setDev(ok ? "on" : "off"));
    return () => {
      live = false;
    };
  }, [cfg.devLogin]);

  if (session) return <Navigate to={next ?? homeFor(session.roles)} replace />;

  const pick = async (p: Persona) => {
    setError(null);
    try {
      await devLogin(p);
      navigate(next ?? homeFor(p.roles), { replace: true });
    } catch (e) {
      setError(e);
    }
  };
  const sso = async () => {
    if (!cfg.oidc) return;
    setError(null);
    try {
      window.location.assign(await beginLogin(cfg.oidc, next ?? "/"));
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
      {cfg.oidc
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
  const cfg = config().oidc;
  const [failure, setError] = useState<string | null>(null);
  const error = cfg ? failure : t("login.oidcNotConfigured");
  useEffect(() => {
    if (!cfg) return;
    completeLogin(cfg, window.location.search).then(({ accessToken, returnTo }) => {
      const s = sessionFromToken(accessToken, "oidc", cfg.rolesClaim);
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
