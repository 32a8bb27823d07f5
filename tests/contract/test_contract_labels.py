"""Labels across the suite: every code of the shipped catalogs has a zh-CN and an en label, and no
notification ever shows a raw code.

The codes: every product and business kind (backbone.vocabulary, the CRM catalogue), every business
type, ticket kind, node and role of every shipped workflow (eoms_bridge), every escalation role of the
shipped SLA policies, every token role. The labels: shared/backbone/labels.yaml (backbone.labels).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from backbone.labels import LANGUAGES, LabelCategory, labels
from backbone.vocabulary import NodeRole, ProductId, Tier, TokenRole, WorkflowKind
from crm.domain.products import load_catalogue
from eoms_bridge.workflows_loader import load_catalog
from notify.domain.directory import AlertData, Person, Why, WhyKind, load_directory
from notify.domain.templates import CHANNELS, RenderedEmail, RenderedSms, alert_context, digest_context, load_templates
from tests.support.raw_codes import catalog_codes
from tests.support.raw_codes import raw_codes as _raw_codes

ROOT = Path(__file__).resolve().parents[2]
CATALOG = load_catalog()
WORKFLOWS = CATALOG.all_latest()
LABELS = labels()
STORE = load_templates()
DIRECTORY = load_directory()
ALERT_TYPES = ("sla.warning", "sla.breached", "sla.escalated")


def _escalation_roles() -> set[str]:
    files = [*sorted((ROOT / "services" / "sla" / "sla" / "policies").glob("*.yaml")),
             ROOT / "tests" / "fixtures" / "sla_policy_short.yaml"]
    roles: set[str] = set()
    for f in files:
        for rule in (yaml.safe_load(f.read_text(encoding="utf-8")) or {}).get("rules", []):
            roles |= {str(e["notify_role"]) for e in rule.get("escalation") or []}
            if rule.get("role", "*") != "*":
                roles.add(str(rule["role"]))
    return roles


def _nodes() -> set[str]:
    return {n.name for w in WORKFLOWS for t in w.tickets for n in t.nodes}


def _node_roles() -> set[str]:
    return {n.role.value for w in WORKFLOWS for t in w.tickets for n in t.nodes}


CODES: dict[LabelCategory, set[str]] = {
    LabelCategory.PRODUCT: {p.value for p in ProductId} | {p.id.value for p in load_catalogue()},
    LabelCategory.BUSINESS_KIND: {k.value for k in WorkflowKind}
    | {k.value for p in load_catalogue() for k in p.business_kinds},
    LabelCategory.BUSINESS_TYPE: {w.business_type for w in WORKFLOWS},
    LabelCategory.TICKET_KIND: {t.kind.value for w in WORKFLOWS for t in w.tickets},
    LabelCategory.NODE: _nodes(),
    LabelCategory.OUTCOME: {o for w in WORKFLOWS for t in w.tickets for n in t.nodes for o in n.outcomes},
    LabelCategory.ROLE: _node_roles() | {r.value for r in NodeRole} | {r.value for r in TokenRole}
    | _escalation_roles(),
    LabelCategory.TIER: {t.value for t in Tier},
    LabelCategory.EVENT: {*ALERT_TYPES, "sla.met"},
}


@pytest.mark.parametrize("category", list(CODES), ids=str)
def test_every_code_of_the_catalogs_has_a_label_in_every_language(category: LabelCategory) -> None:
    assert CODES[category], category
    assert LABELS.missing(category, CODES[category]) == [], f"add them to shared/backbone/labels.yaml ({category})"


def test_the_catalogs_are_what_the_labels_test_enumerates() -> None:
    for category, codes in catalog_codes().items():
        assert codes <= CODES[category], category
    assert len(WORKFLOWS) >= 33 and len(CODES[LabelCategory.NODE]) >= 60
    assert {"generic.complaint", "vpmn.opening"} <= CODES[LabelCategory.BUSINESS_TYPE]
    assert {"complaint_triage", "resource_check"} <= CODES[LabelCategory.NODE]
    assert {"department_head", "branch_manager", "complaint_desk"} <= CODES[LabelCategory.ROLE]


def test_labels_are_distinct_enough_to_read() -> None:
    # two different nodes with the same label would read as one step in a message
    for lang in LANGUAGES:
        table = LABELS.table(LabelCategory.NODE, lang)
        seen: dict[str, str] = {}
        for code in sorted(CODES[LabelCategory.NODE]):
            assert table[code] not in seen, (lang, code, seen.get(table[code]))
            seen[table[code]] = code


def test_the_crm_catalogue_names_products_by_the_labels() -> None:
    for p in load_catalogue():
        assert p.name.zh == LABELS.get(LabelCategory.PRODUCT, p.id.value, "zh-CN")
        assert p.name.en == LABELS.get(LabelCategory.PRODUCT, p.id.value, "en")


# ------------------------------------------------------------------ no raw code in any message

def raw_codes(text: str, lang: str) -> list[str]:
    """The codes a reader would see in ``text``: the catalogs' (tests/support/raw_codes.py) and this test's
    (escalation roles of the SLA policies)."""
    found = set(_raw_codes(text, lang))
    if lang == "zh-CN":
        found |= {c for c in CODES[LabelCategory.ROLE] if re.search(rf"(?<![\w.]){re.escape(c)}(?!\w)", text)}
    return sorted(found)


def test_the_raw_code_check_sees_codes() -> None:
    assert raw_codes("工单“resource_check”环节，业务 vpmn.opening", "zh-CN") == ["resource_check", "vpmn.opening"]
    assert raw_codes("a complaint_fault ticket for m2m", "en") == ["complaint_fault", "m2m"]
    assert raw_codes("ticket tkt_0190f3c2a1b4a1b2c3 of tier A, step testing", "en") == []
    assert raw_codes("环节 testing", "zh-CN") == ["testing"]


RECIPIENTS = {lang: Person(id=f"p-{lang}", name="张伟" if lang == "zh-CN" else "Wei Zhang", roles=("supervisor",),
                           department="network", phone="13802229999", email="x@example.com", language=lang)
              for lang in LANGUAGES}
WHYS = (Why(kind=WhyKind.ASSIGNEE), Why(kind=WhyKind.ON_DUTY, unknown_assignee="ns_li"),
        Why(kind=WhyKind.ACCOUNT_MANAGER), Why(kind=WhyKind.SUPERVISOR, department="network"),
        Why(kind=WhyKind.ESCALATION, level=3), Why(kind=WhyKind.ESCALATION_ACCOUNT_MANAGER, level=1),
        Why(kind=WhyKind.ESCALATION_SUPERVISOR, level=1, department="enterprise"),
        Why(kind=WhyKind.ESCALATION_HEAD, level=2, department="network"))


def _alert(business_type: str, ticket_kind: str, node: str, role: str, tier: str = "A") -> AlertData:
    return AlertData.model_validate({
        "ticket_id": "tkt_0190f3c2a1b4a1b2c3d4e5", "node": node, "business_type": business_type,
        "ticket_kind": ticket_kind, "customer_id": "cus_tj_port", "customer_name": "天津港集团有限公司",
        "customer_tier": tier, "role": role, "assignee": "p-huangjing", "account_manager_id": "am_zhang",
        "deadline": datetime(2026, 12, 1, 2, 30, tzinfo=UTC), "lateness_seconds": 4500.0,
        "remaining_seconds": 900.0, "level": 2})


def _texts(rendered: Any) -> list[str]:
    if isinstance(rendered, RenderedSms):
        return [rendered.text]
    assert isinstance(rendered, RenderedEmail)
    return [rendered.subject, rendered.text, re.sub(r"<[^>]+>", " ", rendered.html)]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda w: w.business_type)
def test_every_alert_of_every_node_reads_without_a_code_in_both_languages(workflow: Any) -> None:
    problems: list[str] = []
    for ticket in workflow.tickets:
        for node in ticket.nodes:
            alert = _alert(workflow.business_type, ticket.kind.value, node.name, node.role.value)
            for lang in LANGUAGES:
                ctx = alert_context(alert, RECIPIENTS[lang], DIRECTORY, "", WHYS)
                for event_type in ALERT_TYPES:
                    for channel in CHANNELS:
                        rendered = STORE.render(event_type, channel, lang, ctx)
                        if isinstance(rendered, RenderedSms) and len(rendered.parts) > STORE.max_sms_parts:
                            problems.append(f"{event_type} {lang} sms of {node.name}: {len(rendered.parts)} parts")
                        for text in _texts(rendered):
                            if codes := raw_codes(text, lang):
                                problems.append(f"{event_type}/{channel}/{lang} at {node.name}: {codes} in {text!r}")
    assert problems == []


def test_every_digest_reads_without_a_code_in_both_languages() -> None:
    alerts = [(et, _alert(w.business_type, t.kind.value, n.name, n.role.value))
              for w in WORKFLOWS for t in w.tickets for n in t.nodes for et in ALERT_TYPES[:1]]
    for lang in LANGUAGES:
        for chunk in range(0, len(alerts), 25):
            ctx = digest_context(RECIPIENTS[lang], alerts[chunk:chunk + 25], 15)
            for channel in CHANNELS:
                for text in _texts(STORE.render("digest", channel, lang, ctx)):
                    assert raw_codes(text, lang) == [], text
