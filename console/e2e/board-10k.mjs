// The SLA board with 10,000 open timers in Chromium: time from navigation to the first row, and
// scrolling to the end of the virtualized list. The API is mocked in the page (no suite needed):
// `npm run build && npx vite preview` then `node e2e/board-10k.mjs`.
import { chromium } from "playwright-core";

const BASE = process.env.CONSOLE_URL ?? "http://127.0.0.1:4173";
const N = 10000;
const now = Date.now();
const items = Array.from({ length: N }, (_, i) => ({ // GET /api/v1/at-risk items (the SLA's BoardTimer)
  id: `tm_${i}`, ticket_id: `tk_${i}`, node: ["resource_check", "site_survey", "data_production"][i % 3],
  state: i % 4 ? "running" : "warned", open: true, role: ["network_resource", "field_engineer", "data_production"][i % 3],
  assignee: i % 5 ? null : "p-wanglei", ticket_kind: "service_opening", business_type: "vpmn.opening",
  customer_id: `cus_${i % 50}`, customer_name: `客户 ${i % 50}`, customer_tier: "ABC"[i % 3], customer_region: "天津-滨海新区",
  account_manager_id: "am_zhang", escalation_level: 0, policy_version: "p1", rule_id: "r1", clock: "calendar",
  started_at: new Date(now).toISOString(), deadline: new Date(now + (i + 1) * 60000).toISOString(),
  seconds_to_deadline: (i + 1) * 60, business_seconds_used: 0, business_seconds_left: (i + 1) * 60, clock_running: true,
  clock_changes_at: null, as_of: new Date(now).toISOString(),
}));
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
const token = `${b64({ alg: "HS256" })}.${b64({ sub: "p-liuyang", roles: ["supervisor"], exp: Math.floor(now / 1000) + 3600 })}.x`;

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"] });
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
await page.route("**/svc/**", async (route) => {
  const url = new URL(route.request().url());
  if (url.pathname.endsWith("/api/v1/at-risk")) {
    const start = Number(url.searchParams.get("cursor") ?? 0);
    const limit = Number(url.searchParams.get("limit") ?? 500);
    const next = start + limit < N ? String(start + limit) : null;
    return route.fulfill({ json: { items: items.slice(start, start + limit), next_cursor: next } });
  }
  if (url.pathname.endsWith("/api/v1/stream")) return route.fulfill({ status: 200, contentType: "text/event-stream", body: ": connected\n\n" });
  if (url.pathname.endsWith("/api/v1/customers")) return route.fulfill({ json: { items: [], next_cursor: null } });
  if (url.pathname.endsWith("/api/v1/products")) return route.fulfill({ json: [] });
  return route.fulfill({ json: [] });
});
await page.addInitScript((t) => sessionStorage.setItem("console.session", JSON.stringify({
  token: t, subject: "p-liuyang", roles: ["supervisor"], name: null, expiresAt: null, via: "dev" })), token);
const t0 = Date.now();
await page.goto(`${BASE}/board`);
await page.waitForSelector(".board h1");
const shell = Date.now() - t0;
await page.waitForSelector(`[data-timer="tm_0"]`);
const firstRow = Date.now() - t0;
await page.waitForFunction((n) => document.querySelector("[data-testid=row-count]")?.textContent?.includes(String(n)), N);
const firstRender = Date.now() - t0;
const rendered = await page.$$eval("[data-timer]", (xs) => xs.length);
const t1 = Date.now();
await page.$eval("[data-testid=board-scroll]", (el) => { el.scrollTop = el.scrollHeight; });
await page.waitForSelector(`[data-timer="tm_${N - 1}"]`);
const scrollEnd = Date.now() - t1;
console.log(JSON.stringify({ rows: N, boardShellMs: shell, firstRowMs: firstRow, allRowsMs: firstRender, domRows: rendered, scrollToEndMs: scrollEnd }));
await browser.close();
