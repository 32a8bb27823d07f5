"""Alembic environment of the eoms-bridge service (schema `eoms`); see backbone.migrations."""

from backbone.migrations import run_migrations
from eoms_bridge.models import metadata

run_migrations(metadata)
