"""A throwaway place in a database, so test runs and benchmarks never touch real data."""
import contextlib
import secrets

import sqlalchemy as sa


@contextlib.contextmanager
def scratch_database(url, sqlite_folder):
    """Yield (url, engine options) for an empty database: a new SQLite file, or a new PostgreSQL schema.

    The PostgreSQL schema is dropped afterwards, so concurrent runs never meet.
    """
    if url.startswith("sqlite"):
        yield f"sqlite:///{sqlite_folder}/locker.db", {}
        return
    schema = f"locker_scratch_{secrets.token_hex(4)}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        # Made once, outside any scratch schema: an extension created inside one would
        # vanish with it, taking other runs' search indexes along.
        connection.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"))
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield url, {"connect_args": {"options": f"-csearch_path={schema}"}}
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()
