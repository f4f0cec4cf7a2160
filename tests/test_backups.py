"""`flask locker backup` and `flask locker restore`, on the run's database kind (SQLite or PostgreSQL), as an
operator runs them: a copy taken while Locker writes, restored into a new database, where `verify` finds every
file's bytes; and every backup restore must refuse, refused without changing anything."""
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
import uuid
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from alembic.script import ScriptDirectory
from flask_migrate import upgrade

from app import create_app
from app.extensions import db
from app.models import AuditEvent, User
from app.services import backups
from app.version import locker_version
from tests.conftest import S3_SETTINGS, make_config
from tests.helpers import upload

DEADLINE = 60


@pytest.fixture
def new_database(database, tmp_path):
    """Make new, empty databases of the run's kind, as (url, engine options); PostgreSQL ones are dropped after.

    A PostgreSQL one keeps the run's search_path: a backup restores into the schema of its own name. Tests ask
    for this fixture before make_app, so that it is torn down after the apps on these databases.
    """
    url, options = database
    made = []
    server = None if url.startswith("sqlite") else sa.create_engine(url, isolation_level="AUTOCOMMIT")
    schema = server and options["connect_args"]["options"].removeprefix("-csearch_path=")

    def make(for_migrations=False):
        if server is None:
            return f"sqlite:///{tmp_path}/restored-{uuid.uuid4().hex[:8]}.db", {}
        name = f"locker_restore_{secrets.token_hex(4)}"
        with server.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        new_url = sa.make_url(url).set(database=name).render_as_string(hide_password=False)
        if for_migrations:  # what scratch_database makes in the run's database
            engine = sa.create_engine(new_url)
            with engine.begin() as connection:
                connection.execute(sa.text("CREATE EXTENSION pg_trgm SCHEMA public"))
                connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
            engine.dispose()
        return new_url, options

    yield make
    if server is not None:
        with server.connect() as connection:
            for name in made:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def app_on(make_app, database, **settings):
    url, options = database
    return make_app(SQLALCHEMY_DATABASE_URI=url,
                    SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, **options}, **settings)


def cli(app, *args):
    with app.app_context():
        return app.test_cli_runner().invoke(args=["locker", *args])


def rows(app, tables):
    with app.app_context(), db.engine.connect() as connection:
        return {name: connection.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar_one() for name in tables}


def usernames(app):
    with app.app_context():
        return set(db.session.execute(db.select(User.username)).scalars())


def wait_for(condition, what):
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


@contextmanager
def writing(app):
    """Keep committing an account together with an activity event, in another thread, for as long as the block
    runs: a copy of one commit has as many more accounts as it has events."""
    stop, written, failures = threading.Event(), [0], []

    def write():
        with app.app_context():
            try:
                while not stop.is_set():
                    user = User(username=f"w{uuid.uuid4().hex[:12]}", password_hash="-")
                    db.session.add(user)
                    db.session.flush()
                    db.session.add(AuditEvent(action="backup_test", actor_id=user.id))
                    db.session.commit()
                    written[0] += 1
            except Exception as error:  # shown by the assertion below instead of dying with the thread
                failures.append(repr(error))
            finally:
                db.session.remove()

    thread = threading.Thread(target=write)
    thread.start()
    try:
        wait_for(lambda: written[0] >= 5 or failures, "the first writes")
        yield
        before_end = written[0]
        wait_for(lambda: written[0] > before_end + 5 or failures, "writes after the backup")
    finally:
        stop.set()
        thread.join(DEADLINE)
    assert not failures, failures


def backup_of(app, dest, *extra):
    result = cli(app, "backup", str(dest), *extra)
    assert result.exit_code == 0, result.output
    return json.loads((dest / "manifest.json").read_text())


def with_password(url):
    """The run's URL with a password in it (the test server trusts 127.0.0.1, so any password is accepted)."""
    return sa.make_url(url).set(password=f"pw-{secrets.token_hex(8)}").render_as_string(hide_password=False) \
        if not url.startswith("sqlite") else url


def test_a_backup_taken_while_locker_writes_is_consistent_and_restores_with_every_files_bytes(
        new_database, make_app, database, accounts, tmp_path, caplog, monkeypatch):
    url, options = database
    source = app_on(make_app, (with_password(url), options), STORAGE_BACKEND="local")
    password = sa.make_url(source.config["SQLALCHEMY_DATABASE_URI"]).password
    commands = []
    real_popen = subprocess.Popen

    class RecordedPopen(real_popen):
        def __init__(self, args, *rest, **options):
            commands.append(" ".join(map(str, args)))
            super().__init__(args, *rest, **options)

    monkeypatch.setattr(subprocess, "Popen", RecordedPopen)
    with source.app_context():
        client = source.test_client()
        headers = accounts.headers(accounts.create())
        files = [upload(client, headers, f"note {number}.txt", f"bytes of note {number}".encode())
                 for number in range(3)]
        before = rows(source, ["users", "audit_events"])
    with writing(source):
        backup = backup_of(source, tmp_path / "backup")

    # The copy is of one commit: every account the writer made came with its event.
    assert backup["tables"]["users"] - before["users"] == backup["tables"]["audit_events"] - before["audit_events"] > 0
    assert backup["tables"]["files"] == 3
    assert backup["format"] == 1
    assert backup["locker_version"] == locker_version() != "unknown"  # what the admin area shows too
    assert backup["database"]["kind"] == ("sqlite" if url.startswith("sqlite") else "postgresql")
    assert backup["storage"] == {"backend": "local", "dir": str((tmp_path / "storage").resolve())}
    written = (tmp_path / "backup" / "manifest.json").read_text()
    for secret in filter(None, [password, source.config["SECRET_KEY"]]):
        assert secret not in written and secret not in caplog.text and all(secret not in c for c in commands)
    assert not any(name.startswith(".backup") for name in os.listdir(tmp_path)), "a partial folder was left"

    target = app_on(make_app, new_database(), STORAGE_BACKEND="local")
    restored = cli(target, "restore", str(tmp_path / "backup"))
    assert restored.exit_code == 0, restored.output
    assert "verify --all" in restored.output
    assert rows(target, backup["tables"]) == backup["tables"]
    verified = cli(target, "verify", "--all")
    assert verified.exit_code == 0 and "Checked 3; 0 with problems." in verified.output, verified.output
    assert all(file["id"] in verified.output for file in files)


def restored_with_more(new_database, make_app, accounts, backup, backed_up, added):
    """A new database restored from a backup holding the account `backed_up`, then given the account `added`."""
    source = make_app(STORAGE_BACKEND="local")
    with source.app_context():
        accounts.create(backed_up)
    backup_of(source, backup)
    target = app_on(make_app, new_database(), STORAGE_BACKEND="local")
    assert cli(target, "restore", str(backup)).exit_code == 0
    with target.app_context():
        accounts.create(added)
    return target


def test_restore_refuses_a_database_that_holds_data_unless_forced(new_database, make_app, accounts, tmp_path):
    target = restored_with_more(new_database, make_app, accounts, tmp_path / "backup", "kept", "later")

    refused = cli(target, "restore", str(tmp_path / "backup"))
    assert refused.exit_code == 1 and "--force" in refused.output and "holds data" in refused.output
    assert usernames(target) == {"kept", "later"}

    forced = cli(target, "restore", "--force", str(tmp_path / "backup"))
    assert forced.exit_code == 0, forced.output
    assert usernames(target) == {"kept"}


def claim_newer_schema(manifest, _dump):
    manifest["alembic_revision"] = "f" * 12


def claim_other_kind(manifest, _dump):
    manifest["database"]["kind"] = "postgresql" if manifest["database"]["kind"] == "sqlite" else "sqlite"


def claim_newer_format(manifest, _dump):
    manifest["format"] = 2


def damage_dump(_manifest, dump):
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))


def claim_other_rows(manifest, _dump):
    # The dump is intact, so this is found only by the restore itself (PostgreSQL: inside its transaction).
    manifest["tables"]["users"] += 1


UNTRUSTED = [
    (damage_dump, "does not match its manifest"),
    (claim_newer_schema, "newer Locker"),
    (claim_newer_format, "newer Locker"),
    (claim_other_kind, "same kind of database"),
    (claim_other_rows, "differs from its manifest|disagree"),
]


def test_restore_refuses_a_backup_it_cannot_trust_and_changes_nothing(new_database, make_app, accounts, tmp_path):
    target = restored_with_more(new_database, make_app, accounts, tmp_path / "backup", "backed_up", "kept")
    held = rows(target, ["users", "audit_events", "alembic_version"])

    # One backup and one target for all, to keep this quick: each refusal leaves the target as it was.
    for damage, refusal in UNTRUSTED:
        damaged = shutil.copytree(tmp_path / "backup", tmp_path / damage.__name__)
        manifest = json.loads((damaged / "manifest.json").read_text())
        damage(manifest, damaged / manifest["dump"]["file"])
        (damaged / "manifest.json").write_text(json.dumps(manifest))
        result = cli(target, "restore", "--force", str(damaged))
        assert result.exit_code == 1, (damage.__name__, result.output)
        assert any(words in result.output for words in refusal.split("|")), (damage.__name__, result.output)
        assert usernames(target) == {"backed_up", "kept"} and rows(target, held) == held, damage.__name__


def test_a_backup_on_s3_restores_and_verify_finds_the_bytes_in_the_bucket(
        new_database, make_app, s3, accounts, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret := f"aws-{secrets.token_hex(8)}")
    source = make_app(**S3_SETTINGS)
    with source.app_context():
        client = source.test_client()
        headers = accounts.headers(accounts.create())
        upload(client, headers, "a.bin", os.urandom(1000))
        upload(client, headers, "b.bin", os.urandom(2000))
    manifest = backup_of(source, tmp_path / "backup")
    assert manifest["storage"]["backend"] == "s3" and manifest["storage"]["bucket"] == S3_SETTINGS["S3_BUCKET"]
    assert secret not in (tmp_path / "backup" / "manifest.json").read_text()

    target = app_on(make_app, new_database(), **S3_SETTINGS)
    assert cli(target, "restore", str(tmp_path / "backup")).exit_code == 0
    verified = cli(target, "verify", "--all")
    assert verified.exit_code == 0 and "Checked 2; 0 with problems." in verified.output, verified.output


def test_a_backup_of_an_older_schema_restores_and_then_upgrades(new_database, make_app, accounts, tmp_path):
    url, options = new_database(for_migrations=True)
    # Not through make_app, which empties the head schema's tables afterwards.
    older = create_app(make_config(url, options, tmp_path / "storage", STORAGE_BACKEND="local"))
    with older.app_context():
        scripts = ScriptDirectory(older.extensions["migrate"].directory)
        head = scripts.get_current_head()
        previous = scripts.get_revision(head).down_revision
        upgrade(revision=previous)
    try:
        assert backup_of(older, tmp_path / "backup")["alembic_revision"] == previous
    finally:
        with older.app_context():
            db.engine.dispose()

    target = app_on(make_app, new_database(), STORAGE_BACKEND="local")
    restored = cli(target, "restore", str(tmp_path / "backup"))
    assert restored.exit_code == 0 and "run `flask db upgrade` next" in restored.output, restored.output
    with target.app_context():
        upgrade()
        assert db.session.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == head
        accounts.create("after_upgrade")


def test_backup_writes_only_into_a_new_folder(make_app, tmp_path):
    app = make_app(STORAGE_BACKEND="local")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    result = cli(app, "backup", str(tmp_path / "taken"))
    assert result.exit_code == 1 and "not an empty folder" in result.output
    assert os.listdir(tmp_path / "taken") == ["notes.txt"]


def test_backup_and_restore_say_when_the_database_cannot_be_reached(tmp_path):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        url = f"postgresql+psycopg://locker:pw-{secrets.token_hex(4)}@127.0.0.1:{unused.getsockname()[1]}/locker"
    app = create_app(make_config(url, {}, tmp_path / "storage", STORAGE_BACKEND="local"))
    head = ScriptDirectory(app.extensions["migrate"].directory).get_current_head()
    for command in [("backup", str(tmp_path / "backup")), ("restore", str(tmp_path))]:
        (tmp_path / "manifest.json").write_text(json.dumps({
            "format": 1, "alembic_revision": head, "database": {"kind": "postgresql"}, "tables": {}, "storage": {},
            "dump": {"file": "database.pgdump", "sha256": hashlib.sha256(b"").hexdigest(), "size": 0}}))
        (tmp_path / "database.pgdump").write_bytes(b"")
        result = cli(app, *command)
        assert result.exit_code == 1 and "The database cannot be reached" in result.output, result.output
        assert sa.make_url(url).password not in result.output
    assert not (tmp_path / "backup").exists()


def test_backup_says_when_postgresql_client_programs_are_missing(make_app, tmp_path, monkeypatch):
    app = make_app(STORAGE_BACKEND="local")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = cli(app, "backup", str(tmp_path / "backup"))
    with app.app_context():
        kind = backups.database_kind()
    if kind == "postgresql":
        assert result.exit_code == 1 and "pg_dump is not on PATH" in result.output
        assert not (tmp_path / "backup").exists()
    else:  # SQLite is copied in-process: no program needed
        assert result.exit_code == 0, result.output
