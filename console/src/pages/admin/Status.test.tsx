import { screen, within } from "@testing-library/react";
import { beforeEach, describe, expect, it } from "vitest";
import { json, mockFetch, renderApp, signIn, useTestConfig } from "../../test/helpers";
import StatusPage from "./Status";

const ops = (service: string, lag: number) => ({
  service, kafka: "ok",
  outbox: { pending: service === "sla" ? 7 : 0, oldest_pending_at: null, set_aside: service === "sla" ? 1 : 0 },
  consumers: [{ group: service, topics: ["eoms.tickets"], lag, dead_letter_topics: ["eoms.tickets.dlq"], partitions: [
    { topic: "eoms.tickets", partition: 0, committed: 10, end: 10 + lag, lag }] }],
  dead_letters: [{ topic: "crm.orders.dlq", records: 0 }, { topic: "eoms.tickets.dlq", records: 3 }],
});

describe("system status", () => {
  beforeEach(() => {
    useTestConfig();
    signIn("p-caoyang", ["admin"]);
  });

  it("shows each service's outbox backlog and consumer lag, and the dead-letter counts", async () => {
    const routes: Record<string, () => Response> = {};
    for (const s of ["crm", "eoms", "sla", "notify"]) {
      routes[`GET /${s}/readyz`] = () => json({ status: "ok", checks: { database: "ok", kafka: "ok" } });
      routes[`GET /${s}/api/v1/ops/status`] = () => json(ops(s, s === "notify" ? 42 : 0));
    }
    mockFetch(routes);
    renderApp(<StatusPage />, { lang: "en" });
    const sla = await screen.findByText("SLA");
    const slaRow = sla.closest("tr") as HTMLElement;
    expect(within(slaRow).getByText("7")).toBeTruthy();
    expect(within(slaRow).getByText("1 set aside")).toBeTruthy();
    const notifyRow = (await screen.findByText("Notify")).closest("tr") as HTMLElement;
    expect(notifyRow.querySelector("[data-col=lag] strong")?.textContent).toBe("42");
    expect(document.querySelector("[data-dlq='eoms.tickets.dlq']")?.textContent).toContain("3");
  });
});
