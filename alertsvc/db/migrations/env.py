"""Alembic environment: the engine is handed in by ``alertsvc.db.ensure_schema``."""

from __future__ import annotations

from alembic import context

from alertsvc.db.tables import Base

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # autogenerate names our types by their public path (alertsvc.db.tables.UTCDateTime),
        # not by the module inside the package that defines them
        user_module_prefix="alertsvc.db.tables.",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
