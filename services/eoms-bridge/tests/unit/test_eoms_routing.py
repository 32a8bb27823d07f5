"""Routing: next node per outcome, ticket dependencies, and hypothesis properties over graphs."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backbone.vocabulary import GENERIC_COMPLAINT, TicketKind
from backbone.vocabulary import NODE_ROLES as ROLES
from backbone.vocabulary import NodeRole as Role
from eoms_bridge.domain.errors import UnknownNodeError, UnknownOutcomeError, WorkflowDefinitionError
from eoms_bridge.domain.routing import (
    complaint_business_types,
    distance_to_terminal,
    initial_tickets,
    next_node,
    reachable_nodes,
    tickets_to_open,
)
from eoms_bridge.domain.workflow import (
    TERMINALS,
    NodeDefinition,
    Terminal,
    TicketDefinition,
    WorkflowCatalog,
    WorkflowDefinition,
    parse_workflow,
)

RC, RP, SO = TicketKind.RESOURCE_CONFIRMATION, TicketKind.RESOURCE_PREOCCUPATION, TicketKind.SERVICE_OPENING


# ------------------------------------------------------------------ examples
def test_next_node_follows_outcomes(catalog: WorkflowCatalog) -> None:
    rc = catalog.latest("dedicated_line_data.opening").ticket(RC)
    nxt = next_node(rc, "order_acceptance_check", "accepted")
    assert isinstance(nxt, NodeDefinition) and nxt.name == "resource_check"
    assert next_node(rc, nxt, "resource_unavailable") is Terminal.REJECTED
    assert next_node(rc, "confirmation_review", "approved") is Terminal.RESOLVED


def test_next_node_unknown_outcome_and_node(catalog: WorkflowCatalog) -> None:
    rc = catalog.latest("vpmn.opening").ticket(RC)
    with pytest.raises(UnknownOutcomeError, match=r"unknown outcome 'maybe'.*allowed: accepted, order_incomplete"):
        next_node(rc, "order_acceptance_check", "maybe")
    with pytest.raises(UnknownNodeError, match="no node 'nowhere'"):
        next_node(rc, "nowhere", "accepted")


def test_group_sms_branches_on_access_mode(catalog: WorkflowCatalog) -> None:
    wf = catalog.latest("group_sms.opening")
    assert wf.attributes["access_mode"] == ("mas", "adc")
    so = wf.ticket(SO)
    mas, adc = next_node(so, "access_mode_check", "mas"), next_node(so, "access_mode_check", "adc")
    assert isinstance(mas, NodeDefinition) and mas.role is Role.PARTNER_SI
    assert isinstance(adc, NodeDefinition) and adc.name == "adc_platform_configuration"


def test_tickets_to_open_orders_confirmation_reservation_opening(catalog: WorkflowCatalog) -> None:
    wf = catalog.latest("dedicated_line_internet.opening")
    assert initial_tickets(wf) == [RC]
    assert tickets_to_open(wf, []) == [RC]
    assert tickets_to_open(wf, [], already_opened=[RC]) == []
    assert tickets_to_open(wf, [RC]) == [RP]
    assert tickets_to_open(wf, ["resource_confirmation", "resource_preoccupation"]) == [SO]
    assert tickets_to_open(wf, [RC, RP], already_opened=[SO]) == []
    assert tickets_to_open(wf, [RC, RP, SO]) == []
    # opening never unblocks before reservation, even if confirmation is resolved
    assert SO not in tickets_to_open(wf, [RC])


def test_tickets_to_open_parallel_independent_tickets() -> None:
    node = {"name": "work", "role": "network_staff", "outcomes": {"done": "$resolved"}}
    wf = parse_workflow(
        {
            "id": "m2m.opening",
            "version": 1,
            "business_type": "m2m.opening",
            "tickets": [
                {"kind": "resource_confirmation", "start_node": "work", "nodes": [node]},
                {"kind": "service_opening", "start_node": "work", "nodes": [node]},
            ],
        }
    )
    assert tickets_to_open(wf, []) == [RC, SO]
    assert tickets_to_open(wf, [RC]) == [SO]


def test_complaint_workflow_opens_one_ticket(catalog: WorkflowCatalog) -> None:
    assert initial_tickets(catalog.latest("m2m.complaint")) == [TicketKind.COMPLAINT_FAULT]
    assert initial_tickets(catalog.latest(GENERIC_COMPLAINT)) == [TicketKind.COMPLAINT_FAULT]


def test_a_complaint_goes_to_its_product_else_to_the_generic_workflow() -> None:
    assert complaint_business_types("m2m", GENERIC_COMPLAINT) == ["m2m.complaint", GENERIC_COMPLAINT]
    assert complaint_business_types(None, GENERIC_COMPLAINT) == [GENERIC_COMPLAINT]
    assert complaint_business_types("", GENERIC_COMPLAINT) == [GENERIC_COMPLAINT]


def test_generic_complaint_routes_each_category_from_the_triage(catalog: WorkflowCatalog) -> None:
    t = catalog.latest(GENERIC_COMPLAINT).ticket(TicketKind.COMPLAINT_FAULT)
    routed = {c: next_node(t, "complaint_triage", c) for c in ("fault", "service_quality", "billing", "other")}
    assert {c: (n.name, n.role) for c, n in routed.items() if isinstance(n, NodeDefinition)} == {
        "fault": ("fault_location", Role.NOC_TESTER), "service_quality": ("preliminary_diagnosis", Role.NETWORK_STAFF),
        "billing": ("business_handling", Role.ACCOUNT_MANAGER), "other": ("business_handling", Role.ACCOUNT_MANAGER)}
    assert {n.name for n in reachable_nodes(t)} == set(t.node_names)


def test_distance_to_terminal(catalog: WorkflowCatalog) -> None:
    so = catalog.latest("vpmn.opening").ticket(SO)
    dist = distance_to_terminal(so)
    assert dist["revisit"] == 1
    assert dist["commercial_use_confirmation"] == 2
    assert dist[so.start_node] == max(dist.values())


# ---------------------------------------------------------- catalog properties
def _all_tickets(catalog: WorkflowCatalog) -> list[tuple[str, TicketDefinition]]:
    return [(w.id, t) for w in catalog for t in w.tickets]


def test_every_reachable_node_of_catalog_has_role_and_exit(catalog: WorkflowCatalog) -> None:
    for wid, t in _all_tickets(catalog):
        reach = reachable_nodes(t)
        assert {n.name for n in reach} == set(t.node_names), wid
        dist = distance_to_terminal(t)
        for n in reach:
            assert n.role.value in ROLES
            assert n.name in dist and dist[n.name] <= len(t.nodes)
            # from every node some outcome makes progress toward a terminal
            best = min(1 if tgt in TERMINALS else dist[tgt] + 1 for tgt in n.outcomes.values())
            assert best == dist[n.name]


def _walk(t: TicketDefinition, choices: list[int]) -> tuple[Terminal, int]:
    """Follow the drawn choices (a random prefix), then head for the nearest terminal."""
    dist = distance_to_terminal(t)
    cur: NodeDefinition = t.node(t.start_node)
    steps = 0
    bound = len(choices) + len(t.nodes)
    while True:
        outs = sorted(cur.outcomes)
        assert cur.role.value in ROLES
        if steps < len(choices):
            outcome = outs[choices[steps] % len(outs)]
        else:
            outcome = min(outs, key=lambda o: 0 if cur.outcomes[o] in TERMINALS else dist[cur.outcomes[o]])
        steps += 1
        nxt = next_node(t, cur, outcome)
        if isinstance(nxt, Terminal):
            return nxt, steps
        cur = nxt
        assert steps <= bound, f"no terminal within {bound} steps"


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), choices=st.lists(st.integers(min_value=0, max_value=20), max_size=40))
def test_any_outcome_path_of_catalog_ends(catalog: WorkflowCatalog, data: st.DataObject, choices: list[int]) -> None:
    tickets = _all_tickets(catalog)
    _, t = data.draw(st.sampled_from(tickets))
    terminal, steps = _walk(t, choices)
    assert terminal in (Terminal.RESOLVED, Terminal.REJECTED)
    assert steps <= len(choices) + len(t.nodes)


# --------------------------------------------------------- generated workflows
_ROLE_NAMES = sorted(ROLES)


@st.composite
def valid_ticket_graphs(draw: st.DrawFn) -> dict[str, Any]:
    """Random ticket graphs valid by construction (spanning tree + exit chain + random extra edges)."""
    n = draw(st.integers(min_value=1, max_value=10))
    names = [f"n{i}" for i in range(n)]
    outcomes: list[dict[str, str]] = [{} for _ in range(n)]
    for i in range(1, n):
        parent = draw(st.integers(min_value=0, max_value=i - 1))
        outcomes[parent][f"to_{names[i]}"] = names[i]
    for i in range(n):
        exit_to = draw(st.sampled_from([*names[i + 1 :], "$resolved", "$rejected"])) if i < n - 1 else "$resolved"
        outcomes[i]["progress"] = exit_to
        for k in range(draw(st.integers(min_value=0, max_value=2))):
            outcomes[i][f"extra_{k}"] = draw(st.sampled_from([*names, "$resolved", "$rejected"]))
    nodes = [{"name": names[i], "role": draw(st.sampled_from(_ROLE_NAMES)), "outcomes": outcomes[i]} for i in range(n)]
    return {"kind": "service_opening", "start_node": "n0", "nodes": nodes}


@st.composite
def arbitrary_ticket_graphs(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(min_value=1, max_value=7))
    names = [f"n{i}" for i in range(n)]
    targets = st.sampled_from([*names, "ghost", "$resolved", "$rejected"])
    nodes = [
        {
            "name": name,
            "role": draw(st.sampled_from(_ROLE_NAMES)),
            "outcomes": {f"o{k}": draw(targets) for k in range(draw(st.integers(min_value=1, max_value=3)))},
        }
        for name in names
    ]
    return {"kind": "service_opening", "start_node": "n0", "nodes": nodes}


def _wrap(ticket: dict[str, Any]) -> dict[str, Any]:
    return {"id": "m2m.change", "version": 1, "business_type": "m2m.change", "tickets": [ticket]}


def _reference_is_valid(ticket: dict[str, Any]) -> bool:
    """Independent oracle: every target known, all reachable, every node can exit, some $resolved."""
    nodes = {n["name"]: n["outcomes"] for n in ticket["nodes"]}
    if any(t not in nodes and t not in TERMINALS for o in nodes.values() for t in o.values()):
        return False
    seen, stack = set(), [ticket["start_node"]]
    while stack:
        cur = stack.pop()
        if cur in seen:
            continue
        seen.add(cur)
        stack.extend(t for t in nodes[cur].values() if t in nodes)
    if seen != set(nodes):
        return False
    for start in nodes:  # can each node reach a terminal?
        seen2, stack2, ok = set(), [start], False
        while stack2 and not ok:
            cur = stack2.pop()
            if cur in seen2:
                continue
            seen2.add(cur)
            for t in nodes[cur].values():
                if t in TERMINALS:
                    ok = True
                else:
                    stack2.append(t)
        if not ok:
            return False
    return any(t == "$resolved" for o in nodes.values() for t in o.values())


@settings(max_examples=400)
@given(ticket=arbitrary_ticket_graphs())
def test_validator_agrees_with_reference_oracle(ticket: dict[str, Any]) -> None:
    expected = _reference_is_valid(ticket)
    try:
        parse_workflow(_wrap(ticket))
        accepted = True
    except WorkflowDefinitionError as err:
        accepted = False
        assert all("workflow 'm2m.change' v1, ticket 'service_opening'" in p for p in err.problems)
    assert accepted == expected


@settings(max_examples=300)
@given(ticket=valid_ticket_graphs(), choices=st.lists(st.integers(min_value=0, max_value=9), max_size=30))
def test_generated_workflows_every_path_ends(ticket: dict[str, Any], choices: list[int]) -> None:
    wf: WorkflowDefinition = parse_workflow(_wrap(ticket))
    t = wf.ticket(SO)
    for n in reachable_nodes(t):
        assert isinstance(n.role, Role)
    terminal, steps = _walk(t, choices)
    assert terminal in (Terminal.RESOLVED, Terminal.REJECTED)
    assert steps <= len(choices) + len(t.nodes)
