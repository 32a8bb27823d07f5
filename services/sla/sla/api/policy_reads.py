"""/api/v1/policies/{version}/coverage | explain | matrix: a policy version read against the workflow catalog.

`{version}` is a loaded version, or `active`. Readers (supervisor, admin, network_staff) only.

- `coverage`: the lint report: dead rules (none for a version loaded since the lint exists), the
  nodes no rule matches, the nodes at a catch-all, the nodes whose tiers are out of order, and how
  many (node, tier) each level of rule wins;
- `explain`: for one (business type, ticket kind, node, tier, role), the winning rule, every other
  matching rule it beat with its specificity and the key that decided, and the rules about the same
  node or business that do not apply (and why);
- `matrix`: every node of the catalog × tier → limit, clock, calendar, warnings, escalation chain
  (JSON, or `format=csv`: one line per node and tier, an operator's SLA table).
"""

from __future__ import annotations

import csv
import io
from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from backbone.problems import field_error
from backbone.vocabulary import Tier
from sla.api.deps import ContextDep, ReaderDep, SessionDep
from sla.domain import explain as explaining
from sla.domain import lint
from sla.domain.policy import KEY_ORDER
from sla.domain.policy import Query as PolicyQuery
from sla.services import policies

router = APIRouter(prefix="/api/v1/policies", tags=["policies"])

VERSION_DOC = 'a loaded policy version, or "active"'


# --------------------------------------------------------------------------- shapes


class NodeOut(BaseModel):
    business_type: str
    ticket_kind: str
    node: str
    role: str


class NodeTiers(NodeOut):
    tiers: list[str] = Field(description="the tiers concerned")


class NodeProblem(NodeOut):
    problem: str


class DeadRuleOut(BaseModel):
    index: int
    rule_id: str
    matched: int = Field(description="(node, tier) queries of the catalog the rule matches")
    shadowed_by: dict[str, int] = Field(description="rule id → how many of those queries it wins instead")
    message: str


class CoverageOut(BaseModel):
    policy_version: str
    catalog_nodes: int
    queries: int = Field(description="catalog nodes × tiers: what the lint resolves")
    dead_rules: list[DeadRuleOut]
    unmatched: list[NodeTiers] = Field(description="nodes (and tiers) no rule matches: no timer would start")
    at_catch_all: list[NodeTiers] = Field(
        description="nodes (and tiers) won by a catch-all: a rule naming no node, business type nor ticket kind")
    tier_order: list[NodeProblem] = Field(description="nodes where A is not shorter than C or B not between")
    wins_by_level: dict[str, int] = Field(description="(node, tier) queries won per level of rule")
    wins_by_rule: dict[str, int]


class SpecificityOut(BaseModel):
    node: int
    business_type: int = Field(description="2: full business type, 1: product, 0: any")
    ticket_kind: int
    customer_tier: int
    role: int


class CandidateOut(BaseModel):
    rule_id: str
    keys: dict[str, str] = Field(description="the keys the rule names")
    specificity: SpecificityOut
    level: str
    limit_minutes: float
    clock: str
    why: str | None = Field(None, description="why it lost to the winner, or why it does not apply")


class ExplainOut(BaseModel):
    policy_version: str
    precedence: list[str] = Field(description="the keys in the order specificity compares them")
    query: dict[str, str]
    in_catalog: bool = Field(description="the node is one of the workflow catalog")
    winner: CandidateOut | None
    beaten: list[CandidateOut] = Field(description="every other matching rule, most specific first")
    not_matching: list[CandidateOut] = Field(description="rules about the same node or business that do not apply")


class WarningsOut(BaseModel):
    percent: list[float]
    minutes_before: list[float]


class EscalationOut(BaseModel):
    level: int
    notify_role: str
    after_minutes: float


class CellOut(BaseModel):
    rule_id: str
    limit_minutes: float
    clock: str
    calendar: str = Field(description='the calendar of a "working" clock, or "24x7"')
    catch_all: bool
    warnings: WarningsOut
    escalation: list[EscalationOut]


class MatrixRowOut(NodeOut):
    business_title: str | None
    node_title: str | None
    tiers: dict[str, CellOut | None] = Field(description="tier → what a timer gets (null: no rule, no timer)")


class MatrixOut(BaseModel):
    policy_version: str
    catalog_nodes: int
    rows: list[MatrixRowOut]


def _node(n: Any) -> dict[str, str]:
    return {"business_type": n.business_type, "ticket_kind": n.ticket_kind, "node": n.node, "role": n.role}


# --------------------------------------------------------------------------- routes


@router.get("/{version}/coverage", response_model=CoverageOut,
            summary="The version against the workflow catalog: dead rules, nodes at the catch-all, tier order")
async def coverage(version: str, session: SessionDep, context: ContextDep, _: ReaderDep) -> CoverageOut:
    ps = await policies.policy_set_named(session, context.policies, version)
    report = lint.analyse(ps, context.workflows)
    return CoverageOut(
        policy_version=ps.version, catalog_nodes=report.catalog_nodes, queries=report.catalog_nodes * len(lint.TIERS),
        dead_rules=[DeadRuleOut(index=d.index, rule_id=d.rule_id, matched=d.matched, shadowed_by=dict(d.shadowed_by),
                                message=d.message) for d in report.dead],
        unmatched=[NodeTiers(**_node(n), tiers=t) for n, t in report.unmatched],
        at_catch_all=[NodeTiers(**_node(n), tiers=t) for n, t in report.at_catch_all],
        tier_order=[NodeProblem(**_node(n), problem=p) for n, p in report.tier_order],
        wins_by_level=dict(report.levels().most_common()), wins_by_rule=report.wins,
    )


@router.get("/{version}/explain", response_model=ExplainOut,
            summary="Which rule a node gets, the candidates it beat and why (their specificity)")
async def explain(
    version: str, session: SessionDep, context: ContextDep, _: ReaderDep,
    business_type: str = Query(..., min_length=1, description="<product>.<kind>, e.g. dedicated_line_data.complaint"),
    ticket_kind: str = Query(..., min_length=1, description="e.g. complaint_fault"),
    node: str = Query(..., min_length=1, description="e.g. fault_repair"),
    tier: Tier = Query(..., description="customer tier"),
    role: str | None = Query(None, min_length=1, description="the node's role; default: the catalog's"),
) -> ExplainOut:
    ps = await policies.policy_set_named(session, context.policies, version)
    ref = context.workflows.find(business_type, ticket_kind, node)
    if role is None:
        if ref is None:
            raise field_error("role", f"node {node!r} of {business_type} / {ticket_kind} is not in the workflow "
                                      "catalog: give its role")
        role = ref.role
    q = PolicyQuery(business_type, ticket_kind, node, tier.value, role)
    ex = explaining.explain(ps, q)

    def out(r: Any, why: str | None = None) -> CandidateOut:
        return CandidateOut(rule_id=r.id, keys=r.named(), specificity=SpecificityOut(**r.specificity()._asdict()),
                            level=r.specificity().label(), limit_minutes=r.limit_minutes, clock=r.clock.value,
                            why=why)

    return ExplainOut(
        policy_version=ps.version, precedence=list(KEY_ORDER), query=dict(q._asdict()),
        in_catalog=ref is not None and ref.role == role,
        winner=out(ex.winner) if ex.winner else None,
        beaten=[out(r, why) for r, why in ex.beaten], not_matching=[out(r, why) for r, why in ex.near_misses],
    )


_CSV_DOC: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {"schema": {
    "type": "string", "description": "format=csv: one line per node and tier, columns "
    + ", ".join(explaining.CSV_COLUMNS)}}}}}


@router.get("/{version}/matrix", response_model=MatrixOut, responses=_CSV_DOC,
            summary="Every node of the catalog × tier → limit, clock, warnings, escalation chain (JSON or CSV)")
async def matrix(
    version: str, session: SessionDep, context: ContextDep, _: ReaderDep,
    format: Literal["json", "csv"] = Query("json", description="csv: the operator's SLA table"),
) -> Any:
    ps = await policies.policy_set_named(session, context.policies, version)
    if format == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(explaining.CSV_COLUMNS))
        writer.writeheader()
        writer.writerows(explaining.matrix_csv_rows(ps, context.workflows))
        return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="sla-matrix-{ps.version}.csv"'})
    rows = explaining.matrix_json(ps, context.workflows)
    return MatrixOut(policy_version=ps.version, catalog_nodes=len(context.workflows),
                     rows=[MatrixRowOut.model_validate(r) for r in rows])
