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

/** index.html asks for the app's code (src/boot.tsx, which the entry imports dynamically: the entry itself
 * holds no React, so it runs at once and asks the board's first rows while React downloads) and the
 * board's (the supervisors' home, issue 10's first-render target) while the entry loads, not after it has
 * run: a `modulepreload` of those chunks and every chunk they import (fetched and compiled, run only when
 * imported: the other screens' users download the board's 14 kB gzip for nothing). */
const PRELOADED = ["/src/boot.tsx", "/src/pages/Board.tsx"];

function preloadApp(): Plugin {
  let base = "/";
  return {
    name: "gs-preload-app",
    apply: "build",
    configResolved(c) {
      base = c.base;
    },
    transformIndexHtml: {
      order: "post",
      handler(html, ctx) {
        const chunks = Object.values(ctx.bundle ?? {}).flatMap((c) => (c.type === "chunk" ? [c] : []));
        const files: string[] = [];
        const visit = (fileName: string) => {
          if (files.includes(fileName)) return;
          files.push(fileName);
          for (const f of chunks.find((c) => c.fileName === fileName)?.imports ?? []) visit(f);
        };
        for (const module of PRELOADED) {
          const chunk = chunks.find((c) => c.facadeModuleId?.endsWith(module));
          if (!chunk) throw new Error(`gs-preload-app: no chunk for ${module}`);
          visit(chunk.fileName);
        }
        return files
          .filter((f) => f.endsWith(".js") && !html.includes(`${base}${f}`))
          .map((f) => ({ tag: "link", attrs: { rel: "modulepreload", crossorigin: true, href: `${base}${f}` }, injectTo: "head" as const }));
      },
    },
  };
}

export default defineConfig({
  plugins: [react(), preloadApp()],
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
