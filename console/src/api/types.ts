// Names for the generated schemas the screens use, and the shapes the OpenAPI documents leave
// untyped (see docs/console.md, "API gaps": reports and the SSE payload are not in the documents).
import type { components as Crm } from "./generated/crm";
import type { components as Eoms } from "./generated/eoms";
import type { components as Sla } from "./generated/sla";
import type { components as Notify } from "./generated/notify";

export type Customer = Crm["schemas"]["CustomerOut"];
export type CustomerPage = Crm["schemas"]["Page_CustomerOut_"];
export type Order = Crm["schemas"]["OrderOut"];
export type OrderIn = Crm["schemas"]["OrderIn"];
export type Complaint = Crm["schemas"]["ComplaintOut"];
export type ComplaintIn = Crm["schemas"]["ComplaintIn"];
export type CrmTicket = Crm["schemas"]["TicketOut"];
export type Product = Crm["schemas"]["ProductOut"];
export type ProductDetail = Crm["schemas"]["ProductDetailOut"];
export type Workbench = Crm["schemas"]["Workbench"];
export type WorkbenchOrder = Crm["schemas"]["WorkbenchOrder"];
export type WorkbenchComplaint = Crm["schemas"]["WorkbenchComplaint"];
export type Risk = Crm["schemas"]["Risk"];

export type Ticket = Eoms["schemas"]["TicketOut"];
export type NodeVisit = Eoms["schemas"]["NodeVisitOut"];
export type QueueTask = Eoms["schemas"]["TaskOut"];
export type ActionIn = Eoms["schemas"]["ActionIn"];
export type WorkflowSummary = Eoms["schemas"]["WorkflowSummary"];
export type WorkflowOut = Eoms["schemas"]["WorkflowOut"];
export type NodeRole = Eoms["schemas"]["NodeRole"];

export type Timer = Sla["schemas"]["TimerOut"];
export type AtRiskItem = Sla["schemas"]["AtRiskItem"];
export type AtRiskPage = Sla["schemas"]["AtRiskPage"];
export type PolicyVersion = Sla["schemas"]["PolicyVersionOut"];
export type PolicyDetail = Sla["schemas"]["PolicyVersionDetail"];

export type Delivery = Notify["schemas"]["DeliveryOut"];
export type Person = Notify["schemas"]["PersonOut"];

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
