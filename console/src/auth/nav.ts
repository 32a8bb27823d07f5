// Which screens a user's roles open (the services enforce the same; the menu just does not offer
// what would answer 403). A network worker sees no admin page.
import type { MessageKey } from "../i18n/zh-CN";
import type { Role } from "./session";

export interface NavItem {
  path: string;
  label: MessageKey;
  roles: readonly Role[];
  children?: NavItem[];
}

/** The roles that work nodes from the queue and get tasks assigned (a partner's engineer sees its
 * partner's tasks only: the EOMS bridge filters; a dispatcher works none but dispatches them). */
const WORKERS: readonly Role[] = ["network_staff", "network_resource", "data_production", "field_engineer", "noc_tester",
  "transmission", "core_network", "complaint_desk", "partner_si"];

export const NAV: readonly NavItem[] = [
  { path: "/board", label: "nav.board", roles: ["supervisor", "admin", "network_staff"] },
  { path: "/reports", label: "nav.reports", roles: ["supervisor", "admin", "network_staff"] },
  { path: "/stats", label: "nav.stats", roles: ["supervisor", "department_head", "admin", "account_manager"] },
  { path: "/dispatch", label: "nav.dispatch", roles: ["dispatcher", "supervisor", "admin"] },
  { path: "/queue", label: "nav.queue", roles: [...WORKERS, "supervisor", "admin", "account_manager"] },
  { path: "/mine", label: "nav.mine", roles: WORKERS },
  { path: "/workbench", label: "nav.workbench", roles: ["account_manager", "supervisor", "admin"] },
  {
    path: "/admin", label: "nav.admin", roles: ["admin", "supervisor"], children: [
      { path: "/admin/policies", label: "nav.adminPolicies", roles: ["admin", "supervisor"] },
      { path: "/admin/workflows", label: "nav.adminWorkflows", roles: ["admin", "supervisor"] },
      { path: "/admin/directory", label: "nav.adminDirectory", roles: ["admin", "supervisor"] },
      { path: "/admin/status", label: "nav.adminStatus", roles: ["admin", "supervisor"] },
    ],
  },
];

const allowed = (item: NavItem, roles: readonly Role[]) => item.roles.some((r) => roles.includes(r));

export function navFor(roles: readonly Role[]): NavItem[] {
  return NAV.filter((i) => allowed(i, roles)).map((i) =>
    i.children ? { ...i, children: i.children.filter((c) => allowed(c, roles)) } : i);
}

/** May these roles open this path? (unknown paths: yes; the page itself decides) */
export function canOpen(path: string, roles: readonly Role[]): boolean {
  const all = NAV.flatMap((i) => [i, ...(i.children ?? [])]);
  const item = all.filter((i) => path === i.path || path.startsWith(`${i.path}/`))
    .sort((a, b) => b.path.length - a.path.length)[0];
  return !item || allowed(item, roles);
}

/** Where a user lands: supervisors and admins on the board, department heads on the statistics,
 * dispatchers on the dispatch screen, node workers on their queue, account managers on their workbench. */
export function homeFor(roles: readonly Role[]): string {
  if (roles.includes("supervisor") || roles.includes("admin")) return "/board";
  if (roles.includes("department_head")) return "/stats";
  if (roles.includes("dispatcher")) return "/dispatch";
  if (roles.includes("network_staff")) return "/queue";
  if (roles.includes("account_manager")) return "/workbench";
  return "/queue";
}
