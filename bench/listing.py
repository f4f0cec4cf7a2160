"""How long the first page of the file list takes at 100 files and at 100,000, and inside folders.

Run by hand: `.venv/bin/python bench/listing.py [DATABASE_URL]` (a new SQLite file by
default; on PostgreSQL a throwaway schema). Prints the median time of the first page and of a deep page for
each sort, and the ratio of 100,000 files to 100: keyset pagination keeps it near 1. Then the same for a
folder of 100 files, a folder of 100,000, and one of 1,000 folders holding 100,000 files between them
(its first page of files, and its folder rows with their file counts and sizes).
"""
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import File, FileStatus, User, search_key, utcnow  # noqa: E402
from app.services import files, folders  # noqa: E402
from config import TestingConfig  # noqa: E402
from tests.scratch_db import scratch_database  # noqa: E402

SIZES = (100, 100_000)
RUNS = 200
DEEP_PAGE = 21
FOLDER_ROWS = 50


def make_user(count, into=None, spread=0):
    """A user with `count` files: in their root folder, in one folder `into`, or spread over `spread` folders
    in it. Returns (user, the folder holding them)."""
    user = User(username=f"bench{uuid.uuid4().hex[:8]}", password_hash="x")
    db.session.add(user)
    db.session.commit()
    holder = folders.root_folder(user.id)
    if into:
        holder = folders.create_folder(user, into)
    homes = [folders.create_folder(user, f"folder {n:04}", holder.public_id).id for n in range(spread)] or [holder.id]
    start = utcnow()
    rows = [{"public_id": uuid.uuid4().hex, "owner_id": user.id, "folder_id": homes[i % len(homes)],
             "name": f"file {i:06}.bin",
             "search_name": search_key(f"file {i:06}.bin"), "visible_to_everyone": i % 2 == 0, "size": (i * 7919) % 10**9,
             "content_type": "application/octet-stream", "storage_key": f"u/{user.id}/{uuid.uuid4().hex}",
             "status": FileStatus.READY, "created_at": start - timedelta(seconds=i)} for i in range(count)]
    for chunk in range(0, count, 10_000):
        db.session.execute(db.insert(File), rows[chunk:chunk + 10_000])
    db.session.commit()
    return user, holder


def median_ms(action, runs=RUNS):
    timings = []
    for _ in range(runs):
        began = time.perf_counter()
        action()
        timings.append((time.perf_counter() - began) * 1000)
    return statistics.median(timings)


def measure(user, sort, folder=None):
    cursor = files.list_files(user, sort=sort, limit=50, folder=folder).next_cursor
    for _ in range(DEEP_PAGE - 2):  # walk in as far as the list goes: later pages cost the same
        page = files.list_files(user, cursor=cursor, limit=50, folder=folder)
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    return (median_ms(lambda: files.list_files(user, sort=sort, limit=50, folder=folder)),
            median_ms(lambda: files.list_files(user, cursor=cursor, limit=50, folder=folder) if cursor else None))


def main():
    folder = tempfile.mkdtemp()
    with scratch_database(sys.argv[1] if len(sys.argv) > 1 else "sqlite://", folder) as (url, options):
        config = type("Bench", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": url, "STORAGE_DIR": folder,
                                                   "SQLALCHEMY_ENGINE_OPTIONS": options})
        run(create_app(config), url)


def run(app, url):
    with app.app_context():
        upgrade()
        users = {count: make_user(count)[0] for count in SIZES}
        print(f"database: {url.split(':')[0]}; median of {RUNS} runs, 50 rows a page")
        print(f"{'sort':<6}{'files':>9}{'first page':>13}{'deep page':>12}  (page {DEEP_PAGE}, or the last)")
        for sort in ("date", "name", "size"):
            results = {count: measure(users[count], sort) for count in SIZES}
            for count, (first, deep) in results.items():
                print(f"{sort:<6}{count:>9,}{first:>11.2f}ms{deep:>10.2f}ms")
            small, large = results[SIZES[0]], results[SIZES[1]]
            print(f"{'':<6}{'ratio':>9}{large[0] / small[0]:>12.2f}x{large[1] / small[1]:>11.2f}x")
        run_folders()
        db.session.remove()
        db.engine.dispose()


def run_folders():
    layouts = {"a folder of 100": make_user(100, into="Small"), "a folder of 100,000": make_user(100_000, into="Big"),
               "1,000 folders": make_user(100_000, into="Spread", spread=1000)}
    print(f"\ninside folders; median of {RUNS} runs, 50 rows a page")
    print(f"{'sort':<6}{'layout':>22}{'first page':>13}")
    for sort in ("date", "name", "size"):
        results = {name: measure(user, sort, folder)[0] for name, (user, folder) in layouts.items()}
        for name, first in results.items():
            print(f"{sort:<6}{name:>22}{first:>11.2f}ms")
        small = results["a folder of 100"]
        print(f"{'':<6}{'ratio to 100':>22}{results['a folder of 100,000'] / small:>12.2f}x (one folder), "
              f"{results['1,000 folders'] / small:.2f}x (its files, under 1,000 folders)")
    user, spread = layouts["1,000 folders"]
    print(f"folder rows of the 1,000 folders (counts and sizes, first {FOLDER_ROWS}): "
          f"{median_ms(lambda: folders.subfolders(spread, limit=FOLDER_ROWS), runs=20):.2f}ms; all 1,000: "
          f"{median_ms(lambda: folders.subfolders(spread, limit=1000), runs=5):.2f}ms")


if __name__ == "__main__":
    main()
