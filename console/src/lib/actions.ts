// Which node actions the signed-in user may take now, and which outcomes `complete` offers: the
// ticket's `allowed_actions` (legal in its state and node) narrowed to what this actor may do
// (eoms_bridge.domain.ticket: node role, assignee, supervisor authority).
import type { Role } from "../auth/session";
import { queueRolesFor } from "../auth/nav";

export type TicketActionName =
  | "accept" | "complete" | "return" | "suspend" | "resume" | "reassign" | "hold" | "release" | "cancel" | "close";

export const ACTION_ORDER: TicketActionName[] = [
  "accept", "complete", "return", "suspend", "resume", "reassign", "hold", "release", "cancel", "close",
];
const AUTHORITY: TicketActionName[] = ["hold", "release", "cancel", "close"];
const ASSIGNEE_ONLY: TicketActionName[] = ["complete", "return", "suspend"];

export interface ActorView {
  subject: string;
  roles: readonly Role[];
}

export interface TicketView {
  allowed_actions: string[];
  current_role: string | null;
  assignee: string | null;
}

export function actionsFor(ticket: TicketView, me: ActorView): TicketActionName[] {
  const nodeRoles = queueRolesFor(me.roles);
  const supervisor = me.roles.includes("supervisor") || me.roles.includes("admin");
  const holdsRole = ticket.current_role !== null && nodeRoles.includes(ticket.current_role);
  const mine = ticket.assignee === me.subject;
  return ACTION_ORDER.filter((a) => {
    if (!ticket.allowed_actions.includes(a)) return false;
    if (AUTHORITY.includes(a)) return supervisor;
    if (a === "accept") return holdsRole && (ticket.assignee === null || mine);
    if (ASSIGNEE_ONLY.includes(a)) return mine;
    if (a === "resume") return ticket.assignee === null ? holdsRole : mine;
    if (a === "reassign") return supervisor || mine || (ticket.assignee === null && holdsRole);
    return false;
  });
}

/** What `complete` may answer at a node: its outcomes and where each leads. */
export function outcomesOf(definition: unknown, ticketKind: string, node: string | null): [string, string][] | null {
  const d = definition as { tickets?: { kind?: string; nodes?: { name?: string; outcomes?: Record<string, string> }[] }[] } | null;
  const t = d?.tickets?.find((x) => x.kind === ticketKind);
  const n = t?.nodes?.find((x) => x.name === node);
  return n?.outcomes ? Object.entries(n.outcomes) : null;
}

/** The actions the node lists (default: all six node actions), from the definition. */
export function nodeActionsOf(definition: unknown, ticketKind: string, node: string | null): string[] | null {
  const d = definition as { tickets?: { kind?: string; nodes?: { name?: string; actions?: string[] }[] }[] } | null;
  const t = d?.tickets?.find((x) => x.kind === ticketKind);
  const n = t?.nodes?.find((x) => x.name === node);
  if (!n) return null;
  return n.actions ?? ["accept", "complete", "return", "suspend", "resume", "reassign"];
}
