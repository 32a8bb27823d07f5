import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "react-router";
import { loadConfig } from "./config";
import { I18nProvider } from "./i18n";
import { App, boardPage } from "./App";
import { canOpen, homeFor } from "./auth/nav";
import { currentSession } from "./auth/session";
import { prefetchFirstPage } from "./board/data";
import "./styles.css";

// The board (supervisors' home, issue 10's first-render target): when the page opened is the board
// (or the home page of a board user), nothing waits on anything else. Its code is fetched while
// /config.json loads (index.html preloads it), its first 100 rows are asked as soon as the config names
// the SLA's gateway, and the app renders when config and code are there, while the rows travel.
const path = window.location.pathname.slice(import.meta.env.BASE_URL.length - 1).replace(/\/+$/, "") || "/";
const session = currentSession();
const opensBoard = session !== null && canOpen("/board", session.roles)
  && (path === "/board" || (path === "/" && homeFor(session.roles) === "/board"));
const boardCode = opensBoard ? boardPage.load().catch(() => undefined) : undefined;

void loadConfig().then(async () => {
  if (opensBoard) prefetchFirstPage();
  await boardCode;
  createRoot(document.getElementById("root") as HTMLElement).render(
    <StrictMode>
      <I18nProvider>
        <BrowserRouter basename={import.meta.env.BASE_URL.replace(/\/$/, "")}>
          <App />
        </BrowserRouter>
      </I18nProvider>
    </StrictMode>,
  );
});
