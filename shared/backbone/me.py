"""What a front end asks any gateway first (every service has these routes, mounted once by
`backbone.api.create_service_app`):

- `GET /api/v1/me`: who the caller is, as this service sees the bearer token: the subject, the display
  name, the partner of a partner user (the token's `partner` claim) and the suite's roles the token
  holds, plus every workflow node role those roles work (`node_roles_of` of `backbone.vocabulary`: the
  node role of the same name, no role covering another; the queues the caller may open). Roles the
  suite does not know are not listed: a service never acts on them.
- `GET /api/v1/labels`: the display labels of the suite's codes in zh-CN and en (`backbone/labels.yaml`:
  products, business kinds and types, ticket kinds, roles, workflow nodes and outcomes, tiers, alert
  types), so a screen names a node "故障处理" / "fault repair" whatever workflows its role may read.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from backbone.authz import authenticated
from backbone.deps import PrincipalDep
from backbone.labels import LabelCategory, LocalText, labels
from backbone.vocabulary import NodeRole, node_roles_of, role_satisfies

router = APIRouter(prefix="/api/v1", tags=["me"])


class Me(BaseModel):
    subject: str = Field(description="the token's `sub`: the id written as actor, assignee, account manager")
    name: str | None = Field(description="the token's `name` claim, when it has a printable one")
    partner: str | None = Field(description="the partner a partner user works for (the token's `partner` claim)")
    roles: list[str] = Field(description="the suite's roles the token holds (backbone.vocabulary.TokenRole: "
                                         "account_manager, agent, complaint_desk, dispatcher, network_staff, "
                                         "network_resource, ..., supervisor, department_head, admin), sorted")
    node_roles: list[str] = Field(description="every workflow node role those roles work, sorted: the queues the "
                                              "caller may open (each role works its own node role only)")
    service: str = Field(description="the service that answered")


@router.get("/me", response_model=Me, summary="Who the bearer token says the caller is (subject, name, roles)",
            dependencies=[authenticated("any valid token: the answer is the caller's own claims, nothing else")])
async def me(principal: PrincipalDep, request: Request) -> Me:
    # A partner user works the partners' nodes only, whatever roles its token holds (backbone.authz).
    held = frozenset({NodeRole.PARTNER_SI}) if principal.partner is not None else node_roles_of(principal.roles)
    return Me(
        subject=principal.subject, name=principal.name, partner=principal.partner, roles=sorted(principal.roles),
        node_roles=sorted(r.value for r in NodeRole if any(role_satisfies(h, r) for h in held)),
        service=request.app.state.settings.service_name,
    )


@router.get("/labels", response_model=dict[LabelCategory, dict[str, LocalText]],
            summary="Display labels of the suite's codes (zh-CN and en), by category and code",
            dependencies=[authenticated("the suite's words for its codes, the same for everyone: no business data")])
async def all_labels(_: PrincipalDep) -> dict[LabelCategory, dict[str, LocalText]]:
    lab = labels()
    return {c: {code: lab.text(c, code) for code in sorted(lab.codes(c))} for c in LabelCategory}
