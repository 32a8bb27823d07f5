import { describe, expect, it } from "vitest";
import { businessSecondsBetween, type CalendarSpec } from "./calendar";
import { calendarOf, resolveRule, type PolicyBody } from "./policy";

const cnOffice: CalendarSpec = { name: "cn_office", tz: "Asia/Shanghai", hours: ["09:00-12:00", "13:30-18:00"], holidays: "cn" };
const ops: CalendarSpec = {
  name: "cn_network_ops", tz: "Asia/Shanghai", hours: ["08:30-12:00", "13:00-20:00"],
  weekday_hours: { sat: ["09:00-12:00"] }, weekend: ["sun"],
};
const sh = (local: string) => Date.parse(`${local}+08:00`);

describe("business time (Asia/Shanghai working hours)", () => {
  it("counts only working periods", () => {
    // Wed 2025-11-26 10:00 → 14:00: 10-12 (2h) + 13:30-14:00 (0.5h)
    expect(businessSecondsBetween(cnOffice, sh("2025-11-26T10:00:00"), sh("2025-11-26T14:00:00"))).toBe(2.5 * 3600);
    // Fri 17:00 → Mon 10:00: 1h Friday + 1h Monday, the weekend skipped
    expect(businessSecondsBetween(cnOffice, sh("2025-11-28T17:00:00"), sh("2025-12-01T10:00:00"))).toBe(2 * 3600);
    // lunch break and night count nothing
    expect(businessSecondsBetween(cnOffice, sh("2025-11-26T12:10:00"), sh("2025-11-26T13:20:00"))).toBe(0);
    expect(businessSecondsBetween(cnOffice, sh("2025-11-26T19:00:00"), sh("2025-11-27T08:00:00"))).toBe(0);
  });

  it("is negative past the deadline, and honours weekday hours and extra holidays", () => {
    expect(businessSecondsBetween(cnOffice, sh("2025-11-26T11:00:00"), sh("2025-11-26T10:00:00"))).toBe(-3600);
    // Saturday morning is working time for network ops
    expect(businessSecondsBetween(ops, sh("2025-11-29T08:00:00"), sh("2025-11-29T18:00:00"))).toBe(3 * 3600);
    const holiday = { ...cnOffice, extra_holidays: ["2025-11-26"] };
    expect(businessSecondsBetween(holiday, sh("2025-11-26T10:00:00"), sh("2025-11-26T14:00:00"))).toBe(0);
  });
});

describe("rule precedence (as sla/domain/policy.py)", () => {
  const body: PolicyBody = {
    version: "t", default_calendar: "cn_office", calendars: [cnOffice],
    rules: [
      { id: "fallback", limit_minutes: 480 },
      { id: "product", business_type: "dedicated_line_data", limit_minutes: 240 },
      { id: "full_type", business_type: "dedicated_line_data.opening", limit_minutes: 200 },
      { id: "tier_a", customer_tier: "A", limit_minutes: 120 },
      { id: "node", node: "resource_check", limit_minutes: 60 },
      { id: "fault", node: "fault_repair", clock: "calendar", limit_minutes: 240 },
      { id: "node_tier", node: "resource_check", customer_tier: "A", limit_minutes: 30 },
    ],
  };
  const ctx = { business_type: "dedicated_line_data.opening", ticket_kind: "resource_confirmation", node: "site_survey", customer_tier: "B", role: "field_engineer" };

  it("picks the most specific matching rule", () => {
    expect(resolveRule(body, ctx)?.id).toBe("full_type");
    expect(resolveRule(body, { ...ctx, business_type: "dedicated_line_data.change" })?.id).toBe("product");
    expect(resolveRule(body, { ...ctx, business_type: "vpmn.opening" })?.id).toBe("fallback");
    expect(resolveRule(body, { ...ctx, node: "resource_check" })?.id).toBe("node");
    expect(resolveRule(body, { ...ctx, node: "resource_check", customer_tier: "A" })?.id).toBe("node_tier");
  });

  it("gives the rule's clock: a calendar for working time, none for 24x7", () => {
    expect(calendarOf(body, resolveRule(body, ctx) as never)?.name).toBe("cn_office");
    expect(calendarOf(body, resolveRule(body, { ...ctx, node: "fault_repair" }) as never)).toBeNull();
  });
});
