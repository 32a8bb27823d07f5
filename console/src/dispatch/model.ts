// The dispatcher's screen, as pure functions: the open tasks of a node role in a region (the EOMS
// bridge's queue), who they are assigned to (by name, from the organisation's people of the role), and
// whom a task can go to (on duty in its region first, with their open tasks).
import type { GetResult, ServicePaths } from "../api/client";
import type { QueueTask } from "../api/types";

export type Candidates = GetResult<"eoms", "/api/v1/assignments/people">;
export type Candidate = Candidates["items"][number];
/** The node roles the queue route takes (the OpenAPI snapshot's NodeRole). */
export type QueueRole = ServicePaths["eoms"]["/api/v1/queues/{role}"]["get"]["parameters"]["path"]["role"];
/** The node roles whose tasks a dispatcher hands out (every node role but the account manager's and the
 * supervisor's own nodes), in the order the screen offers them. */
export const DISPATCH_ROLES = ["network_resource", "field_engineer", "network_staff", "data_production", "noc_tester",
  "transmission", "core_network", "complaint_desk", "partner_si"] as const satisfies readonly QueueRole[];
export type DispatchRole = (typeof DISPATCH_ROLES)[number];

export type Show = "unassigned" | "all";

export interface DispatchRow {
  task: QueueTask;
  /** the assignee's name when the organisation knows them, else their id; null: nobody yet */
  assignee: string | null;
  /** seconds since the node was entered */
  waiting: number;
}

/** The rows shown: unassigned tasks first (they wait for a dispatcher), then by time waiting (longest
 * first); `show: "unassigned"` keeps only those. */
export function dispatchRows(tasks: readonly QueueTask[], people: readonly Candidate[], show: Show, now: number): DispatchRow[] {
  const names = new Map(people.map((p) => [p.id, p.name]));
  return tasks
    .filter((t) => show === "all" || t.assignee === null)
    .map((task) => ({
      task,
      assignee: task.assignee === null ? null : names.get(task.assignee) ?? task.assignee,
      waiting: Math.max(0, (now - Date.parse(task.node_entered_at)) / 1000),
    }))
    .sort((a, b) => Number(a.assignee !== null) - Number(b.assignee !== null) || b.waiting - a.waiting
      || a.task.ticket_id.localeCompare(b.task.ticket_id));
}

/** Whom a task can be handed to: everyone of its role but its current assignee, on duty first, then
 * the least loaded (as the server sorts: on duty, then id, kept among equals). */
export function candidatesFor(task: QueueTask, people: readonly Candidate[]): Candidate[] {
  return people
    .filter((p) => p.id !== task.assignee)
    .map((p, i) => ({ p, i }))
    .sort((a, b) => Number(b.p.on_duty) - Number(a.p.on_duty) || a.p.open_tasks - b.p.open_tasks || a.i - b.i)
    .map(({ p }) => p);
}

/** The regions offered: the one remembered, then those of the tasks seen, sorted. */
export function regionsOf(tasks: readonly QueueTask[], remembered: string): string[] {
  const set = new Set<string>(tasks.map((t) => t.customer_region).filter((r): r is string => !!r));
  if (remembered) set.add(remembered);
  return [...set].sort((a, b) => a.localeCompare(b, "zh-CN"));
}
