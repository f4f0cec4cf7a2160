"""The migrations build exactly the schema the models describe."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app import create_app

from app.extensions import db
from app.models import SEARCH_TABLE, described_by_models
from tests.conftest import make_config
from tests.scratch_db import scratch_database


def test_models_and_migrations_do_not_drift(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": described_by_models})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def current_revision():
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def schema_objects(connection):
    """Every table, index and trigger by name: what compare_metadata cannot see (search triggers, partial indexes)."""
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
    else:
        rows = connection.exec_driver_sql(
            "SELECT 'index', indexname FROM pg_indexes WHERE schemaname = current_schema() UNION ALL "
            "SELECT 'trigger', trigger_name FROM information_schema.triggers WHERE trigger_schema = current_schema() "
            "UNION ALL SELECT 'table', table_name FROM information_schema.tables WHERE table_schema = current_schema()")
    return sorted(tuple(row) for row in rows)


def test_every_migration_downgrades_and_upgrades_again_to_the_same_schema(database, tmp_path):
    url, options = database
    with scratch_database(url, tmp_path) as (scratch_url, scratch_options):
        app = create_app(make_config(scratch_url, scratch_options, tmp_path / "storage"))
        with app.app_context():
            upgrade()
            with db.engine.connect() as connection:
                at_head = schema_objects(connection)
            while current_revision():
                downgrade(revision="-1")
                with db.engine.connect() as connection:
                    objects = schema_objects(connection)
                if ("table", SEARCH_TABLE) in objects:  # SQLite's name search: stale without its triggers
                    assert {f"{SEARCH_TABLE}_{event}" for event in ("insert", "delete", "update")} <= \
                        {name for kind, name in objects if kind == "trigger"}, current_revision()
            with db.engine.connect() as connection:
                assert [name for kind, name in schema_objects(connection) if kind == "table"] in ([], ["alembic_version"])
            upgrade()
            with db.engine.connect() as connection:
                assert schema_objects(connection) == at_head
            db.engine.dispose()


def test_the_folders_migration_puts_every_existing_file_in_its_owners_root_unchanged(database, tmp_path):
    url, options = database
    with scratch_database(url, tmp_path) as (scratch_url, scratch_options):
        app = create_app(make_config(scratch_url, scratch_options, tmp_path / "storage"))
        with app.app_context():
            upgrade(revision="e17c0b1e5a17")
            with db.engine.begin() as connection:
                for user_id, name in ((1, "ada"), (2, "bob")):
                    connection.exec_driver_sql(
                        "INSERT INTO users (id, username, password_hash, is_admin, is_active_account, created_at,"
                        f" used_bytes) VALUES ({user_id}, '{name}', 'x', false, true, '2026-01-01', 3)")
                for file_id, owner_id, name, status in ((1, 1, "a.txt", "ready"), (2, 1, "b.txt", "pending"),
                                                        (3, 2, "a.txt", "ready")):
                    connection.exec_driver_sql(
                        "INSERT INTO files (id, public_id, owner_id, name, size, content_type, storage_key, status,"
                        " created_at, delete_attempts, search_name) VALUES"
                        f" ({file_id}, '{file_id:032x}', {owner_id}, '{name}', 1, 'text/plain', 'u/{file_id}',"
                        f" '{status}', '2026-01-01', 0, '{name}')")
            upgrade()
            with db.engine.connect() as connection:
                roots = dict(connection.exec_driver_sql(
                    "SELECT owner_id, id FROM folders WHERE parent_id IS NULL AND name = ''").all())
                files = connection.exec_driver_sql(
                    "SELECT id, owner_id, folder_id, name, status FROM files ORDER BY id").all()
            assert sorted(roots) == [1, 2]
            assert [tuple(row) for row in files] == [(1, 1, roots[1], "a.txt", "ready"),
                                                     (2, 1, roots[1], "b.txt", "pending"),
                                                     (3, 2, roots[2], "a.txt", "ready")]
            db.engine.dispose()
