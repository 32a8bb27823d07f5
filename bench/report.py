"""Renders the latest bench/results/*.json into docs/benchmarks.md (between the figures markers).

`python -m bench.report` (run by `make bench` after the benchmarks). The prose around the markers
is written by people; the tables between them are regenerated from the results files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- figures:start -->", "<!-- figures:end -->"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _pct(d: dict[str, Any] | None, unit: str = "ms") -> str:
    if not d or not d.get("n"):
        return "n/a"
    return f"{d['p50']:g} / {d.get('p90', 0):g} / {d['p99']:g} / {d['max']:g} {unit}"


def _machine(run: dict[str, Any]) -> str:
    """The machine's busy and stolen share over a measured window (`CpuMeter.machine`), when the run has it."""
    m = run.get("machine_cpu")
    return f"{m['busy_percent']:g} / {m['steal_percent']:g} %" if m else "–"


def _e2e(r: dict[str, Any]) -> list[str]:
    chain = " + EOMS bridge" + (" + SLA" if "sla" in r.get("services", []) else "")
    out = [f"_Measured {r['at']}, CRM with {r.get('crm_workers', 1)} uvicorn worker(s){chain}._", "",
           "| offered orders/s | tickets/s through the chain | errors | end-to-end p50 / p90 / p99 / max | "
           "REST | relay | consumer (p50 / p90 / p99 / max) |",
           "|---|---|---|---|---|---|---|"]
    for run in r["runs"]:
        b = run["breakdown_ms"]
        out.append(f"| {run['offered_rate_per_s']:g} | {run['throughput_orders_per_s']} | {run['errors']} | "
                   f"{_pct(run['e2e_ms'])} | {_pct(b['rest'])} | {_pct(b['relay'])} | {_pct(b['consumer'])} |")
    if raw := r.get("relay_raw"):  # absent with --no-relay-raw
        out += ["", f"Outbox relay alone: {raw['events_per_s']:g} events/s ({raw['rows']} rows in {raw['seconds']} s)."]
    cpu = [run for run in r["runs"] if run.get("cpu_ms_per_order") is not None]
    if cpu:
        names = sorted({k for run in cpu for k in run["cpu_ms_per_order_by_process"]})
        out += ["", "| offered orders/s | CPU-ms per order, all processes | " + " | ".join(names)
                + " | machine busy / stolen |", "|---|---|" + "---|" * len(names) + "---|"]
        for run in cpu:
            by = run["cpu_ms_per_order_by_process"]
            out.append(f"| {run['offered_rate_per_s']:g} | **{run['cpu_ms_per_order']:g}** | "
                       + " | ".join(f"{by.get(n, 0):g}" for n in names) + f" | {_machine(run)} |")
    return out


def _relay(r: dict[str, Any]) -> list[str]:
    lat, raw = r["latency"], r["raw"]
    return [f"_Measured {r['at']}: a standalone relay (LISTEN, wake on commit)._", "",
            f"{lat['events']:,} events committed at {lat['offered_per_s']:g}/s, one per transaction: publish "
            f"latency (commit → record timestamp) **{_pct(lat['publish_ms'])}**; arrival at a consumer "
            f"{_pct(lat['arrival_ms'])}; relay CPU {lat['relay_cpu_ms_per_event']:g} ms per event. "
            f"Raw: **{raw['events_per_s']:g} events/s** ({raw['rows']:,} rows in {raw['seconds']} s)."]


def _idle(r: dict[str, Any]) -> list[str]:
    per = r["percent_of_a_core"]
    services = ", ".join(k for k in per if k not in ("kafka", "postgresql"))
    return [f"_Measured {r['at']}: the services ({services}), PostgreSQL and Kafka idle for {r['idle_s']:g} s._", "",
            "| " + " | ".join(per) + " | services | **all** |", "|" + "---|" * (len(per) + 2),
            "| " + " | ".join(f"{v:g} %" for v in per.values()) + f" | {r['services_percent']:g} % | "
            f"**{r['total_percent']:g} %** |"]


def _crm(r: dict[str, Any]) -> list[str]:
    out = [f"_Measured {r['at']}: 50 clients, closed loop._", "",
           "| CRM workers | orders/s | latency p50 / p90 / p99 / max |", "|---|---|---|"]
    for run in r["runs"]:
        out.append(f"| {run['crm_workers']} | {run['orders_per_s']} | {_pct(run['latency_ms'])} |")
    return out


def _eoms(r: dict[str, Any]) -> list[str]:
    tc, tr = r["ticket_creation"], r["transitions"]
    return [f"_Measured {r['at']}._", "",
            "| what | rate | latency p50 / p90 / p99 / max |", "|---|---|---|",
            f"| tickets created from `crm.order.submitted` ({tc['orders']} events) | {tc['tickets_per_s']}/s | |",
            f"| REST `accept` ({tr['concurrency']} in flight) | {tr['accept']['per_s']}/s | "
            f"{_pct(tr['accept']['latency_ms'])} |",
            f"| REST `complete` ({tr['concurrency']} in flight) | {tr['complete']['per_s']}/s | "
            f"{_pct(tr['complete']['latency_ms'])} |"]


def _sla(r: dict[str, Any]) -> list[str]:
    load = r.get("machine", {}).get("load_average")
    at_load = f", load average before {', '.join(f'{x:g}' for x in load)}" if load else ""
    out = [f"_Measured {r['at']}{at_load}._", ""]
    firing = r.get("firing", {})
    if firing:
        out += ["| fire lateness | p50 / p90 / p99 / max |", "|---|---|"]
        for key, value in firing.items():
            if isinstance(value, dict) and "p99" in value:
                out.append(f"| {key} | {_pct(value)} |")
        facts = {k: v for k, v in firing.items() if not isinstance(v, dict)}
        if facts:
            out += ["", ", ".join(f"{k}: {v}" for k, v in facts.items())]
    if "memory" in r:
        out += ["", "Memory of the SLA process: " + ", ".join(f"{k} {v}" for k, v in r["memory"].items())]
    if not r.get("throughput"):
        return out
    out += [""] if out[-1] else []
    out += ["| consumer path | starts/s | stops/s | CPU-ms per start / per stop (SLA, PostgreSQL, Kafka) | "
            "machine busy / stolen, starts; stops |", "|---|---|---|---|---|"]
    for name, t in r["throughput"].items():
        cpu = " / ".join(", ".join(f"{v:g}" for v in t[p].get("cpu_ms_per_event", {}).values()) or "–"
                         for p in ("start", "stop"))
        out.append(f"| {name} | {t['start']['events_per_s']} | {t['stop']['events_per_s']} | {cpu} | "
                   f"{_machine(t['start'])}; {_machine(t['stop'])} |")
    return out


def _notify(r: dict[str, Any]) -> list[str]:
    cpu = r.get("cpu_ms_per_message")
    total = f"; all {r['cpu_ms_per_message_all']:g}" if "cpu_ms_per_message_all" in r else ""
    per = ", ".join(f"{k} {v:g}" for k, v in cpu.items()) if cpu else ""
    cpu_line = ["", f"CPU-ms per message: {per}{total}."] if cpu else []
    return [f"_Measured {r['at']}, {r.get('instances', 1)} notify instance(s), "
            f"{r.get('workers_per_channel', 4)} dispatch workers per channel each._", "",
            f"{r['events']} `sla.breached` events → {r['messages_expected']} messages "
            f"({r['emails_received']} e-mails at the SMTP server, {r['sms_received']} SMS at the SMSC): "
            f"**{r['messages_per_s']} messages/s**; arrival after the first event p50 / p90 / p99 / max: "
            f"{_pct(r['arrival_s'], 's')}.", *cpu_line]


def _console(r: dict[str, Any]) -> list[str]:
    load = ", ".join(f"{x:.1f}" for x in r.get("load_before", []))
    out = [f"_Measured {r['at']} in {r.get('chromium', 'Chromium')}, load average before: {load}._", "",
           f"| board with {r['timers']:,} open timers (median of "
           f"{len(r['first_render_real']['runs'])} cold opens) | app shell | first row | all rows | "
           "DOM rows | scroll to end | renderer main-thread CPU to first row / all rows |",
           "|---|---|---|---|---|---|---|"]
    for key, label in (("first_render_real", "real SLA API (`GET /api/v1/at-risk`, first page 100 rows, then 500)"),
                       ("first_render_mocked", "API answered in the browser")):
        m = r[key]["median"]
        busy = f"{m.get('main_thread_cpu_to_first_row_ms', 0):g} / {m.get('main_thread_cpu_to_all_rows_ms', 0):g}"
        out.append(f"| {label} | {m['shell_ms']:g} ms | **{m['first_row_ms']:g} ms** | {m['all_rows_ms']:g} ms | "
                   f"{m['dom_rows']:g} | {m['scroll_to_end_ms']:g} ms | {busy} ms |")
    per_run = [f"{label} " + ", ".join(f"{x['first_row_ms']:g} / {x['first_row_in_page_ms']:g}" for x in runs)
               for key, label in (("first_render_real", "real API"), ("first_render_mocked", "answered in the browser"))
               if (runs := r[key]["runs"]) and runs[0].get("first_row_in_page_ms") is not None]
    if per_run:
        out += ["", "Each cold open, first row wall / page clock (ms): " + "; ".join(per_run) + "."]
    if (fresh := r.get("fresh_browser_open")) is not None:
        out += ["", "Not in the medians: the first open in a just-launched browser (it also pays for the browser's "
                f"own start), first row wall / page clock {fresh['first_row_ms']:g} / "
                f"{fresh['first_row_in_page_ms']:g} ms."]
    if r["first_render_real"]["median"].get("first_row_in_page_ms") is not None:
        out += ["", "On the page's own clock (ms from navigation start, medians; no driver round trips): "
                "shell / **first row** / first at-risk page asked → answered / board code arrived / first "
                "contentful paint:"]
        for key, label in (("first_render_real", "real API"), ("first_render_mocked", "answered in the browser")):
            m = r[key]["median"]
            out.append(f"{label} {m['shell_in_page_ms']:g} / **{m['first_row_in_page_ms']:g}** / "
                       f"{m['first_page_asked_ms']:g} → {m['first_page_answered_ms']:g} / {m['board_code_ms']:g} / "
                       f"{m['fcp_ms']:g} ms" + (";" if key == "first_render_real" else "."))
    lat = r["latency"]
    out += ["", f"Alert → row on screen ({lat['seen']} of {lat['breaches']} breaches seen), p50 / p90 / p99 / max: "
            f"scanner fired → row **{_pct(lat['fired_to_screen_ms'])}**; deadline → row "
            f"{_pct(lat['deadline_to_screen_ms'])} (fire lateness {_pct(lat['fire_lateness_ms'])})."]
    b = r["bundle"]
    out += ["", f"Bundle (`console/dist`): {b['files']} files, {b['bytes'] / 1000:,.0f} kB, "
            f"{b['gzip_bytes'] / 1000:,.0f} kB gzip; first load ({', '.join(b['first_load']['files'])}) "
            f"{b['first_load']['bytes'] / 1000:,.0f} kB, {b['first_load']['gzip_bytes'] / 1000:,.0f} kB gzip; largest: "
            + ", ".join(f"{x['file']} {x['bytes'] / 1000:,.0f} kB ({x['gzip_bytes'] / 1000:,.0f} kB gz)"
                        for x in b["largest"][:3]) + "."]
    return out


def _stats(r: dict[str, Any]) -> list[str]:
    live, rb = r["live"], r["rebuild"]
    return [f"_Measured {r['at']}._", "",
            f"{r['orders']:,} orders (two items each, and a ticket node entered, assigned, completed and its "
            f"`sla.met` per order: {r['events']:,} events, {r['facts']:,} facts): recorded by the live consumer "
            f"**{live['events_per_s']:g} events/s** ({live['seconds']} s from the first event produced); "
            f"rebuilt from offset zero (`stats.services.rebuild`) **{rb['events_per_s']:g} events/s** "
            f"({rb['records']:,} records in {rb['seconds']} s), "
            + ("the same figures." if rb["same_figures"] else "**figures differ**.")]


def _hub(r: dict[str, Any]) -> list[str]:
    down = r["down_subscriber"]
    return [f"_Measured {r['at']}: {r['subscribers']} subscribers ({r['down_subscribers']} down throughout) x "
            f"{r['events']:,} events ({r['orders']} orders placed and cancelled)._", "",
            f"{r['deliveries']:,} of {r['deliveries_expected']:,} deliveries: "
            f"**{r['deliveries_per_s']:g} deliveries/s** while delivering "
            f"({r['deliveries_per_s_overall']:g}/s from the first order); event → callback "
            f"**{_pct(r['event_to_callback_ms'])}**; {r['order_violations']} order violations, "
            f"{r['duplicates']} duplicates, {r['bad_signatures']} bad of {r['signatures_checked']} signatures "
            f"checked; the down subscriber: {down['queued']:,} queued, {down['delivered']} delivered."]


def _eoms_steady(r: dict[str, Any]) -> list[str]:
    load = ", ".join(f"{x:g}" for x in r.get("machine", {}).get("load_average", []))
    lines = [f"_Measured {r['at']}, load average before {load}: `crm.order.submitted` produced open loop at the "
             "offered rate while the bridge consumes (the CRM left out)._", "",
             "| offered orders/s | orders → tickets | produced → ticket p50 / p90 / p99 / max | CPU-ms per order, "
             "all | eoms-bridge | kafka | postgresql | machine busy / stolen |", "|---|---|---|---|---|---|---|---|"]
    for run in r["steady"]:
        by = run["cpu_ms_per_order_by_process"]
        lines.append(f"| {run['offered_rate_per_s']:g} | {run['orders']} → {run['tickets']} | "
                     f"{_pct(run['produced_to_ticket_ms'])} | **{run['cpu_ms_per_order']:g}** | "
                     f"{by.get('eoms-bridge')} | {by.get('kafka')} | {by.get('postgresql')} | {_machine(run)} |")
    return lines


def _floor(r: dict[str, Any]) -> list[str]:
    lines = [f"{r['clients']} clients, closed loop, {r['seconds']:.0f} s per app; CPU-ms per request "
             "(the chain's target: 2 ms per order for every process together).", "",
             "| app | round trips | requests/s | app | PostgreSQL | app + PostgreSQL | load generator "
             "| machine busy / stolen |",
             "|---|---|---|---|---|---|---|---|"]
    for run in r["runs"]:
        cpu = run["cpu_ms_per_request"]
        group = run.get("group_commit")
        shape = (f", group commit ({'a savepoint per request' if group == 'savepoint' else 'one statement per group'}"
                 f", {run['requests_per_group']} requests per group)" if group else "")
        inserts = run["inserts_per_transaction"] or 1
        lines.append(f"| {run['kind']}, {inserts} insert(s){shape} | {run['round_trips']} | "
                     f"{run['requests_per_s']} | {cpu.get('app')} | {cpu.get('postgresql')} | "
                     f"**{run['cpu_ms_per_request_app_and_postgresql']}** | {cpu.get('load_generator')} | "
                     f"{_machine(run)} |")
    return lines


def _floor_hop(r: dict[str, Any]) -> list[str]:
    lines = [f"_Measured {r['at']}_: {r['records']:,} records of {r['value_bytes']} bytes, random keys, "
             f"{r['partitions']} partitions, batches of {r['batch']}, runs of {r['run']} per transaction"
             + "".join(f"; {run['variant']}: {run['records']} records one at a time at {run['rate_per_s']:g}/s"
                       for run in r["runs"] if "rate_per_s" in run)
             + "; CPU-ms per record.", "",
             "| variant | records/s | process | PostgreSQL | Kafka | **all** | machine busy / stolen |",
             "|---|---|---|---|---|---|---|"]
    for run in r["runs"]:
        cpu = run["cpu_ms_per_record"]
        lines.append(f"| {run['variant']} | {run['records_per_s']:g} | {cpu.get('process')} | "
                     f"{cpu.get('postgresql')} | {cpu.get('kafka')} | **{run['cpu_ms_per_record_total']}** | "
                     f"{_machine(run)} |")
    return lines


SECTIONS = [
    ("e2e_orders", "End to end: REST order → ticket created", _e2e),
    ("relay", "Outbox relay: publish latency and raw rate", _relay),
    ("idle", "Idle: the whole suite's CPU when nothing happens (% of one core)", _idle),
    ("crm_orders", "CRM: order creation over REST", _crm),
    ("floor", "The floor: a POST that writes rows on this stack, nothing of ours", _floor),
    ("floor_hop", "The floor of a Kafka hop: produce, relay, consume on this stack, nothing of ours", _floor_hop),
    ("eoms_tickets", "EOMS bridge: tickets and node transitions", _eoms),
    ("eoms_tickets_steady", "EOMS bridge at a steady rate: CPU per order (`--rates 100,300`)", _eoms_steady),
    ("sla_timers", "SLA: firing with millions of open timers, start/stop throughput (`make bench`'s defaults)", _sla),
    ("sla_timers_10m", "SLA: firing with 10 M open timers (`--parts firing --open-timers 10000000`)", _sla),
    ("sla_timers_throughput", "SLA: timer starts and stops from Kafka (`--parts throughput --no-compare`)", _sla),
    ("notify_messages", "Notify: messages to the SMTP server and the SMSC", _notify),
    ("hub_fanout", "TMF hub: fan-out to 100 subscribers, one down", _hub),
    ("console_board", "Ops console: the SLA board in Chromium", _console),
    ("stats_read_model", "Statistics: the read model's consumer and its rebuild", _stats),
]


def render() -> str:
    lines = [START, ""]
    for name, title, fn in SECTIONS:
        result = _load(name)
        lines.append(f"### {title}")
        lines.append("")
        if result is None:
            lines.append(f"_No results yet: `python -m bench.{name}`._")
        else:
            try:
                lines += fn(result)
                calibrated = {when: result.get("machine", {}).get(key) for when, key in
                              (("start", "calibration_ms"), ("end", "calibration_end_ms"))}
                if said := [f"{ms:g} CPU-ms at its {when}" for when, ms in calibrated.items() if ms is not None]:
                    lines += ["", f"_The machine's calibration for this run: {', '.join(said)} "
                                  "(`bench.common.calibration_ms`, lower is faster)._"]
            except (KeyError, TypeError) as exc:
                lines.append(f"_bench/results/{name}.json has an unexpected shape ({exc!r}); see the file._")
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def main() -> None:
    text = DOC.read_text() if DOC.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    DOC.write_text(head + render() + tail)
    print(f"updated {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
