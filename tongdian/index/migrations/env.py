"""Alembic's environment: always handed a live connection by ``revstore.migrate``.

There is no ``alembic.ini``: the store opens the database itself (SQLite file or
PostgreSQL URL) and runs the migrations on that connection, so a server, the CLI and the
tests all bring the schema to the same head the same way.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
