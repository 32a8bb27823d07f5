/// <reference types="vitest/config" />
import { defineConfig, type Plugin } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` serves the console on :5173 and proxies /svc/<service>/… to the suite started by
// `make run`, so the browser sees one origin (no CORS needed). public/config.json points there.
const services: Record<string, number> = { crm: 8001, eoms: 8002, sla: 8003, notify: 8004, stats: 8005 };
const proxy = Object.fromEntries(
  Object.entries(services).map(([name, port]) => [
    `/svc/${name}`,
    { target: `http://127.0.0.1:${port}`, changeOrigin: true, rewrite: (p: string) => p.replace(`/svc/${name}`, "") },
  ]),
);

/** index.html asks for the board's code (the supervisors' home, issue 10's first-render target) while the
 * entry loads, not after the entry has run: a `modulepreload` of its chunk and the chunks it imports
 * (fetched and compiled, run only when the board is opened; 14 kB gzip for the other screens' users). */
function preloadBoard(): Plugin {
  let base = "/";
  return {
    name: "gs-preload-board",
    apply: "build",
    configResolved(c) {
      base = c.base;
    },
    transformIndexHtml: {
      order: "post",
      handler(html, ctx) {
        const chunks = Object.values(ctx.bundle ?? {});
        const board = chunks.find((c) => c.type === "chunk" && c.facadeModuleId?.endsWith("/src/pages/Board.tsx"));
        if (!board || board.type !== "chunk") throw new Error("gs-preload-board: no chunk for src/pages/Board.tsx");
        return [board.fileName, ...board.imports]
          .filter((f) => f.endsWith(".js") && !html.includes(`${base}${f}`))
          .map((f) => ({ tag: "link", attrs: { rel: "modulepreload", crossorigin: true, href: `${base}${f}` }, injectTo: "head" as const }));
      },
    },
  };
}

export default defineConfig({
  plugins: [react(), preloadBoard()],
  server: { host: "127.0.0.1", port: 5173, proxy },
  preview: { host: "127.0.0.1", port: 4173, proxy },
  build: {
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 700,
    rollupOptions: {
      output: {
        manualChunks(id: string) {
          if (id.includes("node_modules/echarts") || id.includes("node_modules/zrender")) return "echarts";
          if (id.includes("node_modules/yaml")) return "yaml";
          if (id.includes("node_modules/react") || id.includes("node_modules/scheduler")) return "react";
          return undefined;
        },
      },
    },
  },
  test: {
    environment: "jsdom",
    setupFiles: ["src/test/setup.ts"],
    pool: "threads",
    maxWorkers: 2,
    css: false,
    // vitest's 5 s default timed out rendering tests when the machine ran at a load of 20 (make test's
    // three lanes beside other work); a hung test still fails, later.
    testTimeout: 30_000,
  },
});
