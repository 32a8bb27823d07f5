"""Alembic environment of the sla service (schema `sla`); see backbone.migrations."""

from backbone.migrations import run_migrations
from sla.models import metadata

run_migrations(metadata)
