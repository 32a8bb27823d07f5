"""The words of a workflow definition: node actions, terminal markers.

(Products, business kinds, ticket kinds and node roles are the suite's: `backbone.vocabulary`.)
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final

__all__ = ["DEFAULT_ACTIONS", "NAME_RE", "TERMINALS", "NodeAction", "Terminal"]


class NodeAction(StrEnum):
    ACCEPT = "accept"
    COMPLETE = "complete"
    RETURN = "return"
    SUSPEND = "suspend"
    RESUME = "resume"
    REASSIGN = "reassign"


class Terminal(StrEnum):
    """Terminal markers an outcome may point to instead of a next node."""

    RESOLVED = "$resolved"
    REJECTED = "$rejected"


TERMINALS: Final[frozenset[str]] = frozenset(t.value for t in Terminal)
DEFAULT_ACTIONS: Final[frozenset[NodeAction]] = frozenset(NodeAction)

#: Node and outcome names.
NAME_RE: Final = re.compile(r"^[a-z][a-z0-9_]*$")
