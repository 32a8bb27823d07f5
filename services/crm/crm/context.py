"""What the CRM's routes and use cases work with, built once by `bootstrap(settings)`: the typed context."""

from __future__ import annotations

from dataclasses import dataclass

from crm.domain.products import Catalogue
from crm.domain.tiering import TieringConfig
from crm.settings import CrmSettings


@dataclass(frozen=True)
class CrmContext:
    """The CRM's domain parts: its settings, the product catalogue (each product's attribute schemas)
    and the tiering configuration (factor weights, thresholds), both validated at start."""

    settings: CrmSettings
    catalogue: Catalogue
    tiering: TieringConfig
