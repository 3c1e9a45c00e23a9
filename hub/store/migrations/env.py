"""Alembic environment: runs on the engine that ``hub.store.migrate`` hands over.

On SQLite, batch operations rebuild a table (copy, drop, rename); with foreign keys enforced,
dropping the old table would fire every ``ON DELETE`` that points at it (``SET NULL`` on rules
and cases, ``CASCADE`` on team members). So, as Alembic's batch documentation advises, foreign
keys are off while migrations run and checked once they are done.
"""

from alembic import context

from hub.store.tables import metadata

engine = context.config.attributes["engine"]
sqlite = engine.dialect.name == "sqlite"

with engine.connect() as connection:
    if sqlite:  # outside any transaction, where SQLite honours it
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=sqlite,  # SQLite can't ALTER most things
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"a migration left rows pointing at nothing: {broken[:5]}")
    connection.commit()
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
