"""Alembic environment of the eoms-bridge service (schema `eoms_bridge`); see backbone.migrations."""

from backbone.migrations import run_migrations
from eoms_bridge.models import metadata

run_migrations(metadata)
