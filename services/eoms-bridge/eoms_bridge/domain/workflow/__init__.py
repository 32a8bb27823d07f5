"""Workflow definitions (pure): the terms, the definition models, their graph checks, parsing raw
data with readable problems, and the catalog of versions.

- :mod:`.terms`: node actions, terminal markers (ticket kinds are ``backbone.vocabulary.TicketKind``);
- :mod:`.definition`: ``WorkflowDefinition`` / ``TicketDefinition`` / ``NodeDefinition``;
- :mod:`.graph`: reachability, exits, dependency cycles (every problem, named);
- :mod:`.parsing`: ``parse_workflow`` (raw data → definition, or ``WorkflowDefinitionError``);
- :mod:`.catalog`: ``WorkflowCatalog`` (all versions, one id per business type).

Reading workflow files is I/O and lives outside the domain: ``eoms_bridge.workflows_loader``.
"""

from eoms_bridge.domain.workflow.catalog import WorkflowCatalog
from eoms_bridge.domain.workflow.definition import NodeDefinition, TicketDefinition, WorkflowDefinition
from eoms_bridge.domain.workflow.parsing import parse_workflow
from eoms_bridge.domain.workflow.terms import TERMINALS, NodeAction, Terminal

__all__ = [
    "TERMINALS",
    "NodeAction",
    "NodeDefinition",
    "Terminal",
    "TicketDefinition",
    "WorkflowCatalog",
    "WorkflowDefinition",
    "parse_workflow",
]
