import { fireEvent, screen, waitFor } from "@testing-library/react";
import { beforeEach, describe, expect, it } from "vitest";
import { json, mockFetch, problem, renderApp, signIn, useTestConfig } from "../test/helpers";
import Queue from "./Queue";

const task = {
  ticket_id: "tk_1", ticket_kind: "resource_confirmation", business_type: "dedicated_line_data.opening",
  node: "order_acceptance_check", role: "network_staff", state: "acknowledged", assignee: null,
  node_entered_at: new Date().toISOString(), customer_id: "cus_tj_port", customer_name: "天津港集团有限公司",
  customer_tier: "A", origin: "order", origin_id: "ord_1", version: 3,
};
const ticket = {
  id: "tk_1", kind: "resource_confirmation", business_type: "dedicated_line_data.opening", origin: "order",
  origin_id: "ord_1", origin_item_id: "it_1", customer_id: "cus_tj_port", customer_name: "天津港集团有限公司",
  customer_tier: "A", account_manager_id: "am_zhang", state: "in_progress", current_node: "order_acceptance_check",
  current_role: "network_staff", assignee: "p-wanglei", node_entered_at: task.node_entered_at,
  workflow_id: "dedicated_line_data.opening", workflow_version: 1, version: 4, external_ref: null,
  created_at: task.node_entered_at, updated_at: task.node_entered_at,
  allowed_actions: ["complete", "reassign", "suspend", "hold", "cancel"], nodes: [], history: [],
};

describe("work queue", () => {
  beforeEach(() => {
    useTestConfig();
    signIn("p-wanglei", ["network_staff"]);
  });

  it("shows plainly that someone else claimed first", async () => {
    mockFetch({
      "GET /eoms/api/v1/queues/{role}": () => json({ role: "network_staff", items: [task], next_cursor: null }),
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
      "POST /eoms/api/v1/tickets/tk_1/actions/accept": () => json(ticket),
      "GET /eoms/api/v1/admin/workflows/dedicated_line_data.opening/versions/1": () => json({
        id: "dedicated_line_data.opening", version: 1, business_type: "dedicated_line_data.opening", source: "yaml",
        created_at: task.node_entered_at, latest: true, tickets: ["resource_confirmation"], node_count: 1,
        definition: { tickets: [{ kind: "resource_confirmation", start_node: "order_acceptance_check", nodes: [
          { name: "order_acceptance_check", role: "network_staff", title_zh: "受理单审核",
            actions: ["accept", "complete", "suspend", "resume", "reassign"],
            outcomes: { accepted: "resource_check", order_incomplete: "$rejected" } }] }] },
      }),
      "POST /eoms/api/v1/tickets/tk_1/actions/complete": () => json({ ...ticket, current_node: "resource_check" }),
    });
    renderApp(<Queue />, { lang: "en" });
    fireEvent.click(await screen.findByRole("button", { name: "Claim" }));
    const dialog = await screen.findByRole("dialog");
    const actions = [...dialog.querySelectorAll("input[name=action]")].map((i) => (i as HTMLInputElement).value);
    expect(actions).toEqual(["complete", "suspend", "reassign"]); // hold/cancel are a supervisor's
    const outcome = await screen.findByRole("combobox", { name: "Outcome" });
    expect([...outcome.querySelectorAll("option")].map((o) => o.value)).toEqual(["", "accepted", "order_incomplete"]);
    fireEvent.change(outcome, { target: { value: "accepted" } });
    fireEvent.click(screen.getByRole("button", { name: "Complete" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    const body = JSON.parse(String(calls.find((c) => c.url.pathname.endsWith("/complete"))?.init.body));
    expect(body).toMatchObject({ outcome: "accepted", expected_version: 4 });
    expect(await screen.findByText("Done: Complete")).toBeTruthy();
  });
});
