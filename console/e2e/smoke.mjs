// Smoke run of the console against the real suite, by hand (phase 1; tests/browser/ is its tested version):
// `make run` (which serves the console on :8080), then `node e2e/smoke.mjs`.
// An order placed through the workbench form shows on the SLA board and breaches without a reload;
// a worker claims and completes a node while a second context claiming the same gets the 409;
// an admin's broken policy is refused at the rule; English; screenshots to docs/screenshots.
// Needs Debian's chromium (/usr/bin/chromium) and a CJK font (fonts-wqy-zenhei) for the screenshots.
import { chromium } from "playwright-core";
const BASE = process.env.CONSOLE_URL ?? "http://127.0.0.1:8080";
const OUT = process.env.SCREENSHOTS ?? new URL("../../docs/screenshots", import.meta.url).pathname;
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"] });
const errors = [];
async function ctx(persona, lang = "zh-CN") {
  const c = await browser.newContext({ viewport: { width: 1400, height: 860 }, locale: lang, timezoneId: "Europe/Berlin" });
  await c.addInitScript((l) => localStorage.setItem("console.lang", l), lang);
  const p = await c.newPage();
  p.on("pageerror", (e) => errors.push(`${persona}: ${e.message}`));
  p.on("console", (m) => { if (m.type() === "error") errors.push(`${persona} console: ${m.text()}`); });
  await p.goto(`${BASE}/login`);
  await p.click(`[data-persona="${persona}"]`);
  await p.waitForURL((u) => !u.pathname.startsWith("/login"));
  return p;
}
const log = (...a) => console.log(new Date().toISOString().slice(11, 19), ...a);

// login screen
{
  const c = await browser.newContext({ viewport: { width: 1400, height: 860 } });
  const p = await c.newPage();
  p.on("pageerror", (e) => errors.push(`login: ${e.message}`));
  await p.goto(`${BASE}/login`);
  await p.waitForSelector("[data-persona]");
  await p.screenshot({ path: `${OUT}/login.png` });
  await c.close();
}

// supervisor opens the board first (the feed starts "now")
const sup = await ctx("p-liuyang");
await sup.waitForSelector("[data-stream=open]", { timeout: 20000 });
log("board live");

// account manager places an order through the form
const am = await ctx("am_zhang");
await am.waitForSelector("text=新建受理单");
await am.click("text=新建受理单");
await am.waitForSelector("[data-testid=order-form]");
await am.selectOption("select[name='items.0.product']", "dedicated_line_data");
await am.waitForSelector("select[name=bandwidth_mbps]");
await am.click("button:has-text('创建受理单')");
await am.waitForSelector("text=必填");
await am.screenshot({ path: `${OUT}/order-form-errors.png` });
await am.selectOption("select[name=bandwidth_mbps]", "100");
await am.fill("input[name=a_end_address]", "天津港");
await am.fill("input[name=z_end_address]", "IDC");
await am.click("button:has-text('创建受理单')");
await am.waitForURL(/\/orders\//, { timeout: 15000 });
const orderId = am.url().split("/").pop();
log("order", orderId);

// the board shows it breached without a reload
const t0 = Date.now();
await sup.waitForSelector(`[data-state=breached], [data-state=escalated]`, { timeout: 120000 });
log("breach on board after", Math.round((Date.now() - t0) / 1000), "s");
await sup.screenshot({ path: `${OUT}/board.png` });

// workbench and the order page
await am.reload();
await am.waitForSelector("text=时间线");
await am.screenshot({ path: `${OUT}/order.png`, fullPage: true });
await am.goto(`${BASE}/workbench`);
await am.waitForSelector(`[data-order="${orderId}"]`);
await am.screenshot({ path: `${OUT}/workbench.png` });

// network staff claims from the queue; a second context claiming the same sees the conflict
const ns = await ctx("p-wanglei");
const ns2 = await ctx("p-sunhao");
await ns.goto(`${BASE}/queue`);
await ns2.goto(`${BASE}/queue`);
for (const p of [ns, ns2]) await p.selectOption("[data-testid=queue-role]", "network_staff");  // order acceptance
await ns.waitForSelector("[data-ticket] button.primary");
await ns2.waitForSelector("[data-ticket] button.primary");
const ticketId = await ns.getAttribute("[data-ticket]:has(button.primary)", "data-ticket");
await ns.click(`[data-ticket="${ticketId}"] button.primary`);
await ns.waitForSelector("[role=dialog]");
await ns.screenshot({ path: `${OUT}/queue-dialog.png` });
await ns2.click(`[data-ticket="${ticketId}"] button.primary`);
await ns2.waitForSelector(".conflict");
log("conflict:", await ns2.textContent(".conflict"));
await ns2.screenshot({ path: `${OUT}/queue-conflict.png` });
// complete the node
await ns.check("input[value=complete]");
const outcome = await ns.$("select[name=outcome]");
if (outcome) await ns.selectOption("select[name=outcome]", { index: 1 });
else await ns.fill("input[name=outcome]", "accepted");
await ns.click("[role=dialog] button.primary");
await ns.waitForSelector("[role=dialog]", { state: "detached", timeout: 10000 }).catch(async () => {
  log("dialog still open:", await ns.textContent("[role=dialog]"));
});
log("completed", ticketId);

// ticket drill-down (supervisor)
await sup.goto(`${BASE}/tickets/${ticketId}`);
await sup.waitForSelector(".wf-graph");
await sup.waitForTimeout(1500);
await sup.screenshot({ path: `${OUT}/ticket.png`, fullPage: true });

// reports
await sup.goto(`${BASE}/reports`);
await sup.waitForSelector(".chart svg, .card p.muted", { timeout: 15000 });
await sup.waitForTimeout(1000);
await sup.screenshot({ path: `${OUT}/reports.png`, fullPage: true });

// admin: policies with a broken upload, workflows, directory, status
const admin = await ctx("p-caoyang");
await admin.goto(`${BASE}/admin/policies`);
await admin.waitForSelector("[data-version]");
await admin.fill("textarea.code", `version: "broken-1"\nrules:\n  - id: ok\n    limit_minutes: 10\n  - id: bad\n    node: resource_check\n    limit_minutes: soon\n`);
await admin.click("button:has-text('校验')");
await admin.waitForSelector("[data-testid=policy-refusal]");
log("refusal:", (await admin.textContent("[data-testid=policy-refusal]")).slice(0, 200));
await admin.screenshot({ path: `${OUT}/admin-policies.png`, fullPage: true });
await admin.goto(`${BASE}/admin/workflows`);
await admin.waitForSelector("text=查看流程图");
await admin.click("tr:has-text('dedicated_line_data.opening') button");
await admin.waitForSelector(".wf-graph");
await admin.screenshot({ path: `${OUT}/admin-workflows.png`, fullPage: true });
await admin.goto(`${BASE}/admin/directory`);
await admin.waitForSelector("text=am_zhang");
await admin.screenshot({ path: `${OUT}/admin-directory.png` });
await admin.goto(`${BASE}/admin/status`);
await admin.waitForSelector("[data-service=notify]");
await admin.waitForTimeout(500);
await admin.screenshot({ path: `${OUT}/admin-status.png` });

// English
const en = await ctx("p-liuyang", "en");
await en.waitForSelector("text=SLA board");
await en.waitForTimeout(2000);
await en.screenshot({ path: `${OUT}/board-en.png` });
const enNs = await ctx("p-wanglei", "en");
await enNs.goto(`${BASE}/queue`);
await enNs.waitForSelector("text=Work queue");
await enNs.screenshot({ path: `${OUT}/queue-en.png` });

await browser.close();
// resources answering 403/409/422 are expected above (workflow read as network staff, the conflict,
// the refusal); anything else is a script error
const scriptErrors = errors.filter((e) => !/Failed to load resource: the server responded with a status of (403|409|422)/.test(e));
console.log("script errors:", scriptErrors.length ? JSON.stringify(scriptErrors, null, 1) : "none");
process.exit(scriptErrors.length ? 1 : 0);
