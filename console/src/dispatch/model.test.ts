import { describe, expect, it } from "vitest";
import type { QueueTask } from "../api/types";
import { candidatesFor, dispatchRows, regionsOf, type Candidate } from "./model";

const NOW = Date.parse("2026-12-02T04:00:00Z");

function task(id: string, assignee: string | null, minutesAgo: number, region: string | null = "天津-和平区"): QueueTask {
  return {
    ticket_id: id, ticket_kind: "resource_confirmation", business_type: "dedicated_line_data.opening",
    node: "resource_check", node_title: { "zh-CN": "资源核查", en: "Resource check" }, role: "network_resource",
    state: assignee ? "in_progress" : "acknowledged", assignee, partner: null,
    node_entered_at: new Date(NOW - minutesAgo * 60000).toISOString(), customer_id: "cus_1", customer_name: "客户",
    customer_tier: "A", customer_region: region, origin: "order", origin_id: "ord_1", version: 3,
  };
}

function person(id: string, name: string, onDuty: boolean, open: number): Candidate {
  return { id, name, department: "network", department_name: "网络部", partner: null, on_duty: onDuty, open_tasks: open };
}

const PEOPLE = [person("noc_wang", "王工", true, 3), person("p-wanglei", "王磊", true, 1), person("p-qianjun", "钱军", false, 0)];

describe("the dispatch screen's data", () => {
  it("puts the unassigned tasks first, longest waiting first, and names the assignees", () => {
    const tasks = [task("tk_a", "p-wanglei", 50), task("tk_b", null, 5), task("tk_c", null, 30), task("tk_d", "x-unknown", 90)];
    const rows = dispatchRows(tasks, PEOPLE, "all", NOW);
    expect(rows.map((r) => [r.task.ticket_id, r.assignee])).toEqual([
      ["tk_c", null], ["tk_b", null], ["tk_d", "x-unknown"], ["tk_a", "王磊"]]);
    expect(rows[0]?.waiting).toBe(30 * 60);
    expect(dispatchRows(tasks, PEOPLE, "unassigned", NOW).map((r) => r.task.ticket_id)).toEqual(["tk_c", "tk_b"]);
    expect(dispatchRows([task("tk_f", null, -1)], PEOPLE, "all", NOW)[0]?.waiting).toBe(0); // clocks differ: never negative
  });

  it("offers everyone of the role but the current assignee, on duty first, then the least loaded", () => {
    expect(candidatesFor(task("tk_a", null, 1), PEOPLE).map((p) => p.id)).toEqual(["p-wanglei", "noc_wang", "p-qianjun"]);
    expect(candidatesFor(task("tk_a", "p-wanglei", 1), PEOPLE).map((p) => p.id)).toEqual(["noc_wang", "p-qianjun"]);
    expect(candidatesFor(task("tk_a", null, 1), [])).toEqual([]);
  });

  it("offers the remembered region and those of the tasks, once each", () => {
    const tasks = [task("a", null, 1, "天津-滨海新区"), task("b", null, 1, "天津-和平区"), task("c", null, 1, null),
      task("d", null, 1, "天津-和平区")];
    expect(regionsOf(tasks, "天津-西青区")).toEqual(["天津-和平区", "天津-滨海新区", "天津-西青区"].sort((x, y) => x.localeCompare(y, "zh-CN")));
    expect(regionsOf([], "")).toEqual([]);
  });
});
