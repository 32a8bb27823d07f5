import { screen } from "@testing-library/react";
import { Route, Routes } from "react-router";
import { describe, expect, it } from "vitest";
import { Layout } from "../components/Layout";
import { renderApp, signIn } from "../test/helpers";
import { canOpen, homeFor, navFor } from "./nav";

const paths = (roles: Parameters<typeof navFor>[0]) => navFor(roles).map((i) => i.path);

describe("role-based navigation", () => {
  it("offers each role only its screens; a network worker sees no admin page", () => {
    expect(paths(["network_staff"])).toEqual(["/board", "/reports", "/queue", "/mine"]);
    expect(paths(["account_manager"])).toEqual(["/stats", "/queue", "/workbench"]);
    expect(paths(["supervisor"])).toEqual(["/board", "/reports", "/stats", "/dispatch", "/queue", "/workbench", "/admin"]);
    expect(paths(["admin"])).toEqual(["/board", "/reports", "/stats", "/dispatch", "/queue", "/workbench", "/admin"]);
    expect(paths(["department_head"])).toEqual(["/stats"]);
    for (const worker of ["network_resource", "field_engineer", "partner_si"] as const) {
      expect(paths([worker])).toEqual(["/queue", "/mine"]);
    }
    expect(paths(["dispatcher"])).toEqual(["/dispatch"]); // works no node: no queue of its own
    expect(canOpen("/dispatch", ["network_staff"])).toBe(false);
    expect(canOpen("/dispatch", ["dispatcher"])).toBe(true);
    expect(canOpen("/stats", ["network_staff"])).toBe(false);
    expect(canOpen("/stats", ["department_head"])).toBe(true);
    expect(canOpen("/admin/policies", ["network_staff"])).toBe(false);
    expect(canOpen("/admin/policies", ["admin"])).toBe(true);
    expect(canOpen("/workbench", ["network_staff"])).toBe(false);
    expect(canOpen("/tickets/tk_1", ["network_staff"])).toBe(true);
  });

  it("lands each role on its screen", () => {
    expect(homeFor(["supervisor"])).toBe("/board");
    expect(homeFor(["network_staff"])).toBe("/queue");
    expect(homeFor(["account_manager"])).toBe("/workbench");
    expect(homeFor(["department_head"])).toBe("/stats");
    expect(homeFor(["partner_si"])).toBe("/queue");
    expect(homeFor(["dispatcher"])).toBe("/dispatch");
  });

  it("renders the menu for the signed-in user", () => {
    signIn("p-wanglei", ["network_staff"]);
    const { unmount } = renderApp(<Routes><Route path="*" element={<Layout />} /></Routes>, { route: "/queue", lang: "en" });
    expect(screen.getByRole("link", { name: "SLA board" })).toBeTruthy();
    expect(screen.getByRole("link", { name: "Work queue" })).toBeTruthy();
    expect(screen.queryByRole("link", { name: "Admin" })).toBeNull();
    expect(screen.queryByRole("link", { name: "Account manager workbench" })).toBeNull();
    unmount();
    signIn("p-caoyang", ["admin"]);
    renderApp(<Routes><Route path="*" element={<Layout />} /></Routes>, { route: "/admin/policies", lang: "en" });
    expect(screen.getByRole("link", { name: "Admin" })).toBeTruthy();
    expect(screen.getByRole("link", { name: "SLA policies" })).toBeTruthy();
  });
});
