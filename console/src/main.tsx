// The entry: no React in it. It asks for the runtime configuration and, when the page opened is the
// board (the supervisors' home, issue 10's first-render target), the board's first 100 rows, while the
// app's code (src/boot.tsx: React, the router, the screens) downloads and compiles; index.html
// modulepreloads that code and the board's, so nothing here waits on anything else.
import { loadConfig } from "./config";
import { canOpen, homeFor } from "./auth/nav";
import { currentSession } from "./auth/session";
import { prefetchFirstPage } from "./board/data";
import "./styles.css";

const path = window.location.pathname.slice(import.meta.env.BASE_URL.length - 1).replace(/\/+$/, "") || "/";
const session = currentSession();
const opensBoard = session !== null && canOpen("/board", session.roles)
  && (path === "/board" || (path === "/" && homeFor(session.roles) === "/board"));
const app = import("./boot");

void loadConfig().then(async () => {
  const firstPage = opensBoard ? prefetchFirstPage() : undefined;
  const { start } = await app;
  await start(opensBoard, firstPage);
});
