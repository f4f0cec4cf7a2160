"""How long a name search takes at 100 files and at 100,000.

Run by hand: `.venv/bin/python bench/search.py [DATABASE_URL]` (a new SQLite file by default; on
PostgreSQL a throwaway schema). Each size is one user's files, half of them visible to everyone
(bench/listing.py makes them), searched with scope "all" (yours and everyone's) for the first page of
50 newest first. Prints the median time and the ratio of 100,000 files to 100: a search the index
narrows to a few names stays near 1; one that matches every name must sort every match.
"""
import sys
import tempfile

from listing import SIZES, make_user, median_ms

from app import create_app
from app.extensions import db
from app.services import files
from config import TestingConfig
from tests.scratch_db import scratch_database

RUNS = 50
# (what it shows, query): names are "file 000000.bin" to "file 099999.bin".
QUERIES = [("substring, a few matches", "00042"), ("substring, no match", "report"),
           ("prefix (2 chars), no match", "zz"), ("substring, every name", "file"), ("prefix, every name", "fi")]


def main():
    url = sys.argv[1] if len(sys.argv) > 1 else "sqlite://"
    # Each size in a database of its own: with scope "all", one user's search also reads
    # every file the others made visible.
    results = {count: measure(url, count) for count in SIZES}
    print(f"database: {url.split(':')[0]}; median of {RUNS} runs, first page of 50, scope all")
    print(f"{'query':<34}{'matches':>9}{SIZES[0]:>10,}{SIZES[1]:>10,}{'ratio':>8}")
    for label, q in QUERIES:
        small, (large, matches) = results[SIZES[0]][q][0], results[SIZES[1]][q]
        shown = f"{matches:,}" if matches < 1000 else "≥1,000"
        print(f"{label + ' ' + repr(q):<34}{shown:>9}{small:>8.2f}ms{large:>8.2f}ms{large / small:>7.1f}x")


def measure(url, count):
    """{query: (median ms, matches)} on a fresh database holding one user's `count` files."""
    from flask_migrate import upgrade

    folder = tempfile.mkdtemp()
    with scratch_database(url, folder) as (scratch_url, options):
        config = type("Bench", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": scratch_url, "STORAGE_DIR": folder,
                                                   "SQLALCHEMY_ENGINE_OPTIONS": options})
        with create_app(config).app_context():
            upgrade()
            user = make_user(count)
            if scratch_url.startswith("postgresql"):
                # As autovacuum would have by now on a real server: statistics the planner can use.
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                    connection.exec_driver_sql("VACUUM ANALYZE files")
            results = {q: (median_ms(lambda: files.list_files(user, q=q, limit=50), RUNS),
                           len(files.list_files(user, q=q, limit=1000).items)) for _, q in QUERIES}
            db.session.remove()
            db.engine.dispose()
    return results


if __name__ == "__main__":
    main()
