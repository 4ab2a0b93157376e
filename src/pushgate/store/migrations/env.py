"""Alembic environment: always handed a live connection by pushgate.store.migrations."""

from alembic import context

from pushgate.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `pushgate migrate`, not the alembic command")

# Batch mode lets later migrations alter SQLite tables (which lack most ALTER TABLE forms).
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
