import { NavLink, Outlet, useLocation, useNavigate } from "react-router";
import { navFor } from "../auth/nav";
import { setSession } from "../auth/session";
import { LANGS, useI18n, type Lang } from "../i18n";
import { useSession } from "../lib/hooks";

export function LangSwitch() {
  const { t, lang, setLang } = useI18n();
  return (
    <label className="lang">
      <span className="sr-only">{t("lang.label")}</span>
      <select aria-label={t("lang.label")} value={lang} onChange={(e) => setLang(e.target.value as Lang)}>
        {LANGS.map((l) => <option key={l} value={l}>{t(`lang.${l}`)}</option>)}
      </select>
    </label>
  );
}

export function Layout() {
  const session = useSession();
  const { t, tv } = useI18n();
  const navigate = useNavigate();
  const { pathname } = useLocation();
  if (!session) return null;
  const items = navFor(session.roles);
  const section = items.find((i) => i.children && pathname.startsWith(i.path));
  return (
    <div className="shell">
      <a className="skip" href="#main">{t("app.skip")}</a>
      <header className="topbar">
        <span className="brand">{t("app.short")}</span>
        <nav aria-label={t("nav.main")}>
          <ul className="nav">
            {items.map((i) => (
              <li key={i.path}>
                <NavLink to={i.children?.[0]?.path ?? i.path}
                  className={({ isActive }) => (isActive || pathname.startsWith(i.path) ? "active" : "")}>
                  {t(i.label)}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <div className="user">
          <span title={session.subject}>
            {t("nav.signedInAs", { name: session.name ?? session.subject })}
            {" · "}{session.roles.map((r) => tv("role", r)).join(", ")}
          </span>
          <LangSwitch />
          <button type="button" className="link" onClick={() => { setSession(null); navigate("/login"); }}>
            {t("nav.signOut")}
          </button>
        </div>
      </header>
      {section?.children && (
        <nav className="subnav" aria-label={t(section.label)}>
          {section.children.map((c) => (
            <NavLink key={c.path} to={c.path}>{t(c.label)}</NavLink>
          ))}
        </nav>
      )}
      <main id="main">
        <Outlet />
      </main>
      <footer className="muted small">{t("time.tz")}</footer>
    </div>
  );
}
