import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { beforeEach, describe, expect, it } from "vitest";
import type { Customer } from "../api/types";
import { fieldsOf, validate, type JsonSchema } from "../lib/jsonschema";
import { ProductsProvider } from "../lib/products";
import { json, mockFetch, problem, renderApp, signIn, useTestConfig } from "../test/helpers";
import { OrderForm } from "./OrderForm";

const lineSchema: JsonSchema = {
  type: "object", additionalProperties: false, required: ["bandwidth_mbps", "a_end_address", "z_end_address"],
  properties: {
    bandwidth_mbps: { $ref: "#/$defs/bandwidth_mbps" },
    a_end_address: { $ref: "#/$defs/address" },
    z_end_address: { $ref: "#/$defs/address" },
  },
  $defs: {
    bandwidth_mbps: { type: "integer", enum: [2, 10, 100, 1000] },
    address: { type: "string", minLength: 1, maxLength: 200 },
  },
} as JsonSchema;
const vpmnSchema: JsonSchema = {
  type: "object", required: ["member_count"],
  properties: {
    member_count: { type: "integer", minimum: 2, maximum: 100000 },
    short_number_length: { type: "integer", enum: [3, 4, 5, 6], default: 4 },
  },
};

describe("JSON Schema → fields", () => {
  it("resolves $ref, knows enums, integers and required fields, and validates", () => {
    const f = fieldsOf(lineSchema);
    expect(f.map((x) => [x.name, x.kind, x.required])).toEqual([
      ["bandwidth_mbps", "enum", true], ["a_end_address", "string", true], ["z_end_address", "string", true],
    ]);
    expect(validate(f, { bandwidth_mbps: 100, a_end_address: "天津港" })).toEqual({ z_end_address: { key: "form.required" } });
    const v = fieldsOf(vpmnSchema);
    expect(validate(v, { member_count: 1 })).toEqual({ member_count: { key: "form.min", vars: { n: 2 } } });
    expect(validate(v, { member_count: 2.5 })).toEqual({ member_count: { key: "form.integer" } });
  });
});

const customers = [{ id: "cus_tj_port", name: "天津港集团有限公司", tier: "A" }] as Customer[];

describe("OrderForm", () => {
  beforeEach(() => {
    useTestConfig();
    signIn("am_zhang", ["account_manager"]);
  });

  it("builds the inputs from the product's schema and shows the server's errors at the field", async () => {
    const { calls } = mockFetch({
      "GET /crm/api/v1/products": () => json([
        { id: "dedicated_line_data", name: { zh: "数据专线", en: "Dedicated line (data)" }, bearer_mode: "access",
          business_kinds: ["opening", "change"], platforms: [], href: "" },
      ]),
      "GET /crm/api/v1/products/dedicated_line_data": () => json({
        id: "dedicated_line_data", name: { zh: "数据专线", en: "Dedicated line (data)" }, bearer_mode: "access",
        business_kinds: ["opening", "change"], platforms: [], href: "", attributes_schema: lineSchema,
        schemas_by_business_kind: { opening: lineSchema, change: { ...lineSchema, required: [] } },
      }),
      "POST /crm/api/v1/orders": () => problem(422, "1 wrong attribute", [
        { field: "items.0.attributes.a_end_address", message: "String should have at most 200 characters" },
      ]),
    });
    renderApp(<ProductsProvider><OrderForm customers={customers} onCreated={() => undefined} /></ProductsProvider>, { lang: "en" });
    const product = await screen.findByRole("combobox", { name: "Product" });
    await waitFor(() => expect(within(product).getByRole("option", { name: "Dedicated line (data)" })).toBeTruthy());
    fireEvent.change(product, { target: { value: "dedicated_line_data" } });
    const bandwidth = await screen.findByLabelText(/Bandwidth \(Mbps\)/);
    expect(within(bandwidth).getAllByRole("option").map((o) => o.textContent)).toEqual(["Choose…", "2", "10", "100", "1000"]);

    // the browser's own checks first: nothing is sent
    fireEvent.click(screen.getByRole("button", { name: "Create order" }));
    expect(await screen.findAllByText("Required")).toHaveLength(3);
    expect(calls.filter((c) => c.method === "POST")).toHaveLength(0);

    fireEvent.change(bandwidth, { target: { value: "100" } });
    fireEvent.change(screen.getByLabelText(/A-end address/), { target: { value: "天津港" } });
    fireEvent.change(screen.getByLabelText(/Z-end address/), { target: { value: "IDC" } });
    fireEvent.click(screen.getByRole("button", { name: "Create order" }));

    const aEnd = screen.getByLabelText(/A-end address/);
    await waitFor(() => expect(aEnd.getAttribute("aria-invalid")).toBe("true"));
    const field = aEnd.closest("[data-field]") as HTMLElement;
    expect(within(field).getByRole("alert").textContent).toContain("at most 200 characters");
    expect(screen.getByLabelText(/Z-end address/).getAttribute("aria-invalid")).toBe("false");

    const post = calls.find((c) => c.method === "POST");
    const headers = post?.init.headers as Record<string, string>;
    expect(headers.Authorization).toMatch(/^Bearer /);
    expect(headers["X-Correlation-ID"]).toMatch(/^console-/);
    expect(headers["Idempotency-Key"]).toBeTruthy();
    expect(JSON.parse(String(post?.init.body))).toMatchObject({
      customer_id: "cus_tj_port", submit: true,
      items: [{ product: "dedicated_line_data", business_kind: "opening",
        attributes: { bandwidth_mbps: 100, a_end_address: "天津港", z_end_address: "IDC" } }],
    });
  });
});
