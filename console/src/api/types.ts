// Names for the shapes the screens use, derived from the generated OpenAPI types by endpoint (so a
// renamed schema component does not matter, a changed shape breaks the build), and the shapes the
// OpenAPI documents leave untyped (see docs/console.md, "API gaps": reports and the SSE payload).
import type { GetResult, PostBody } from "./client";

type Item<T> = T extends { items: (infer I)[] } ? I : never;

export type CustomerPage = GetResult<"crm", "/api/v1/customers">;
export type Customer = Item<CustomerPage>;
export type Order = GetResult<"crm", "/api/v1/orders/{order_id}">;
export type OrderIn = PostBody<"crm", "/api/v1/orders">;
export type Complaint = GetResult<"crm", "/api/v1/complaints/{complaint_id}">;
export type ComplaintIn = PostBody<"crm", "/api/v1/complaints">;
export type CrmTicket = Order["tickets"] extends (infer T)[] | undefined ? T : never;
export type Product = GetResult<"crm", "/api/v1/products">[number];
export type ProductDetail = GetResult<"crm", "/api/v1/products/{product_id}">;
export type Workbench = GetResult<"crm", "/api/v1/me/workbench">;
export type WorkbenchOrder = Workbench["orders"][number];
export type WorkbenchComplaint = Workbench["complaints"][number];
export type Risk = WorkbenchOrder["risk"];

export type Ticket = GetResult<"eoms", "/api/v1/tickets/{ticket_id}">;
export type NodeVisit = Ticket["nodes"][number];
export type QueuePage = GetResult<"eoms", "/api/v1/queues/{role}">;
export type QueueTask = Item<QueuePage>;
export type WorkflowSummary = GetResult<"eoms", "/api/v1/admin/workflows">[number];
export type WorkflowOut = GetResult<"eoms", "/api/v1/admin/workflows/{workflow_id}/versions/{version}">;

export type TimerPage = GetResult<"sla", "/api/v1/timers">;
export type Timer = Item<TimerPage>;
export type AtRiskPage = GetResult<"sla", "/api/v1/at-risk">;
export type AtRiskItem = Item<AtRiskPage>;
export type PolicyVersion = GetResult<"sla", "/api/v1/policies">[number];
export type PolicyDetail = GetResult<"sla", "/api/v1/policies/{version}">;

export type DeliveryPage = GetResult<"notify", "/api/v1/deliveries">;
export type Delivery = Item<DeliveryPage>;
export type Person = Item<GetResult<"notify", "/api/v1/directory/people">>;

/** GET /api/v1/reports/compliance (untyped in the OpenAPI document). */
export interface ComplianceRow {
  group: string | null;
  judged: number;
  on_time: number;
  completed_late: number;
  open_breached: number;
  compliance_pct: number;
}
/** GET /api/v1/reports/node-times (untyped in the OpenAPI document). */
export interface NodeTimeRow {
  group: string | null;
  completed: number;
  mean_s: number;
  p50_s: number;
  p90_s: number;
  mean_wall_s: number;
  p90_wall_s: number;
}
export interface Report<R> {
  group_by: string;
  from: string;
  to: string;
  rows: R[];
}

/** One SSE event of /api/v1/stream: `data` is the alert payload (backbone.events AlertContext + type fields). */
export interface AlertData {
  timer_id: string;
  ticket_id: string;
  ticket_kind: string;
  business_type: string;
  node: string;
  role: string;
  assignee?: string | null;
  customer_id: string;
  customer_name: string;
  customer_tier: string;
  account_manager_id: string;
  deadline: string;
  policy_version: string;
  warning_point?: string;
  remaining_seconds?: number;
  lateness_seconds?: number;
  level?: number;
  escalate_to_role?: string;
}
export interface AlertEvent {
  event_id: string;
  type: "sla.warning" | "sla.breached" | "sla.escalated";
  ticket_id: string;
  fired_at: string;
  data: AlertData;
}
