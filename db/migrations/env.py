"""Alembic environment for the aggregator database.

Used two ways: programmatically by aggregator.store.engine (which hands over an open connection
in ``config.attributes["connection"]``), and from the command line with db/alembic.ini, where
the URL comes from AGGREGATOR_DB or ``sqlalchemy.url``.
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from aggregator.settings import normalise_db_url
from aggregator.store.engine import create_store_engine
from aggregator.store.models import SQLModel, include_in_autogenerate

config = context.config
if config.config_file_name is not None and config.attributes.get("connection") is None:
    # Command-line use: log what alembic does. In-process use leaves logging to the app.
    fileConfig(config.config_file_name, disable_existing_loggers=False)
target_metadata = SQLModel.metadata


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_in_autogenerate,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    url = os.environ.get("AGGREGATOR_DB") or config.get_main_option("sqlalchemy.url")
    context.configure(
        url=normalise_db_url(url or ""),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    url = os.environ.get("AGGREGATOR_DB") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("set AGGREGATOR_DB or sqlalchemy.url to the database to migrate")
    engine = create_store_engine(normalise_db_url(url))
    try:
        with engine.connect() as conn:
            _configure_and_run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
