"""FastAPI dependencies as Annotated aliases: a route names what it needs, nothing more."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from backbone.deps import PrincipalDep as PrincipalDep
from backbone.deps import RuntimeDep as RuntimeDep
from backbone.deps import SessionDep as SessionDep
from backbone.deps import context_of
from notify.context import NotifyContext

# The parts bootstrap built (settings, directory, templates, dispatch): `ctx.directory`, `ctx.settings`, ...
ContextDep = Annotated[NotifyContext, Depends(context_of(NotifyContext))]
