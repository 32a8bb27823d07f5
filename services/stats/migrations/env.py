"""Alembic environment of the stats service (schema `stats`); see backbone.migrations."""

from backbone.migrations import run_migrations
from stats.models import metadata

run_migrations(metadata)
