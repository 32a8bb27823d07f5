"""FastAPI dependencies as Annotated aliases, and how a JWT principal becomes a domain Actor.

The suite's JWT roles are coarse (account_manager, network_staff, supervisor, admin); workflow
nodes use finer roles. `backbone.vocabulary.NODE_ROLES_OF_TOKEN_ROLE` says which a token acts as
(an account manager only on its own customers' tickets).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request

from backbone.auth import Principal as Principal
from backbone.deps import PrincipalDep as PrincipalDep
from backbone.deps import RuntimeDep as RuntimeDep
from backbone.deps import SessionDep as SessionDep
from backbone.deps import get_principal as get_principal
from backbone.deps import get_runtime as get_runtime
from backbone.deps import get_session as get_session
from backbone.problems import Problem
from backbone.vocabulary import TokenRole, node_roles_of
from eoms_bridge.context import Bridge
from eoms_bridge.domain.errors import (
    ActorNotAllowedError,
    IllegalTransitionError,
    MissingReasonError,
    UnknownNodeError,
    UnknownOutcomeError,
    WorkflowDefinitionError,
    WorkflowNotFoundError,
)
from eoms_bridge.domain.ticket import Actor
from eoms_bridge.services.tickets import StaleTicketError, TicketNotFoundError
from eoms_bridge.services.workflows import WorkflowConflictError, WorkflowStore
from eoms_bridge.settings import EomsSettings


def actor_of(principal: Principal) -> Actor:
    return Actor(id=principal.subject, roles=node_roles_of(principal.roles))


def owner_filter(principal: Principal) -> str | None:
    """An account manager who holds no wider role sees only their own customers' tickets."""
    if principal.has(TokenRole.SUPERVISOR, TokenRole.ADMIN, TokenRole.NETWORK_STAFF):
        return None
    return principal.subject if principal.has(TokenRole.ACCOUNT_MANAGER) else None


def get_settings(request: Request) -> EomsSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_bridge(request: Request) -> Bridge:
    return request.app.state.bridge  # type: ignore[no-any-return]


async def get_store(bridge: Annotated[Bridge, Depends(get_bridge)]) -> WorkflowStore:
    return await bridge.ready()


SettingsDep = Annotated[EomsSettings, Depends(get_settings)]
BridgeDep = Annotated[Bridge, Depends(get_bridge)]
StoreDep = Annotated[WorkflowStore, Depends(get_store)]


@contextlib.contextmanager
def domain_errors() -> Iterator[None]:
    """Domain / use-case errors → problem+json with the status the domain's errors module names."""
    try:
        yield
    except (TicketNotFoundError, WorkflowNotFoundError) as exc:
        raise Problem(404, "Not found", str(exc)) from exc
    except ActorNotAllowedError as exc:
        raise Problem(403, "Forbidden", str(exc)) from exc
    except (IllegalTransitionError, StaleTicketError, WorkflowConflictError) as exc:
        raise Problem(409, "Conflict", str(exc)) from exc
    except UnknownOutcomeError as exc:
        raise Problem(422, "Invalid request", str(exc), errors=[{"field": "outcome", "message": str(exc)}]) from exc
    except MissingReasonError as exc:
        raise Problem(422, "Invalid request", str(exc), errors=[{"field": "reason", "message": str(exc)}]) from exc
    except UnknownNodeError as exc:
        raise Problem(422, "Invalid request", str(exc)) from exc
    except WorkflowDefinitionError as exc:
        raise Problem(
            422,
            "Invalid workflow definition",
            f"{len(exc.problems)} problem(s) found",
            errors=[{"field": "definition", "message": p} for p in exc.problems],
        ) from exc
