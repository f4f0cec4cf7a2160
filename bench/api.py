"""Requests per second and latency of the API's hot path, against bare Flask under the same gunicorn.

Run by hand: `make bench-api` (or `.venv/bin/python bench/api.py [--runs N] [--duration S]
[--databases sqlite,postgres] [--postgres URL]`). Needs wrk (Debian's package; `make bench-api`
installs it).

For each database (a new SQLite file; a new, throwaway PostgreSQL database) it starts Locker under
gunicorn exactly as `make run` does (the Makefile's own command line: gunicorn.conf.py, one gthread
worker, 16 threads) on local storage, with one user, an API token and FILES files, and beside it
bench/bare_flask.py (`{"ok": true}`) under the same command line. wrk drives each endpoint with the
token (`wrk -t2 -c16 -d10s --latency`, as issue #15 measured), a Locker run and a bare run in turn,
RUNS times; the figures are the medians, and the ratio is the median of each Locker run's req/s over
the bare run beside it, so a busy moment on the machine weighs on both sides of a ratio alike.
"""
import argparse
from importlib.metadata import version
import os
import platform
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.processes import stop_process_group  # noqa: E402
from tests.conftest import make_config  # noqa: E402
from tests.live_support import HOST, Gunicorn  # noqa: E402
from tests.scratch_db import scratch_postgres_database  # noqa: E402

FILES = 200
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WRK_THREADS, WRK_CONNECTIONS = 2, 16
# (name, path, expected status, target ratio to bare Flask). {file} is one of the user's files.
ENDPOINTS = [
    ("download redirect", "/api/v1/files/{file}/download", 302, 0.5),
    ("list 50 files", "/api/v1/files?limit=50", 200, 0.35),
    ("me", "/api/v1/me", 200, 0.6),
]
P99_TARGET_MS = 50
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


class BareFlask:
    """bench/bare_flask.py under the command line `make run` gives gunicorn, on a free port."""

    def __init__(self, folder):
        self.folder = folder
        self.process = None
        self.url = None

    def start(self, timeout=60):
        port = free_port()
        command = Gunicorn.command(port)
        assert command[-1] == "wsgi:app", command
        log = (self.folder / "bare.log").open("wb")
        self.process = subprocess.Popen(command[:-1] + ["bench.bare_flask:app"], cwd=ROOT, stdout=log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.url = f"http://{HOST}:{port}"
        wait_until_answering(self.url + "/", self.process, timeout)

    def stop(self):
        if self.process is not None:
            stop_process_group(self.process)


def free_port():
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def wait_until_answering(url, process, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def wrk(url, seconds, token=None):
    """One wrk run: (req/s, p50 ms, p99 ms, responses that were errors or not 2xx/3xx)."""
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s", "--latency"]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50, p99 = (latency_ms(output, percent) for percent in ("50", "99"))
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", output))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    bad += sum(int(n) for n in errors.groups()) if errors else 0
    return rate, p50, p99, bad


def latency_ms(output, percent):
    value, unit = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M).groups()
    return float(value) * UNITS_MS[unit]


def check_answers(url, token, status):
    response = requests.get(url, headers={"Authorization": f"Bearer {token}"}, allow_redirects=False, timeout=30)
    assert response.status_code == status, f"{url}: {response.status_code} {response.text[:300]}"


def measure(database_name, locker, bare, token, file_id, runs, seconds):
    """Rows of the table for one database: each endpoint, a Locker run and a bare run in turn."""
    rows = []
    for name, path, status, target in ENDPOINTS:
        url = locker.url + path.format(file=file_id)
        check_answers(url, token, status)
        wrk(url, 2, token)  # warm up: connections, caches, the worker's first requests
        wrk(bare.url + "/", 2)
        locker_runs, bare_runs = [], []
        for _ in range(runs):
            locker_runs.append(wrk(url, seconds, token))
            bare_runs.append(wrk(bare.url + "/", seconds))
        ratio = statistics.median(mine[0] / base[0] for mine, base in zip(locker_runs, bare_runs))
        rows.append({"endpoint": name, "database": database_name, "target": target, "ratio": ratio,
                     "rate": statistics.median(run[0] for run in locker_runs),
                     "p50": statistics.median(run[1] for run in locker_runs),
                     "p99": statistics.median(run[2] for run in locker_runs),
                     "bare_rate": statistics.median(run[0] for run in bare_runs),
                     "bare_p99": statistics.median(run[2] for run in bare_runs),
                     "bad": sum(run[3] for run in locker_runs + bare_runs)})
        print_row(rows[-1], flush=True)
    return rows


HEADER = (f"{'endpoint':<18} {'database':<10} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'bare req/s':>10} "
          f"{'bare p99':>8} {'ratio':>6} {'target':>13} {'met?':>6}")


def print_row(row, flush=False):
    met = row["ratio"] >= row["target"] and row["p99"] < P99_TARGET_MS and not row["bad"]
    target = f">={row['target']:.2f}x,<{P99_TARGET_MS}ms"
    line = (f"{row['endpoint']:<18} {row['database']:<10} {row['rate']:7.0f} {row['p50']:7.2f} {row['p99']:7.2f} "
            f"{row['bare_rate']:10.0f} {row['bare_p99']:8.2f} {row['ratio']:5.2f}x {target:>13} "
            f"{'met' if met else 'MISSED':>6}")
    if row["bad"]:
        line += f"  ({row['bad']} errors or unexpected statuses)"
    print(line, flush=flush)


def serve(stack, database_name, folder, postgres_url):
    """Start Locker on the database and bare Flask beside it; both are stopped when `stack` closes."""
    url = None
    if database_name == "postgres":
        url = stack.enter_context(scratch_postgres_database(postgres_url))
    locker = Gunicorn(folder, make_config, database=url)
    token, file_ids = locker.ready_files(FILES)
    stack.callback(locker.stop)
    locker.start()
    bare = BareFlask(folder)
    stack.callback(bare.stop)
    bare.start()
    return locker, bare, token, file_ids[0]


def conditions(args):
    gunicorn = " ".join(Gunicorn.command(0)[1:]).replace("--bind 127.0.0.1:0 ", "")
    lines = [f"{os.cpu_count()} cores shared by wrk, gunicorn and whatever else runs on the machine "
             f"(load average {' '.join(f'{n:.1f}' for n in os.getloadavg())} at the end)",
             f"gunicorn {version('gunicorn')}: {gunicorn}",
             f"Python {platform.python_version()}, Flask {version('flask')}, SQLite {sqlite3.sqlite_version}",
             f"wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{args.duration}s --latency, with the bearer token; "
             f"{args.runs} runs of each endpoint, alternating with bare Flask; medians",
             f"{FILES} files of one user, local storage; ratio: median over runs of Locker req/s / bare req/s",
             f"target: ratio at least the endpoint's, and p99 under {P99_TARGET_MS} ms"]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--postgres", default=os.environ.get("TEST_POSTGRES_URL", POSTGRES_URL))
    args = parser.parse_args()
    rows = []
    print(HEADER, flush=True)
    for database_name in args.databases.split(","):
        with tempfile.TemporaryDirectory() as temporary, ExitStack() as stack:
            locker, bare, token, file_id = serve(stack, database_name, Path(temporary), args.postgres)
            rows += measure(database_name, locker, bare, token, file_id, args.runs, args.duration)
    print()
    print(HEADER)
    for row in rows:
        print_row(row)
    print()
    print(conditions(args))


if __name__ == "__main__":
    main()
