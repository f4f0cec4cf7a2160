"""How long a page of the file list takes at 100 files and at a million, for one owner and spread over folders.

Run by hand: `.venv/bin/python bench/listing.py [DATABASE_URL] [--sizes 100,1000000] [--runs 50]` (a new
SQLite file by default; on PostgreSQL a throwaway schema). The first size is the baseline, the last the
one compared with it (`--sizes 100,10000` for a quick run). Each size is filled in bulk (executemany on
SQLite, COPY on PostgreSQL) and the time that takes is printed.

Two layouts, each at every size:
- one owner: all the files in the owner's root folder. The list of every folder (the API's default) and
  the root folder's list (the files page's), in each sort and order, first page and a page from the
  middle of the list (a keyset cursor, as following next_cursor that far would give).
- spread: the files spread evenly over 1,000 folders inside one folder ("Spread") of the root. The list of
  every folder, one of the 1,000 folders (against the baseline's folder of 100), the folder rows of Spread
  (the first page of 100, each counting its files and bytes) and the root's one folder row (counting all).
Then the files page (GET /files) and the API's list (GET /api/v1/files) end to end for both layouts.

Runs of the sizes alternate and each figure is a median, so load from other work on the machine hits
both sides of a ratio alike. Target: a first page at the largest size within 1.2x of the baseline's.
"""
import argparse
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import has_app_context  # noqa: E402
from flask_migrate import upgrade  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import File, FileStatus, search_key, utcnow  # noqa: E402
from app.services import files, folders, tokens, users  # noqa: E402
from config import TestingConfig  # noqa: E402
from tests.scratch_db import scratch_database  # noqa: E402

SIZES = (100, 1_000_000)
RUNS = 50
PAGE = 50
SPREAD = 1000
TARGET = 1.2
PASSWORD = "correct horse battery staple"
COLUMNS = ("public_id", "owner_id", "folder_id", "name", "search_name", "visible_to_everyone", "size",
           "content_type", "storage_key", "status", "created_at", "delete_attempts")


def arguments(description, runs=RUNS):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("database", nargs="?", default="sqlite://", help="a database URL (default: a new SQLite file)")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="file counts, the baseline first (default %(default)s)")
    parser.add_argument("--runs", type=int, default=runs, help="runs per figure, median taken (default %(default)s)")
    args = parser.parse_args()
    args.sizes = [int(size.replace("_", "")) for size in args.sizes.split(",")]
    if len(args.sizes) < 2 or min(args.sizes) < 1:
        parser.error("--sizes takes at least two counts, the baseline first")
    return args


def bench_app(url, folder):
    """A Locker app on the scratch database `url` names (see scratch_database)."""
    return create_app(type("Bench", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": url[0], "STORAGE_DIR": folder,
                                                       "SQLALCHEMY_ENGINE_OPTIONS": url[1]}))


def make_user(count, into=None, spread=0):
    """A user with `count` ready files: in their root folder, in one folder `into`, or spread over `spread`
    folders in it. Returns (user, the folder holding them, seconds the files took to insert)."""
    user = users.create_user(f"bench{uuid.uuid4().hex[:8]}", PASSWORD)
    holder = folders.root_folder(user.id)
    if into:
        holder = folders.create_folder(user, into)
    homes = [folders.create_folder(user, f"folder {n:04}", holder.public_id).id for n in range(spread)] or [holder.id]
    began = time.perf_counter()
    insert_files(user.id, homes, count)
    return user, holder, time.perf_counter() - began


def file_rows(owner_id, homes, count):
    """Rows for COLUMNS: names "file 000000.bin" on, newest first, half visible to everyone, round robin over homes."""
    width = max(6, len(str(count - 1)))
    start = utcnow()
    for i in range(count):
        name = f"file {i:0{width}}.bin"
        yield (uuid.uuid4().hex, owner_id, homes[i % len(homes)], name, search_key(name), i % 2 == 0,
               (i * 7919) % 10**9, "application/octet-stream", f"u/{owner_id}/{uuid.uuid4().hex}", FileStatus.READY,
               start - timedelta(seconds=i), 0)


def insert_files(owner_id, homes, count):
    """The rows in one transaction, through the driver rather than the ORM: COPY on PostgreSQL, executemany on
    SQLite (with the columns as SQLAlchemy stores them there). Every index and trigger stays in place."""
    db.session.commit()
    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        if db.engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY files ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in file_rows(owner_id, homes, count):
                    copy.write_row(row)
        else:
            # A page cache that holds the indexes being filled (1 GiB); put back to SQLite's default after.
            cursor.execute("PRAGMA cache_size = -1048576")
            stored = (row[:5] + (int(row[5]),) + row[6:10] + (row[10].strftime("%Y-%m-%d %H:%M:%S.%f"), row[11])
                      for row in file_rows(owner_id, homes, count))
            cursor.executemany(f"INSERT INTO files ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                               stored)
        connection.commit()
        if db.engine.dialect.name == "sqlite":
            cursor.execute("PRAGMA cache_size = -2000")
    finally:
        connection.close()


def settle():
    """On PostgreSQL, what autovacuum would have done by now on a real server: statistics for the planner and a
    visibility map (index-only scans). SQLite keeps none: Locker's queries do not rely on them there."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE files")
            connection.exec_driver_sql("VACUUM ANALYZE folders")


def medians_ms(actions, runs):
    """{name: median ms} of each action, the actions taking turns run after run."""
    timings = {name: [] for name in actions}
    for _ in range(runs):
        for name, action in actions.items():
            began = time.perf_counter()
            action()
            timings[name].append((time.perf_counter() - began) * 1000)
            if has_app_context():
                db.session.rollback()  # each call its own transaction, as each request's is
    return {name: statistics.median(values) for name, values in timings.items()}


def middle_cursor(user, sort, order, folder):
    """The cursor next_cursor would carry after the row halfway down the list (found once, by OFFSET)."""
    column = files.SORT_COLUMNS[sort]
    where = File.folder_id == folder.id if folder is not None else File.owner_id == user.id
    ordered = (column.asc(), File.id.asc()) if order == "asc" else (column.desc(), File.id.desc())
    count = db.session.execute(db.select(db.func.count()).select_from(File).filter(where)).scalar_one()
    row = db.session.execute(db.select(File).filter(where, File.status == FileStatus.READY)
                             .order_by(*ordered).offset(count // 2).limit(1)).scalar_one()
    return files.encode_cursor(sort, order, row, folder_id=folder.id if folder is not None else None)


def verdict(ratio):
    return "met" if ratio <= TARGET else f"missed by {ratio / TARGET - 1:.0%}"


def print_row(label, results, sizes, target=True):
    small, large = results[sizes[0]], results[sizes[-1]]
    cells = "".join(f"{results[size]:>10.2f}ms" for size in sizes)
    ratio = large / small
    print(f"{label:<44}{cells}{ratio:>8.2f}x  {verdict(ratio) if target else ''}")


def header(title, sizes, runs):
    print(f"\n{title}; median of {runs} alternating runs, {PAGE} rows a page")
    print(f"{'':<44}" + "".join(f"{size:>12,}" for size in sizes) + f"{'ratio':>9}  target <= {TARGET}x (first pages)")


def signed_in(app, username, token):
    """A test client signed in as `username` through the login form, and API headers with their `token`."""
    client = app.test_client()
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"csrf_token": csrf, "username": username, "password": PASSWORD})
    assert response.status_code == 302, response.status_code
    return client, {"Authorization": f"Bearer {token}"}


def get_ok(client, path, headers=None):
    response = client.get(path, headers=headers)
    assert response.status_code == 200, (path, response.status_code)


def main():
    args = arguments(__doc__.splitlines()[0])
    # Removed afterwards: at a million files the SQLite file is 1.6 GB.
    with tempfile.TemporaryDirectory() as folder, scratch_database(args.database, folder) as scratch:
        app = bench_app(scratch, folder)
        with app.app_context():
            upgrade()
            accounts = run(app, args.database, args.sizes, args.runs)
            db.session.remove()
        # Requests outside the bench's app context: each pushes its own, as under a server.
        end_to_end(app, args.sizes, args.runs, *accounts)
        with app.app_context():
            db.engine.dispose()


def run(app, url, sizes, runs):
    print(f"database: {url.split(':')[0]}; filling in bulk, every index and trigger in place")
    owners, spread = {}, {}
    for size in sizes:
        owners[size] = make_user(size)
        print(f"  one owner, {size:>9,} files: {owners[size][2]:7.1f} s ({size / owners[size][2]:,.0f} rows/s)")
        spread[size] = make_user(size, into="Spread", spread=SPREAD)
        print(f"  spread,    {size:>9,} files: {spread[size][2]:7.1f} s ({size / spread[size][2]:,.0f} rows/s)")
    began = time.perf_counter()
    settle()
    print(f"  settle (VACUUM ANALYZE on PostgreSQL): {time.perf_counter() - began:.1f} s")

    header("one owner, files in the root folder", sizes, runs)
    for sort, order in [(sort, order) for sort in files.SORT_COLUMNS for order in ("asc", "desc")]:
        for where in ("every folder", "root folder"):
            pick = {size: (owners[size][0], owners[size][1] if where == "root folder" else None) for size in sizes}
            middles = {size: middle_cursor(user, sort, order, home) for size, (user, home) in pick.items()}
            first = medians_ms({size: (lambda u=user, f=home: files.list_files(u, sort=sort, order=order, limit=PAGE,
                                                                              folder=f))
                                for size, (user, home) in pick.items()}, runs)
            deep = medians_ms({size: (lambda u=user, f=home, c=middles[size]: files.list_files(u, cursor=c, limit=PAGE,
                                                                                              folder=f))
                               for size, (user, home) in pick.items()}, runs)
            print_row(f"{sort} {order:<4} {where:<12} first page", first, sizes)
            print_row(f"{'':<22} middle page", deep, sizes, target=False)

    header(f"spread: the files in {SPREAD:,} folders inside Spread", sizes, runs)
    one_folder = {size: folders.subfolders(spread[size][1], limit=1)[0][0].folder for size in sizes}
    rows = {
        "every folder, date desc, first page":
            lambda size: files.list_files(spread[size][0], limit=PAGE),
        # At the baseline size the 1,000 folders hold a file or none, so the baseline is a folder of 100.
        "one of the folders, date desc, first page":
            lambda size: files.list_files(spread[size][0], limit=PAGE, folder=one_folder[size]) if size != sizes[0]
            else files.list_files(owners[size][0], limit=PAGE, folder=owners[size][1]),
        f"Spread's folder rows, first {folders.FOLDER_PAGE}":
            lambda size: folders.subfolders(spread[size][1]),
        "the root's folder row (Spread, all files)":
            lambda size: folders.subfolders(folders.root_folder(spread[size][0].id)),
    }
    for label, action in rows.items():
        print_row(label, medians_ms({size: (lambda s=size: action(s)) for size in sizes}, runs), sizes)

    def account(user):
        return user.username, tokens.create_token(user, "bench")[1]
    return ({size: account(owners[size][0]) for size in sizes}, {size: account(spread[size][0]) for size in sizes},
            {size: spread[size][1].public_id for size in sizes})


def end_to_end(app, sizes, runs, owners, spread, spread_folders):
    header("end to end (test client)", sizes, runs)
    clients = {size: signed_in(app, *owners[size]) for size in sizes}
    spread_clients = {size: signed_in(app, *spread[size]) for size in sizes}
    pages = {
        "GET /files (one owner's root)": lambda size: get_ok(clients[size][0], "/files"),
        "GET /files (spread: root)": lambda size: get_ok(spread_clients[size][0], "/files"),
        "GET /files?folder=Spread": lambda size: get_ok(spread_clients[size][0],
                                                        f"/files?folder={spread_folders[size]}"),
        "GET /api/v1/files (one owner)": lambda size: get_ok(clients[size][0], "/api/v1/files", clients[size][1]),
        "GET /api/v1/files?sort=name (one owner)": lambda size: get_ok(clients[size][0], "/api/v1/files?sort=name",
                                                                         clients[size][1]),
    }
    for label, action in pages.items():
        print_row(label, medians_ms({size: (lambda s=size: action(s)) for size in sizes}, max(runs // 2, 5)), sizes)


if __name__ == "__main__":
    main()
