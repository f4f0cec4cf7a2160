"""How long a name search takes at 100 files and at a million.

Run by hand: `.venv/bin/python bench/search.py [DATABASE_URL] [--sizes 100,1000000] [--runs 50]` (a new SQLite
file by default; on PostgreSQL a throwaway schema; `--sizes 100,10000` for a quick run). Each size is one
user's files in a database of its own, half of them visible to everyone, filled in bulk as bench/listing.py
does, and searched for the first page of 50 newest first: with scope "all" (yours and everyone's, the API's
default and the files page with "All folders" ticked) and in the root folder (the files page's default).
Prints the median time and the ratio of the largest size to the baseline. Target: a search that matches a few
names under 20 ms; one that matches every name must sort every match.
"""
import tempfile

from listing import arguments, bench_app, make_user, medians_ms, settle

from app.extensions import db
from app.services import files
from tests.scratch_db import scratch_database

RUNS = 50
TARGET_MS = 20
# (what it shows, query, whether it matches a few names). Names run "file 000000.bin" to "file 999999.bin".
QUERIES = [("substring, a few matches", "00042", True), ("substring, one match", "123456.bin", True),
           ("substring, no match", "report", True), ("prefix (2 chars), no match", "zz", True),
           ("substring, every name", "file", False), ("prefix, every name", "fi", False)]
SCOPES = {"all": {"scope": "all"}, "root folder": {"folder": "root"}}


def main():
    args = arguments(__doc__.splitlines()[0], RUNS)
    # Each size in a database of its own: with scope "all", one user's search also reads
    # every file the others made visible.
    results = {count: measure(args.database, count, args.runs) for count in args.sizes}
    small, large = args.sizes[0], args.sizes[-1]
    print(f"database: {args.database.split(':')[0]}; median of {args.runs} runs, first page of 50, newest first")
    for count in args.sizes:
        print(f"  {count:>9,} files filled in {results[count]['fill']:.1f} s")
    print(f"{'query':<40}{'scope':<13}{'matches':>9}" + "".join(f"{size:>12,}" for size in args.sizes)
          + f"{'ratio':>8}  target < {TARGET_MS} ms (a few matches)")
    for label, q, few in QUERIES:
        for scope in SCOPES:
            matches = results[large][(q, scope)][1]
            shown = f"{matches:,}" if matches < 1000 else "≥1,000"
            cells = "".join(f"{results[size][(q, scope)][0]:>10.2f}ms" for size in args.sizes)
            time = results[large][(q, scope)][0]
            verdict = ("met" if time < TARGET_MS else f"missed by {time - TARGET_MS:.1f} ms") if few else ""
            print(f"{label + ' ' + repr(q):<40}{scope:<13}{shown:>9}{cells}"
                  f"{time / results[small][(q, scope)][0]:>7.1f}x  {verdict}")


def measure(url, count, runs):
    """{(query, scope): (median ms, matches)} and "fill": seconds, on a fresh database of one user's files."""
    from flask_migrate import upgrade

    with tempfile.TemporaryDirectory() as folder, scratch_database(url, folder) as scratch:
        with bench_app(scratch, folder).app_context():
            upgrade()
            user, root, fill = make_user(count)
            settle()
            results = {"fill": fill}
            for _, q, _ in QUERIES:
                for scope, options in SCOPES.items():
                    options = {**options, "folder": root} if "folder" in options else options
                    timing = medians_ms({0: lambda: files.list_files(user, q=q, limit=50, **options)}, runs)[0]
                    results[(q, scope)] = (timing, len(files.list_files(user, q=q, limit=1000, **options).items))
            db.session.remove()
            db.engine.dispose()
    return results


if __name__ == "__main__":
    main()
