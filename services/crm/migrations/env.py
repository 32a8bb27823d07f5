"""Alembic environment of the crm service (schema `crm`); see backbone.migrations."""

from backbone.migrations import run_migrations
from crm.models import metadata

run_migrations(metadata)
