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


@contextlib.contextmanager
def scratch_postgres_database(url):
    """Yield the URL of a new, empty PostgreSQL database on the server `url` names, dropped afterwards.

    For processes of their own (app servers, pg_dump), which take a plain URL where a schema would
    need a search_path option in every one of them.
    """
    name = f"locker_scratch_{secrets.token_hex(4)}"
    server = sa.engine.make_url(url)
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")  # CREATE DATABASE runs outside a transaction
    with engine.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            # FORCE: a server still connected (one the test killed, say) must not keep the database alive.
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        engine.dispose()
