"""Alembic environment of the notify service (schema `notify`); see backbone.migrations."""

from backbone.migrations import run_migrations
from notify.models import metadata

run_migrations(metadata)
