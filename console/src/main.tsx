import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "react-router";
import { loadConfig } from "./config";
import { I18nProvider } from "./i18n";
import { App } from "./App";
import "./styles.css";

// The board (supervisors' home, issue 10's first-render target) is a lazy chunk: when the page opened
// is the board, fetch its code while /config.json loads instead of after the first render.
if (/\/board\/?$/.test(window.location.pathname)) void import("./pages/Board");

void loadConfig().then(() => {
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
