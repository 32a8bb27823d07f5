import { fireEvent, screen, waitFor } from "@testing-library/react";
import { Route, Routes } from "react-router";
import { beforeEach, describe, expect, it } from "vitest";
import { currentSession, setSession } from "../auth/session";
import { fakeToken, json, meOf, mockFetch, renderApp, useTestConfig } from "../test/helpers";
import { Login } from "./Login";

describe("sign-in", () => {
  beforeEach(() => {
    useTestConfig();
    setSession(null);
  });

  it("asks the CRM whether the dev login is on, then who the token is (GET /api/v1/me)", async () => {
    const { calls } = mockFetch({
      "GET /crm/api/v1/auth/config": () => json({ dev_login: true, oidc: null }),
      "POST /crm/api/v1/dev/token": () => json({ access_token: fakeToken("p-wanglei", ["network_staff"]) }),
      "GET /crm/api/v1/me": () => json(meOf("p-wanglei", ["network_staff"], "王磊")),
    });
    renderApp(<Routes><Route path="/login" element={<Login />} /><Route path="*" element={<p>landed</p>} /></Routes>,
      { route: "/login", lang: "en" });
    fireEvent.click(await screen.findByRole("button", { name: /王磊 \(p-wanglei\)/ }));
    await screen.findByText("landed");
    expect(calls.filter((c) => c.url.pathname.endsWith("/dev/token"))).toHaveLength(1); // no probing token
    const me = calls.find((c) => c.url.pathname.endsWith("/api/v1/me"));
    expect((me?.init.headers as Record<string, string>).Authorization).toMatch(/^Bearer /);
    const s = currentSession();
    expect(s?.name).toBe("王磊");
    expect(s?.nodeRoles).toContain("field_engineer"); // the queues, as the services say
  });

  it("says the dev login is off without issuing anything, and offers the CRM's single sign-on", async () => {
    const { calls } = mockFetch({
      "GET /crm/api/v1/auth/config": () => json({ dev_login: false, oidc: {
        issuer: "https://idp.example.cn/realms/ops", client_id: "ops-console", scope: "openid profile",
        roles_claim: "realm_access.roles" } }),
    });
    renderApp(<Login />, { route: "/login", lang: "en" });
    expect(await screen.findByText(/dev token issuer is not available/)).toBeTruthy();
    expect(screen.getByRole("button", { name: "Sign in with single sign-on" })).toBeTruthy();
    await waitFor(() => expect(calls.some((c) => c.url.pathname.endsWith("/dev/token"))).toBe(false));
  });
});
