import { fireEvent, screen, waitFor } from "@testing-library/react";
import { beforeEach, describe, expect, it } from "vitest";
import { json, mockFetch, problem, renderApp, signIn, useTestConfig } from "../test/helpers";
import Queue from "./Queue";

const task = {
  ticket_id: "tk_1", ticket_kind: "resource_confirmation", business_type: "dedicated_line_data.opening",
  node: "order_acceptance_check", node_title: { "zh-CN": "受理单审核", en: "order acceptance check" },
  role: "network_staff", state: "acknowledged", assignee: null,
  node_entered_at: new Date().toISOString(), customer_id: "cus_tj_port", customer_name: "天津港集团有限公司",
  customer_tier: "A", customer_region: "天津-滨海新区", origin: "order", origin_id: "ord_1", version: 3,
};
const ticket = {
  id: "tk_1", kind: "resource_confirmation", business_type: "dedicated_line_data.opening", origin: "order",
  origin_id: "ord_1", origin_item_id: "it_1", customer_id: "cus_tj_port", customer_name: "天津港集团有限公司",
  customer_tier: "A", account_manager_id: "am_zhang", state: "in_progress", current_node: "order_acceptance_check",
  current_role: "network_staff", assignee: "p-wanglei", node_entered_at: task.node_entered_at,
  workflow_id: "dedicated_line_data.opening", workflow_version: 1, version: 4, external_ref: null,
  created_at: task.node_entered_at, updated_at: task.node_entered_at,
  current_node_title: task.node_title,
  // what the domain says this caller may do (the assignee: no authority to hold or cancel)
  allowed_actions: ["complete", "suspend", "reassign"], legal_actions: ["complete", "suspend", "reassign", "hold", "cancel"],
  allowed_outcomes: [
    { outcome: "accepted", next_node: "resource_check", label: { "zh-CN": "受理", en: "accepted" },
      next_title: { "zh-CN": "资源核查", en: "resource check" }, needs_reason: false },
    { outcome: "order_incomplete", next_node: "$rejected", label: { "zh-CN": "资料不全", en: "order incomplete" },
      next_title: null, needs_reason: true },
  ],
  nodes: [], history: [],
};
const timer = {
  id: "tm_1", ticket_id: "tk_1", node: "order_acceptance_check", state: "warned", open: true,
  ticket_kind: "resource_confirmation", business_type: "dedicated_line_data.opening", role: "network_staff",
  assignee: null, customer_id: "cus_tj_port", customer_name: "天津港集团有限公司", customer_tier: "A",
  customer_region: "天津-滨海新区", account_manager_id: "am_zhang", escalation_level: 0, policy_version: "p1",
  rule_id: "r1", clock: "working", started_at: task.node_entered_at, deadline: task.node_entered_at,
  seconds_to_deadline: 7200, business_seconds_used: 600, business_seconds_left: 5400, clock_running: false,
  clock_changes_at: null, as_of: task.node_entered_at,
};

describe("work queue", () => {
  beforeEach(() => {
    useTestConfig();
    signIn("p-wanglei", ["network_staff"]);
  });

  it("shows plainly that someone else claimed first", async () => {
    mockFetch({
      "GET /eoms/api/v1/queues/{role}": () => json({ role: "network_staff", items: [task], next_cursor: null }),
      "GET /sla/api/v1/at-risk": () => json({ items: [timer], next_cursor: null }),
      "POST /eoms/api/v1/tickets/tk_1/actions/accept": () => problem(409, "node 'order_acceptance_check' is already claimed by 'p-zhaomin'; use reassign"),
    });
    renderApp(<Queue />, { lang: "en" });
    fireEvent.click(await screen.findByRole("button", { name: "Claim" }));
    const msg = await screen.findByText(/Someone else claimed it first/);
    expect(msg.textContent).toContain("already claimed by 'p-zhaomin'");
  });

  it("claims, then offers exactly the node's actions and outcomes", async () => {
    const { calls } = mockFetch({
      "GET /eoms/api/v1/queues/{role}": () => json({ role: "network_staff", items: [task], next_cursor: null }),
      "GET /sla/api/v1/at-risk": () => json({ items: [timer], next_cursor: null }),
      "POST /eoms/api/v1/tickets/tk_1/actions/accept": () => json(ticket),
      "POST /eoms/api/v1/tickets/tk_1/actions/complete": () => json({ ...ticket, current_node: "resource_check" }),
    });
    renderApp(<Queue />, { lang: "en" });
    expect(await screen.findByText("order acceptance check")).toBeTruthy(); // the node's title, from the bridge
    // the node's SLA time left, from the SLA service (business time, the clock stopped now)
    const left = await waitFor(() => {
      const cell = document.querySelector("[data-col=time-left] [data-running]");
      expect(cell).toBeTruthy();
      return cell as HTMLElement;
    });
    expect(left.getAttribute("data-running")).toBe("no");
    expect(left.textContent).toContain("01:30:00");
    const query = calls.find((c) => c.url.pathname.endsWith("/at-risk"))?.url.searchParams;
    expect(query?.getAll("ticket_id")).toEqual(["tk_1"]);
    fireEvent.click(await screen.findByRole("button", { name: "Claim" }));
    const dialog = await screen.findByRole("dialog");
    const actions = [...dialog.querySelectorAll("input[name=action]")].map((i) => (i as HTMLInputElement).value);
    expect(actions).toEqual(["complete", "suspend", "reassign"]); // as the bridge says: hold/cancel are a supervisor's
    const outcome = await screen.findByRole("combobox", { name: "Outcome" });
    expect([...outcome.querySelectorAll("option")].map((o) => o.value)).toEqual(["", "accepted", "order_incomplete"]);
    expect([...outcome.querySelectorAll("option")].map((o) => o.textContent)).toEqual(
      ["Choose…", "accepted → resource check", "order incomplete → end (rejected)"]);
    fireEvent.change(outcome, { target: { value: "order_incomplete" } });
    expect((dialog.querySelector("textarea[name=reason]") as HTMLTextAreaElement).required).toBe(true);
    fireEvent.change(outcome, { target: { value: "accepted" } });
    fireEvent.click(screen.getByRole("button", { name: "Complete" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    const body = JSON.parse(String(calls.find((c) => c.url.pathname.endsWith("/complete"))?.init.body));
    expect(body).toMatchObject({ outcome: "accepted", expected_version: 4 });
    expect(await screen.findByText("Done: Complete")).toBeTruthy();
  });
});
