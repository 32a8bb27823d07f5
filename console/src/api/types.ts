// Names for the shapes the screens use, derived from the generated OpenAPI types by endpoint (so a
// renamed schema component does not matter, a changed shape breaks the build).
import type { GetResult, PostBody, ServicePaths } from "./client";

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
export type AuthConfig = GetResult<"crm", "/api/v1/auth/config">;

export type Ticket = GetResult<"eoms", "/api/v1/tickets/{ticket_id}">;
export type NodeVisit = Ticket["nodes"][number];
export type TicketActionName = Ticket["allowed_actions"][number];
export type AllowedOutcome = Ticket["allowed_outcomes"][number];
export type LocalText = NodeVisit["title"];
export type QueuePage = GetResult<"eoms", "/api/v1/queues/{role}">;
export type QueueTask = Item<QueuePage>;
export type WorkflowSummary = GetResult<"eoms", "/api/v1/admin/workflows">[number];
export type WorkflowOut = GetResult<"eoms", "/api/v1/workflows/{workflow_id}/versions/{version}">;

export type TimerPage = GetResult<"sla", "/api/v1/timers">;
export type Timer = Item<TimerPage>;
export type AtRiskPage = GetResult<"sla", "/api/v1/at-risk">;
/** An open timer as the board shows it, with the server's countdown (business time, holidays known). */
export type BoardTimer = Item<AtRiskPage>;
export type PolicyVersion = GetResult<"sla", "/api/v1/policies">[number];
export type PolicyDetail = GetResult<"sla", "/api/v1/policies/{version}">;
export type ComplianceReport = GetResult<"sla", "/api/v1/reports/compliance">;
export type ComplianceRow = ComplianceReport["rows"][number];
export type NodeTimeReport = GetResult<"sla", "/api/v1/reports/node-times">;
export type NodeTimeRow = NodeTimeReport["rows"][number];
export type BreachReport = GetResult<"sla", "/api/v1/reports/breaches">;
export type BreachDay = BreachReport["rows"][number];
/** One SSE event of /api/v1/stream (its `data:`): the record and the timer as it stands. */
export type FeedEvent = ServicePaths["sla"]["/api/v1/stream"]["get"]["responses"][200]["content"]["text/event-stream"];
export type FeedType = FeedEvent["type"];

export type DeliveryPage = GetResult<"notify", "/api/v1/deliveries">;
export type Delivery = Item<DeliveryPage>;
export type Person = Item<GetResult<"notify", "/api/v1/directory/people">>;

/** Every service answers these the same way (backbone). */
export type Me = GetResult<"crm", "/api/v1/me">;
export type Labels = GetResult<"eoms", "/api/v1/labels">;
export type OpsStatus = GetResult<"sla", "/api/v1/ops/status">;
