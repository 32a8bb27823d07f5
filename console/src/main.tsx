import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "react-router";
import { loadConfig } from "./config";
import { I18nProvider } from "./i18n";
import { App } from "./App";
import "./styles.css";

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
