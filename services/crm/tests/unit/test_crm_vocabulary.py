from __future__ import annotations

from backbone.vocabulary import BusinessKind, ComplaintSeverity, ProductId, SalesChannel, Tier
from backbone.vocabulary import TokenRole as Role
from crm.domain.vocabulary import BearerMode, Platform


def test_shared_identifiers_are_exact() -> None:
    assert [p.value for p in ProductId] == [
        "vpmn",
        "mobile_switchboard",
        "group_sms",
        "industry_ota",
        "m2m",
        "mobile_mailbox",
        "dedicated_line_data",
        "dedicated_line_internet",
    ]
    assert [k.value for k in BusinessKind] == ["opening", "change", "cancellation"]
    assert [t.value for t in Tier] == ["A", "B", "C"]
    assert [c.value for c in SalesChannel] == ["account_manager", "agent", "web_portal"]
    # the roles the CRM's access policy names (crm.access) are token roles of the suite
    assert {"account_manager", "network_staff", "supervisor", "department_head", "complaint_desk", "admin"} <= {
        r.value for r in Role}
    assert [p.value for p in Platform] == ["MAS", "ADC"]
    assert [b.value for b in BearerMode] == ["voice", "sms", "data", "access"]
    assert [s.value for s in ComplaintSeverity] == ["low", "medium", "high", "critical"]
