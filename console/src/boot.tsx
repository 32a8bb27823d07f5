// The app's first render (main.tsx calls `start` once the runtime configuration is loaded).
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "react-router";
import { I18nProvider } from "./i18n";
import { App, boardPage } from "./App";

/** How long the first render waits for the board's first page once the code is there: with its rows the
 * board is laid out and painted once; without them, twice (the empty board, then the rows), and a
 * layout of the page costs as much as the wait. A slow SLA gateway shows the board empty after this. */
export const FIRST_PAGE_WAIT_MS = 300;

export async function start(opensBoard: boolean, firstPage?: Promise<void>): Promise<void> {
  if (opensBoard) {
    await boardPage.load().catch(() => undefined); // failed: the route's lazy() shows the error
    if (firstPage) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([firstPage, new Promise((resolve) => { timer = setTimeout(resolve, FIRST_PAGE_WAIT_MS); })]);
      clearTimeout(timer);
    }
  }
  createRoot(document.getElementById("root") as HTMLElement).render(
    <StrictMode>
      <I18nProvider>
        <BrowserRouter basename={import.meta.env.BASE_URL.replace(/\/$/, "")}>
          <App />
        </BrowserRouter>
      </I18nProvider>
    </StrictMode>,
  );
}
