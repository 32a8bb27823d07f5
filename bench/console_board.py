"""The ops console's SLA board in Chromium: first render with 10,000 open timers, alert → row on screen,
and the built bundle's size.

1. **Real**: the SLA, CRM and EOMS services on the bench infrastructure (BenchEnv), 10,000 open timers
   started the way production starts them (`eoms.ticket.node_entered` events on Kafka, applied by the
   SLA service), the console served by devtools.console_server as `make run` serves it. A supervisor
   opens /board in a fresh browser context: time to the app shell, to the first row, to all 10,000
   rows (the real `GET /api/v1/at-risk`, first page 100 rows, then 500), DOM rows (virtualized), scroll to the end.
2. **Mocked**: the same page with the API answered inside the browser (as console/e2e/board-10k.mjs),
   so the browser's share is seen apart from the services'.
3. **Event → screen**: with the board open and live, timers of a 3-second rule breach one by one; for
   each, the scanner's `fired_at` (sla.alerts) and the moment its breached row appeared in the DOM
   (a MutationObserver, Date.now() on the same machine clock). Also deadline → screen.
4. **Bundle**: console/dist bytes and gzip bytes, all files and the first load (index.html, the entry
   script with its preloads, CSS).

`python -m bench.console_board` (about 2 minutes; needs Debian's chromium, `make browser`);
figures printed and in bench/results/console_board.json. The machine's load average is recorded
with them: on a shared 2-core machine the figures move with whatever else runs.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import json
import os
import re
import statistics
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from backbone.envelope import Envelope
from backbone.events import TicketNodeEntered
from backbone.kafka import Producer
from backbone.topics import EOMS_TICKETS
from bench.common import BenchEnv, percentiles, write_result
from devtools.console_build import DIST, ensure_built
from devtools.infra import free_port

N_TIMERS = int(os.environ.get("CONSOLE_BENCH_TIMERS", "10000"))
N_EVENTS = int(os.environ.get("CONSOLE_BENCH_EVENTS", "20"))
RUNS = 3
CHROMIUM = os.environ.get("GS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Tier B: ten hours (the 10,000 stay open); tier A: three seconds, no warning (the breach is the
# first and only thing the stream says about such a timer).
POLICY = """
version: bench-console-1
rules:
  - id: all
    clock: calendar
    limit_minutes: 600
    escalation:
      - {level: 1, notify_role: supervisor, after_minutes: 1440}
  - id: fast
    customer_tier: A
    clock: calendar
    limit_minutes: 0.05
    escalation:
      - {level: 1, notify_role: supervisor, after_minutes: 1440}
"""
#: Records, on the page's own clock (ms after navigation start), when the board's heading and its first
#: row first appear in the DOM: the first render as the browser saw it, without the round trips of the
#: driver polling for them (which the wall times include, and which grow with the machine's load).
RENDER_MARKS = """
new MutationObserver((_, obs) => {
  if (window.__shellAt === undefined && document.querySelector('.board h1')) window.__shellAt = performance.now();
  if (window.__firstRowAt === undefined && document.querySelector('[data-timer]')) {
    window.__firstRowAt = performance.now();
    obs.disconnect();
  }
}).observe(document, {subtree: true, childList: true});
"""
#: Records when each breached row (by ticket id) first appears in the DOM.
OBSERVER = """
window.__seen = {};
const mark = () => {
  const rows = document.querySelectorAll('[data-timer][data-state=breached], [data-timer][data-state=escalated]');
  for (const row of rows) {
    const a = row.querySelector('a[href^="/tickets/"]');
    const id = a && a.getAttribute('href').slice(9);
    if (id && !(id in window.__seen)) window.__seen[id] = Date.now();
  }
};
new MutationObserver(mark).observe(document.body, {subtree: true, childList: true, attributes: true,
  attributeFilter: ['data-state']});
mark();
"""


def _ctx(ticket_id: str, tier: str, i: int) -> dict[str, Any]:
    nodes = [("resource_check", "network_resource"), ("site_survey", "field_engineer"),
             ("data_production", "data_production")]
    node, role = nodes[i % 3]
    return {"ticket_id": ticket_id, "ticket_kind": "resource_confirmation",
            "business_type": "dedicated_line_data.opening", "origin": "order", "origin_id": f"ord_{ticket_id}",
            "customer_id": f"cus_bench_{i % 50}", "customer_name": f"客户 {i % 50}", "customer_tier": tier,
            "account_manager_id": "am_zhang", "workflow_id": "dedicated_line_data.opening", "workflow_version": 1,
            "node": node, "role": role}


async def start_timers(bootstrap: str, tickets: list[str], tier: str, spacing_s: float = 0.0) -> None:
    producer = Producer(bootstrap, linger_ms=5)
    await producer.start()
    try:
        futures = []
        for i, t in enumerate(tickets):
            payload = TicketNodeEntered(**_ctx(t, tier, i), entered_at=datetime.now(UTC), entered_via="start")
            env = Envelope.wrap(payload, source="bench", subject=t)
            futures.append(await producer.send(EOMS_TICKETS, env.to_bytes(), key=t.encode()))
            if spacing_s:
                await asyncio.gather(*futures)
                futures.clear()
                await asyncio.sleep(spacing_s)
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def wait_open(database_url: str, prefix: str, n: int, timeout_s: float = 300) -> float:
    pool = await asyncpg.create_pool(database_url.replace("+asyncpg", ""), min_size=1, max_size=2)
    t0 = time.perf_counter()
    try:
        while int(await pool.fetchval("SELECT count(*) FROM sla.timers WHERE ticket_id LIKE $1", prefix + "%")) < n:
            if time.perf_counter() - t0 > timeout_s:
                raise RuntimeError(f"fewer than {n} timers open after {timeout_s:.0f}s")
            await asyncio.sleep(0.2)
    finally:
        await pool.close()
    return time.perf_counter() - t0


async def breaches(database_url: str, tickets: list[str]) -> dict[str, tuple[float, float]]:
    """ticket → (due_at, fired_at) of its breach, epoch ms."""
    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        rows = await conn.fetch("SELECT ticket_id, due_at, fired_at FROM sla.alerts "
                                "WHERE event_type = 'sla.breached' AND ticket_id = ANY($1::text[])", tickets)
    finally:
        await conn.close()
    return {r["ticket_id"]: (r["due_at"].timestamp() * 1000, r["fired_at"].timestamp() * 1000) for r in rows}


def run_async(coro: Any) -> Any:
    """asyncio.run in a thread of its own: Playwright's sync API keeps an event loop on this one."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def dev_token(subject: str, roles: list[str]) -> str:
    from backbone.auth import issue_token
    from backbone.settings import DEV_JWT_SECRET

    return issue_token(subject, roles, secret=DEV_JWT_SECRET)


def session_script(token: str) -> str:
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    session = {"token": token, "subject": claims["sub"], "roles": claims["roles"], "name": None,
               "expiresAt": claims["exp"] * 1000, "via": "dev"}
    return f"sessionStorage.setItem('console.session', {json.dumps(json.dumps(session))})"


def first_render(browser: Any, url: str, token: str, n: int, mock: list[dict[str, Any]] | None) -> dict[str, Any]:
    """One cold open of /board in a new context (no cache): shell, first row, all rows, scroll to end."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    context.add_init_script(session_script(token))
    context.add_init_script(RENDER_MARKS)
    page = context.new_page()
    if mock is not None:
        def answer(route: Any) -> None:
            u = route.request.url
            if "/api/v1/at-risk" in u:
                q = dict(p.split("=", 1) for p in u.split("?", 1)[1].split("&")) if "?" in u else {}
                start, limit = int(q.get("cursor", 0)), int(q.get("limit", 500))
                nxt = str(start + limit) if start + limit < n else None
                route.fulfill(json={"items": mock[start:start + limit], "next_cursor": nxt})
            elif "/api/v1/stream" in u:
                route.fulfill(status=200, content_type="text/event-stream", body=": connected\n\n")
            elif "/api/v1/customers" in u:
                route.fulfill(json={"items": [], "next_cursor": None})
            else:
                route.fulfill(json=[])

        page.route("**/svc/**", answer)
    # The renderer main thread's CPU time in tasks (Chrome's Performance domain, thread ticks): what
    # the page itself cost, whatever else the machine runs meanwhile (wall times above include that).
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable", {"timeDomain": "threadTicks"})

    def busy_ms() -> int:
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        return round(float(metrics.get("TaskDuration", 0)) * 1000)

    t0, t0_epoch_ms = time.perf_counter(), time.time() * 1000
    page.goto(f"{url}/board")
    page.wait_for_selector(".board h1")
    shell = time.perf_counter() - t0
    page.wait_for_selector("[data-timer]", timeout=60_000)
    first = time.perf_counter() - t0
    busy_first = busy_ms()
    # On the page's clock (ms after navigation start): the shell and the first row (RENDER_MARKS), and the
    # waterfall to them: /config.json in, the first at-risk page asked and answered, the app's code (boot
    # chunk: React, the router) and the board's in, the first paint with content.
    marks = page.evaluate("""() => {
      const r = performance.getEntriesByType('resource'), at = (f) => r.find(f);
      const first = at(e => e.name.includes('/api/v1/at-risk')), code = at(e => /\\/Board-[^/]+\\.js$/.test(e.name));
      const app = at(e => /\\/boot-[^/]+\\.js$/.test(e.name)), config = at(e => e.name.endsWith('/config.json'));
      const fcp = performance.getEntriesByName('first-contentful-paint')[0];
      return {shell_in_page_ms: Math.round(window.__shellAt), first_row_in_page_ms: Math.round(window.__firstRowAt),
              first_page_asked_ms: first ? Math.round(first.startTime) : null,
              first_page_answered_ms: first ? Math.round(first.responseEnd) : null,
              board_code_ms: code ? Math.round(code.responseEnd) : null,
              app_code_ms: app ? Math.round(app.responseEnd) : null,
              config_ms: config ? Math.round(config.responseEnd) : null,
              fcp_ms: fcp ? Math.round(fcp.startTime) : null, time_origin_epoch_ms: performance.timeOrigin};
    }""")
    # The wall time's share outside the page: from the driver's goto to the navigation's start (same
    # machine clock), and from the first row in the DOM to the driver seeing it.
    marks["before_navigation_ms"] = round(marks.pop("time_origin_epoch_ms") - t0_epoch_ms)
    marks["row_seen_after_ms"] = round(first * 1000) - marks["before_navigation_ms"] - marks["first_row_in_page_ms"]
    page.wait_for_function("n => (document.querySelector('[data-testid=row-count]')?.textContent ?? '')"
                           ".replace(/[\\s,]/g, '').includes(String(n))", arg=n, timeout=120_000)
    everything = time.perf_counter() - t0
    busy_all = busy_ms()
    dom_rows = page.eval_on_selector_all("[data-timer]", "xs => xs.length")
    t1 = time.perf_counter()
    page.eval_on_selector("[data-testid=board-scroll]", "el => { el.scrollTop = el.scrollHeight; }")
    # rendered once a row sits at the bottom of the (virtual) list
    page.wait_for_function("""() => { const el = document.querySelector('[data-testid=board-scroll]');
      const bottom = el.scrollHeight - el.clientHeight - 200;
      return [...document.querySelectorAll('[data-timer]')].some(r =>
        Number((r.style.transform.match(/translateY\\(([\\d.]+)px/) || [0, -1])[1]) >= bottom); }""")
    scroll = time.perf_counter() - t1
    context.close()
    return {"shell_ms": round(shell * 1000), "first_row_ms": round(first * 1000),
            "all_rows_ms": round(everything * 1000), "dom_rows": dom_rows, "scroll_to_end_ms": round(scroll * 1000),
            "main_thread_cpu_to_first_row_ms": busy_first, "main_thread_cpu_to_all_rows_ms": busy_all, **marks}


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {k: statistics.median(r[k] for r in runs) if all(r[k] is not None for r in runs) else None
            for k in runs[0]}


def bundle() -> dict[str, Any]:
    files = [p for p in DIST.rglob("*") if p.is_file() and not p.name.startswith(".")]
    size = {p: p.stat().st_size for p in files}
    gz = {p: len(gzip.compress(p.read_bytes(), compresslevel=9)) for p in files}
    index = (DIST / "index.html").read_text()
    first = [DIST / "index.html"] + [DIST / m.lstrip("/") for m in re.findall(r'(?:src|href)="(/assets/[^"]+)"', index)]
    first = [p for p in first if p.exists()]
    largest = sorted(files, key=lambda p: -size[p])[:5]
    return {"files": len(files), "bytes": sum(size.values()), "gzip_bytes": sum(gz.values()),
            "first_load": {"files": [str(p.relative_to(DIST)) for p in first], "bytes": sum(size[p] for p in first),
                           "gzip_bytes": sum(gz[p] for p in first)},
            "largest": [{"file": str(p.relative_to(DIST)), "bytes": size[p], "gzip_bytes": gz[p]} for p in largest]}


def mocked_items(n: int) -> list[dict[str, Any]]:
    """`GET /api/v1/at-risk` items as the SLA answers them (the fields of its board rows)."""
    now = time.time()
    started = datetime.fromtimestamp(now, UTC).isoformat()
    out = []
    for i in range(n):
        left = (i + 1) * 60
        out.append({"id": f"tm_{i}", "ticket_id": f"tk_{i}", "node": ["resource_check", "site_survey"][i % 2],
                    "state": "warned" if i % 4 == 0 else "running", "open": True, "role": "network_resource",
                    "assignee": None if i % 5 else "p-wanglei", "ticket_kind": "resource_confirmation",
                    "business_type": "dedicated_line_data.opening", "customer_id": f"cus_{i % 50}",
                    "customer_name": f"客户 {i % 50}", "customer_tier": "ABC"[i % 3],
                    "customer_region": "天津-滨海新区",
                    "account_manager_id": "am_zhang", "escalation_level": 0, "policy_version": "p1",
                    "rule_id": "r1", "clock": "calendar", "started_at": started,
                    "deadline": datetime.fromtimestamp(now + left, UTC).isoformat(), "seconds_to_deadline": left,
                    "business_seconds_used": 0, "business_seconds_left": left, "clock_running": True,
                    "clock_changes_at": None, "as_of": started})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timers", type=int, default=N_TIMERS)
    parser.add_argument("--events", type=int, default=N_EVENTS)
    args = parser.parse_args()
    ensure_built()
    from playwright.sync_api import sync_playwright

    from devtools.suite import CONSOLE_SERVICES, start_console

    result: dict[str, Any] = {"timers": args.timers, "load_before": list(os.getloadavg())}
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(POLICY)
        policy_file = f.name
    run = uuid.uuid4().hex[:6]
    prefix = f"tkt_cb_{run}_"
    services = ["crm", "eoms-bridge", "sla"]
    with BenchEnv(services, env={"SLA_POLICY_FILE": policy_file}) as env:
        bulk = [f"{prefix}{i:05d}" for i in range(args.timers)]
        t0 = time.perf_counter()
        asyncio.run(start_timers(env.infra.kafka_bootstrap, bulk, "B"))
        applied = asyncio.run(wait_open(env.infra.database_url, prefix, args.timers))
        result["timers_started_s"] = round(time.perf_counter() - t0, 1)
        print(f"  {args.timers} open timers applied by the SLA service in {applied:.1f}s", flush=True)
        urls = {c: env.url(s) for c, s in CONSOLE_SERVICES.items() if s in services}
        urls["notify"] = f"http://127.0.0.1:{free_port()}"  # not started: the board does not use it
        port = free_port()
        console = start_console(port, urls)
        url = f"http://127.0.0.1:{port}"
        token = dev_token("p-liuyang", ["supervisor"])
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                # The first open in a just-launched browser also pays for the browser's own start (its
                # GPU and network processes, fonts): kept apart, as a person's browser is already running.
                # Every measured open is still cold: a new context, no cache.
                result["fresh_browser_open"] = first_render(browser, url, token, args.timers, None)
                print(f"  first open in a just-launched browser: {result['fresh_browser_open']}", flush=True)
                real = [first_render(browser, url, token, args.timers, None) for _ in range(RUNS)]
                print(f"  real API, {args.timers} timers: {real}", flush=True)
                items = mocked_items(args.timers)
                mocked = [first_render(browser, url, token, args.timers, items) for _ in range(RUNS)]
                print(f"  mocked API, {args.timers} timers: {mocked}", flush=True)
                result["first_render_real"] = {"runs": real, "median": median_of(real)}
                result["first_render_mocked"] = {"runs": mocked, "median": median_of(mocked)}
                result["latency"] = event_to_screen(browser, url, token, env, prefix, args.events)
                browser.close()
        finally:
            console.terminate()
            console.wait(10)
    os.unlink(policy_file)
    result["load_after"] = list(os.getloadavg())
    result["bundle"] = bundle()
    result["chromium"] = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()
    b = result["bundle"]
    print(f"  bundle: {b['bytes'] / 1000:.0f} kB ({b['gzip_bytes'] / 1000:.0f} kB gzip); first load "
          f"{b['first_load']['bytes'] / 1000:.0f} kB ({b['first_load']['gzip_bytes'] / 1000:.0f} kB gzip)", flush=True)
    write_result("console_board", result)


def event_to_screen(browser: Any, url: str, token: str, env: BenchEnv, prefix: str, n: int) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    context.add_init_script(session_script(token))
    page = context.new_page()
    page.goto(f"{url}/board")
    page.wait_for_selector("[data-stream=open]", timeout=60_000)
    page.wait_for_function("() => (document.querySelector('[data-testid=row-count]')?.textContent ?? '')"
                           ".replace(/[\\s,]/g, '').includes('/')")
    page.evaluate(OBSERVER)
    fast = [f"{prefix}fast_{i:03d}" for i in range(n)]
    # one breach every 0.5 s, so each is seen on its own
    run_async(start_timers(env.infra.kafka_bootstrap, fast, "A", spacing_s=0.5))
    deadline = time.monotonic() + 60
    seen: dict[str, float] = {}
    while time.monotonic() < deadline:
        seen = page.evaluate("window.__seen")
        if all(t in seen for t in fast):
            break
        page.wait_for_timeout(250)
    fired = run_async(breaches(env.infra.database_url, fast))
    context.close()
    on_screen = [seen[t] - fired[t][1] for t in fast if t in seen and t in fired]
    from_deadline = [seen[t] - fired[t][0] for t in fast if t in seen and t in fired]
    lateness = [fired[t][1] - fired[t][0] for t in fast if t in fired]
    out = {"breaches": n, "seen": len([t for t in fast if t in seen]),
           "fired_to_screen_ms": percentiles(on_screen), "deadline_to_screen_ms": percentiles(from_deadline),
           "fire_lateness_ms": percentiles(lateness)}
    print(f"  event → screen: {out}", flush=True)
    return out


if __name__ == "__main__":
    main()
