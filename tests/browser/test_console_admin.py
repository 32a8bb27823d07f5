"""An admin uploads a broken SLA policy and sees the refusal at the rule, field and line that is wrong;
the admin's other screens (workflow graph, notification directory, system status)."""

from __future__ import annotations

from tests.browser.conftest import t

BROKEN = """version: "broken-1"
rules:
  - id: ok
    limit_minutes: 10
  - id: bad
    node: resource_check
    limit_minutes: soon
"""


def test_a_broken_policy_is_refused_at_the_rule(console):
    admin = console.open_as("p-caoyang")
    console.visit(admin, "/admin/policies")
    admin.wait_for_selector("[data-version]")
    admin.fill("textarea.code", BROKEN)
    admin.get_by_role("button", name=t("admin.policy.validate"), exact=True).click()
    refusal = admin.wait_for_selector("[data-testid=policy-refusal]")
    text = refusal.text_content()
    # rule `bad`, the second (index 1 of the server's rules.1.limit_minutes), line 7 of the upload
    assert t("admin.policy.atRule", rule="bad", index=1, field="limit_minutes") in text, text
    assert t("admin.policy.line", line=7) in text, text
    assert admin.text_content(".bad-line").endswith("limit_minutes: soon")
    assert "broken-1" not in [v.get_attribute("data-version") for v in admin.query_selector_all("[data-version]")]
    console.shot(admin, "admin-policies", full_page=True)

    console.visit(admin, "/admin/workflows")
    admin.click("tr:has-text('dedicated_line_data.opening') button")
    admin.wait_for_selector(".wf-graph")
    console.shot(admin, "admin-workflows", full_page=True)

    console.visit(admin, "/admin/directory")
    admin.wait_for_selector("text=am_zhang")
    console.shot(admin, "admin-directory")

    console.visit(admin, "/admin/status")
    admin.wait_for_selector("[data-service=notify]")
    console.shot(admin, "admin-status")
