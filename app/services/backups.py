"""Backups of the metadata (the database) and restoring them: `flask locker backup` and `flask locker restore`.

A backup is a folder with one copy of the database and `manifest.json`, which says what the copy is (format,
Locker version, schema revision, database kind, rows per table, the copy's SHA-256 and size) and which storage
holds the files' bytes. It never holds a secret: no SECRET_KEY, no password of the database URL. SQLite is
copied with its online backup API, PostgreSQL with pg_dump in one snapshot; either copy is consistent while
Locker writes. The bytes themselves are the store's to back up (README, "Backups").
"""
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from alembic.script import ScriptDirectory
from flask import current_app
from psycopg.conninfo import make_conninfo
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import OperationalError

from app.errors import LockerError
from app.extensions import db
from app.storage import get_storage
from app.version import locker_version

FORMAT = 1
MANIFEST = "manifest.json"
DUMP_NAMES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
KIND_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
# What Locker's migrations create outside its own schema's tables: a dump of that schema leaves them out.
EXTENSIONS = ("pg_trgm",)
# Functions Locker's migrations make in its schema (for triggers on its tables).
TRIGGER_FUNCTIONS = ("folder_counts",)
# Schema, table and extension names go into the SQL a restore runs, so only plain ones are taken.
PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}\Z")
REVISION_TABLE = "alembic_version"
# A restore waits this long for Locker's own connections to let go of a table, then says so.
LOCK_TIMEOUT = "60s"
CHUNK = 1024 * 1024


class BackupError(LockerError):
    code = "backup_failed"


@dataclass(frozen=True)
class Copy:
    """What a database copy holds: its schema revision, rows per table, and what else its kind records."""
    revision: str
    rows: dict
    details: dict


@dataclass(frozen=True)
class Backup:
    path: Path
    manifest: dict


@dataclass(frozen=True)
class Restored:
    manifest: dict
    schema_is_current: bool     # otherwise `flask db upgrade` is the next step
    storage: dict               # where this Locker looks for the bytes, described as in a manifest


@contextmanager
def reaching_the_database():
    """A database that cannot be reached is a plain refusal, not a traceback (its message holds no password)."""
    try:
        yield
    except OperationalError as error:
        raise BackupError(f"The database cannot be reached: {' '.join(str(error.orig).split())}") from None


# --- Backup ---

@reaching_the_database()
def backup(dest):
    """Write a consistent copy of the database and its manifest into the new folder `dest`."""
    dest = Path(dest).absolute()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} already exists and is not an empty folder: name a new one.")
    kind = database_kind()
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Made beside dest (mode 0700) and renamed when whole, so a folder named dest is always a complete backup.
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    try:
        dump = work / DUMP_NAMES[kind]
        created_at = datetime.now(UTC)
        copy = copy_sqlite(dump) if kind == "sqlite" else dump_postgres(dump)
        dump.chmod(0o600)
        sha256, size = digest(dump)
        manifest = {
            "format": FORMAT,
            "locker_version": locker_version(),
            "alembic_revision": copy.revision,
            "database": {"kind": kind, **copy.details},
            "created_at": created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tables": copy.rows,
            "dump": {"file": dump.name, "sha256": sha256, "size": size},
            "storage": storage_described(),
        }
        write_private(work / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        sync_folder(work, dump.name, MANIFEST)
        os.rename(work, dest)
        sync_folder(dest.parent)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return Backup(dest, manifest)


def copy_sqlite(path):
    """Copy with SQLite's online backup API in one step: one read transaction, so the copy is the database as of
    one commit, and writers (in WAL mode) never wait for it."""
    with db.engine.connect() as connection, closing(sqlite3.connect(path)) as copy:
        connection.connection.driver_connection.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    return read_sqlite(path)


def read_sqlite(path):
    """The schema revision and rows per table of an SQLite file, read without changing it."""
    try:
        with closing(sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=ro", uri=True)) as copy:
            # Ordinary tables only: the search index's virtual and shadow tables follow from `files`.
            names = [name for (name,) in copy.execute(
                "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
            rows = {name: copy.execute(f"SELECT count(*) FROM {quoted(name)}").fetchone()[0] for name in names}
            revisions = copy.execute(f"SELECT version_num FROM {REVISION_TABLE}").fetchall() \
                if REVISION_TABLE in rows else []
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path} is not a readable SQLite database: {error}.") from None
    return Copy(single_revision(revisions), rows, {})


def dump_postgres(path):
    """pg_dump Locker's schema (custom format) in a snapshot exported from the transaction that counts the rows,
    so the manifest's counts are exactly the dump's while Locker keeps writing."""
    pg_dump = program("pg_dump")
    conninfo, env, password = libpq_connection()
    with db.engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
        snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        schema = connection.execute(text("SELECT current_schema()")).scalar()
        if schema is None:
            raise BackupError("The database's search_path names no schema that exists: there is nothing to back up.")
        plain(schema, "schema")
        names = connection.execute(text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :schema AND c.relkind = 'r' ORDER BY c.relname"), {"schema": schema}).scalars().all()
        rows = {plain(name, "table"): connection.execute(
            text(f"SELECT count(*) FROM {quoted(schema)}.{quoted(name)}")).scalar_one() for name in names}
        revisions = connection.execute(text(f"SELECT version_num FROM {quoted(schema)}.{REVISION_TABLE}")).all() \
            if REVISION_TABLE in rows else []
        extensions = dict(connection.execute(text(
            "SELECT e.extname, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = ANY(:names)"), {"names": list(EXTENSIONS)}).all())
        server_version = connection.execute(text("SHOW server_version")).scalar_one()
        # The snapshot lives as long as this transaction: pg_dump runs inside it.
        run([pg_dump, "--format=custom", f"--snapshot={snapshot}", f'--schema="{schema}"', "--no-password",
             f"--file={path}", f"--dbname={conninfo}"], env, password)
        connection.rollback()
    details = {"schema": schema, "extensions": extensions, "server_version": server_version}
    return Copy(single_revision(revisions), rows, details)


def single_revision(revisions):
    if len(revisions) != 1:
        raise BackupError("The database has no single schema revision: run `flask db upgrade` first.")
    return revisions[0][0]


def storage_described():
    """Which storage the files' bytes are in, without credentials."""
    config = current_app.config
    if get_storage().remote:
        return {"backend": "s3", "bucket": config["S3_BUCKET"], "region": config["S3_REGION"],
                "endpoint": without_credentials(config.get("S3_ENDPOINT_URL"))}
    return {"backend": "local", "dir": str(Path(config["STORAGE_DIR"]).resolve())}


def without_credentials(url):
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def describe(manifest):
    """One line saying what a backup holds."""
    database = manifest["database"]
    where = f" (schema {database['schema']})" if database.get("schema") else ""
    rows = sum(manifest["tables"].values())
    return (f"the {KIND_NAMES[database['kind']]} database{where}, schema revision {manifest['alembic_revision']}, "
            f"{rows:,} row{'s' if rows != 1 else ''} in {len(manifest['tables'])} tables")


def storage_words(storage):
    if storage.get("backend") == "s3":
        return f"bucket {storage.get('bucket')}" + (f" at {storage['endpoint']}" if storage.get("endpoint") else "")
    return f"the folder {storage.get('dir')}"


# --- Restore ---

@reaching_the_database()
def restore(src, force=False):
    """Check the backup in folder `src` and restore it over this Locker's database (only an empty one unless
    `force`); either the whole copy is restored or the database is left as it was."""
    src = Path(src)
    manifest = read_manifest(src)
    kind = database_kind()
    if manifest["database"]["kind"] != kind:
        raise BackupError(f"This backup is of a {KIND_NAMES.get(manifest['database']['kind'], 'another')} database "
                          f"and this Locker's (DATABASE_URL) is {KIND_NAMES[kind]}: a backup restores only into "
                          "the same kind of database.")
    if manifest["dump"]["file"] != DUMP_NAMES[kind]:
        raise BackupError(f"{MANIFEST} names {manifest['dump']['file']!r} where a backup has {DUMP_NAMES[kind]}.")
    dump = src / DUMP_NAMES[kind]
    check_dump(dump, manifest["dump"])
    schema_is_current = check_revision(manifest["alembic_revision"])
    held = {name: count for name, count in rows_held().items() if name != REVISION_TABLE and count}
    if held and not force:
        raise BackupError(f"This Locker's database already holds data ({held_words(held)}): restore replaces it "
                          "only with --force.")
    if kind == "sqlite":
        restore_sqlite(dump, manifest)
    else:
        restore_postgres(dump, manifest)
    db.engine.dispose()  # no pooled connection keeps what the old tables were
    return Restored(manifest, schema_is_current, storage_described())


def read_manifest(src):
    path = src / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{src} holds no {MANIFEST}: name a folder `flask locker backup` wrote.") from None
    except (OSError, ValueError) as error:
        raise BackupError(f"{path} cannot be read: {error}.") from None
    format_version = entry(manifest, int, "format")
    if format_version > FORMAT:
        raise BackupError(f"This backup is in format {format_version}, from a newer Locker; this one reads format "
                          f"{FORMAT}. Restore it with that Locker or a newer one.")
    if format_version < 1:
        raise BackupError(f"{MANIFEST} has an unknown format {format_version}.")
    entry(manifest, str, "alembic_revision")
    entry(manifest, str, "database", "kind")
    entry(manifest, str, "dump", "file")
    entry(manifest, str, "dump", "sha256")
    entry(manifest, int, "dump", "size")
    entry(manifest, dict, "storage")
    tables = entry(manifest, dict, "tables")
    if not all(isinstance(name, str) and PLAIN_NAME.match(name) and isinstance(count, int) and count >= 0
               for name, count in tables.items()):
        raise BackupError(f"{MANIFEST} has a table entry that is not a plain name with a row count.")
    return manifest


def entry(manifest, kind, *keys):
    value = manifest
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BackupError(f"{MANIFEST} has no valid {'.'.join(keys)}: is it one `flask locker backup` wrote?")
    return value


def check_dump(dump, recorded):
    """Refuse a copy that is not byte for byte the one the manifest describes."""
    if not dump.is_file():
        raise BackupError(f"{dump} is missing: the backup is incomplete.")
    sha256, size = digest(dump)
    if size != recorded["size"] or sha256 != recorded["sha256"]:
        raise BackupError(f"{dump} does not match its manifest (its SHA-256 or size differs): the copy is damaged "
                          "or was changed. Nothing was restored.")


def check_revision(revision):
    """Refuse a schema this Locker's migrations do not know (a newer Locker's); say whether it is the newest."""
    scripts = ScriptDirectory(current_app.extensions["migrate"].directory)
    if revision not in {script.revision for script in scripts.walk_revisions()}:
        raise BackupError(f"The backup's schema revision {revision} is not among this Locker's migrations: it comes "
                          "from a newer Locker (or another application). Restore it with that Locker or a newer one.")
    return revision in scripts.get_heads()


def rows_held():
    """Rows in each of Locker's tables in this Locker's database (none when it has no tables yet)."""
    with db.engine.connect() as connection:
        present = set(inspect(connection).get_table_names())
        return {table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                for table in db.metadata.sorted_tables if table.name in present}


def held_words(held):
    shown = ", ".join(f"{count:,} in {name}" for name, count in sorted(held.items(), key=lambda item: -item[1])[:3])
    return shown + (", …" if len(held) > 3 else "")


def restore_sqlite(dump, manifest):
    """Copy the backup into the database file with the backup API, which writes it in one transaction."""
    copy = read_sqlite(dump)
    if copy.rows != manifest["tables"] or copy.revision != manifest["alembic_revision"]:
        raise BackupError(f"{dump} and its manifest disagree (rows or schema revision). Nothing was restored.")
    target = Path(db.engine.url.database or "")
    if not db.engine.url.database or target.name == ":memory:":
        raise BackupError("DATABASE_URL names no SQLite file to restore into.")
    target.parent.mkdir(parents=True, exist_ok=True)
    db.engine.dispose()
    try:
        with closing(sqlite3.connect(f"{dump.absolute().as_uri()}?mode=ro", uri=True)) as source, \
                closing(sqlite3.connect(target)) as destination:
            source.backup(destination)
    except sqlite3.Error as error:
        # An unfinished backup rolls back the destination's transaction: the file is as it was.
        raise BackupError(f"Restoring into {target} failed and was rolled back, so the database is as it was: "
                          f"{error}.") from None


def restore_postgres(dump, manifest):
    """Run pg_restore's SQL through psql in one transaction that first drops Locker's tables and last checks
    every table's rows against the manifest: the database holds either the whole copy or what it held before."""
    pg_restore, psql = program("pg_restore"), program("psql")
    schema = plain(entry(manifest, str, "database", "schema"), "schema")
    extensions = entry(manifest, dict, "database", "extensions")
    if not all(name in EXTENSIONS and isinstance(home, str) and PLAIN_NAME.match(home)
               for name, home in extensions.items()):
        raise BackupError(f"{MANIFEST} names an extension Locker does not use.")
    with db.engine.connect() as connection:
        current = connection.execute(text("SELECT current_schema()")).scalar()
    if current is not None and current != schema:
        raise BackupError(f"The backup holds schema {schema}, and this Locker's database uses schema {current} (its "
                          f"search_path): a backup restores into the schema of its own name.")
    tables = sorted({table.name for table in db.metadata.sorted_tables} | set(manifest["tables"]) | {REVISION_TABLE})
    prelude = "\n".join([
        "BEGIN;",
        "SET client_min_messages = warning;",
        f"SET lock_timeout = '{LOCK_TIMEOUT}';",
        f"CREATE SCHEMA IF NOT EXISTS {quoted(schema)};",
        *(f"CREATE EXTENSION IF NOT EXISTS {quoted(name)} SCHEMA {quoted(home)};"
          for name, home in sorted(extensions.items())),
        # Locker's tables only (their sequences and indexes go with them): anything else in the schema stays.
        f"DROP TABLE IF EXISTS {', '.join(f'{quoted(schema)}.{quoted(name)}' for name in tables)} CASCADE;",
        # ...and their trigger functions, which the dump makes again.
        *(f"DROP FUNCTION IF EXISTS {quoted(schema)}.{quoted(name)}() CASCADE;" for name in TRIGGER_FUNCTIONS), ""])
    # Names are plain and the revision is one of Locker's own migrations (read_manifest, check_revision).
    counted = " UNION ALL ".join(f"SELECT '{name}' AS name, count(*) AS rows, {count} AS expected "
                                 f"FROM {quoted(schema)}.{quoted(name)}" for name, count in manifest["tables"].items())
    postlude = f"""
RESET search_path;
DO $check$
DECLARE problem text;
BEGIN
  IF current_schema() IS DISTINCT FROM '{schema}' THEN
    RAISE EXCEPTION 'the database''s search_path does not lead to schema {schema}: Locker would not find the tables';
  END IF;
  SELECT string_agg(format('%s has %s rows, the manifest says %s', name, rows, expected), '; ') INTO problem
    FROM ({counted}) AS counts WHERE rows <> expected;
  IF problem IS NOT NULL THEN
    RAISE EXCEPTION 'the restored copy differs from its manifest: %', problem;
  END IF;
  IF (SELECT string_agg(version_num, ',') FROM {quoted(schema)}.{REVISION_TABLE})
      IS DISTINCT FROM '{manifest["alembic_revision"]}' THEN
    RAISE EXCEPTION 'the restored schema revision is not the manifest''s';
  END IF;
END $check$;
COMMIT;
"""
    conninfo, env, password = libpq_connection()
    stream_restore(
        [pg_restore, "--no-owner", "--no-privileges", f"--schema={schema}", "--file=-", str(dump)],
        [psql, "--no-psqlrc", "--quiet", "--no-password", "--set=ON_ERROR_STOP=1", f"--dbname={conninfo}"],
        env, password, prelude.encode(), postlude.encode())


def stream_restore(reader_args, psql_args, env, password, prelude, postlude):
    """Feed prelude, pg_restore's output and postlude to psql; COMMIT (the postlude's end) is sent only once
    pg_restore has finished well, so a failure anywhere leaves the transaction to roll back."""
    with tempfile.TemporaryFile() as reader_log, tempfile.TemporaryFile() as psql_log:
        psql = subprocess.Popen(psql_args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=psql_log,
                                env=env, bufsize=0)
        try:
            reader = subprocess.Popen(reader_args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=reader_log, env=env)
            try:
                psql.stdin.write(prelude)
                shutil.copyfileobj(reader.stdout, psql.stdin, CHUNK)
                if reader.wait() == 0:
                    psql.stdin.write(postlude)
            except BrokenPipeError:
                pass  # psql stopped at an error; its log says which
            finally:
                reader.stdout.close()
                reader_failed = reader.wait() != 0
                try:
                    psql.stdin.close()
                except BrokenPipeError:
                    pass
            psql_failed = psql.wait() != 0
        finally:
            if psql.poll() is None:
                psql.kill()
                psql.wait()
        if psql_failed or reader_failed:
            log = psql_log if psql_failed else reader_log
            log.seek(0)
            raise BackupError(f"The restore failed and was rolled back, so the database is as it was: "
                              f"{tool_message(log.read().decode(errors='replace'), password)}")


# --- Shared ---

def database_kind():
    kind = db.engine.dialect.name
    if kind not in DUMP_NAMES:
        raise BackupError(f"Backups cover SQLite and PostgreSQL, not {kind}.")
    return kind


def program(name):
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} is not on PATH: install PostgreSQL's client programs (Debian: postgresql-client) "
                          "of the server's major version or newer.")
    return found


def libpq_connection():
    """A conninfo string without the password, the environment carrying it (PGPASSWORD: a command line is
    visible to every user of the host), and the password itself, all from the settings Locker connects with."""
    _, params = db.engine.dialect.create_connect_args(db.engine.url)
    params.update(current_app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}).get("connect_args", {}))
    password = params.pop("password", None)
    conninfo = make_conninfo("", **{key: value for key, value in params.items()
                                    if isinstance(value, (str, int)) and not isinstance(value, bool)})
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = str(password)
    return conninfo, env, password


def run(args, env, password):
    result = subprocess.run(args, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if result.returncode:
        raise BackupError(f"{Path(args[0]).name} failed: {tool_message(result.stderr, password)}")


def tool_message(output, password):
    """A tool's error lines (or the end of its output), never with the password in them."""
    lines = output.strip().splitlines()
    message = " ".join([line for line in lines if "ERROR:" in line or "error:" in line] or lines[-8:]) or "no message"
    return message.replace(str(password), "***") if password else message


def plain(name, what):
    if not isinstance(name, str) or not PLAIN_NAME.match(name):
        raise BackupError(f"The {what} name {name!r} is not a plain name (letters, digits, _), which backups need.")
    return name


def quoted(name):
    return '"' + name.replace('"', '""') + '"'


def digest(path):
    sha256, size = hashlib.sha256(), 0
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK):
            sha256.update(chunk)
            size += len(chunk)
    return sha256.hexdigest(), size


def write_private(path, content):
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as out:
        out.write(content)


def sync_folder(folder, *names):
    """fsync the named files in `folder`, then the folder itself, so what is written survives a power cut."""
    for name in names:
        with open(folder / name, "rb") as written:
            os.fsync(written.fileno())
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
