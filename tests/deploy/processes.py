"""Locker as it runs on hosts: real processes on free loopback ports, for the multi-instance and deployment tests.

Each process runs in a session of its own (so stopping it stops its children: gunicorn's workers,
nginx's), writes its output to a log in the test's folder, and is stopped by its fixture.
App instances run the Makefile's own gunicorn command, after `flask --app wsgi db upgrade`, on a
PostgreSQL database and a Redis database that the fixtures make for them and remove afterwards.
"""
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urljoin

import redis
import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_SERVER = "redis://127.0.0.1:6379"


def free_port():
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def wait_for(condition, what, timeout=90, process=None):
    """Poll condition() until it is true; fail with `what` (and the process's log) if it never is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and not process.running():
            raise RuntimeError(f"{process.name} exited while waiting for {what}:\n{process.log_tail()}")
        if condition():
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}"
                       + (f":\n{process.log_tail()}" if process is not None else ""))


def stop_group(process, grace=30):
    """SIGTERM to the process's whole group, SIGKILL if it has not ended after `grace` seconds."""
    if process is None or process.poll() is not None:
        return
    for number, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, number)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


class Process:
    """One command in a process group of its own, its output in folder/NAME.log."""

    def __init__(self, name, folder):
        self.name, self.log_path, self.process = name, Path(folder) / f"{name}.log", None

    def launch(self, command, env=None):
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)

    def running(self):
        return self.process is not None and self.process.poll() is None

    def stop(self, grace=30):
        stop_group(self.process, grace)

    def log_tail(self, size=4000):
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except OSError:
            return "(no log)"


def gunicorn_command(host, port):
    """The GUNICORN command line the Makefile runs, read from the Makefile itself so the two never drift."""
    printed = subprocess.run(
        ["make", "-s", "--no-print-directory", "--eval", "print-gunicorn: ; $(info $(GUNICORN))",
         "print-gunicorn", f"HOST={host}", f"PORT={port}"],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return shlex.split(printed)


def flask(env, *args, timeout=300, check=True):
    """`flask --app wsgi ARGS` as an operator runs it on a host with `env`; the finished process."""
    done = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and done.returncode != 0:
        raise AssertionError(f"flask {' '.join(args)} exited with {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


class LockerInstance(Process):
    """One Locker app server: gunicorn as `make run` starts it, on a free port, with `env` as its environment."""

    def __init__(self, name, folder, env):
        super().__init__(name, folder)
        self.env = env
        self.url = None

    def start(self, timeout=90):
        port = free_port()
        self.url = f"http://{HOST}:{port}"
        self.launch(gunicorn_command(HOST, port), env=self.env)
        wait_for(self.answers, f"{self.name} at {self.url}/healthz", timeout, process=self)
        return self

    def answers(self):
        try:
            return requests.get(f"{self.url}/healthz", timeout=5).status_code == 200
        except requests.RequestException:
            return False


# Settings a developer's shell may hold that would point an instance elsewhere.
UNINHERITED = {"TEST_DATABASE_URL", "S3_BUCKET", "S3_ENDPOINT_URL", "S3_PUBLIC_ENDPOINT_URL", "PUBLIC_URL",
               "MAIL_SERVER", "OIDC_ISSUER", "OIDC_CLIENT_ID"}


def instance_environment(database_url, redis_url, folder, **settings):
    """The environment every instance of one deployment shares: database, Redis, secret key and storage."""
    inherited = {name: value for name, value in os.environ.items() if name not in UNINHERITED}
    return {**inherited, "LOCKER_ENV": "development", "DATABASE_URL": database_url, "REDIS_URL": redis_url,
            "SECRET_KEY": secrets.token_urlsafe(48), "STORAGE_BACKEND": "local",
            "STORAGE_DIR": str(Path(folder) / "storage"), **settings}


@contextmanager
def locker_instances(count, folder, env):
    """`count` Locker servers on one database (migrated first, as a deploy does); stopped afterwards."""
    flask(env, "db", "upgrade")
    started = []
    try:
        for number in range(count):
            started.append(LockerInstance(f"locker-{'ABCDEFGH'[number]}", folder, env).start())
        yield started
    finally:
        for instance in started:
            instance.stop()


CLAIM_KEY = "locker-tests:claimed-by"


@contextmanager
def redis_database():
    """A Redis database number nobody else uses on the machine's Redis, as redis://…/N; emptied afterwards.

    A database is taken only when it is empty, by writing a claim into it first (SET NX), so two
    runs at the same time never share one."""
    claim = secrets.token_hex(8)
    for number in range(1, 16):  # 0 is the other tests' (and a default install's)
        url = f"{REDIS_SERVER}/{number}"
        connection = redis.Redis.from_url(url)
        if connection.set(CLAIM_KEY, claim, nx=True, ex=3600):
            if connection.dbsize() == 1:
                break
            connection.delete(CLAIM_KEY)  # someone's data without a claim: leave it be
        connection.close()
    else:
        raise RuntimeError(f"no empty Redis database left on {REDIS_SERVER}")
    try:
        yield url
    finally:
        if connection.get(CLAIM_KEY) == claim.encode():
            connection.flushdb()
        connection.close()


class HttpClient:
    """A requests session in the shape of Flask's test client (open/get/post, get_json, get_data), so the
    API flows of tests/helpers run against a server over the network."""

    def __init__(self, base_url, session=None):
        self.base_url, self.session = base_url, session or requests.Session()

    def open(self, url, method="GET", headers=None, data=None, json=None, follow_redirects=False):
        response = self.session.request(method, urljoin(self.base_url, url), headers=headers, data=data, json=json,
                                        allow_redirects=follow_redirects, timeout=60)
        response.get_json = lambda: response.json() if "json" in response.headers.get("Content-Type", "") else None
        response.get_data = lambda as_text=False: response.text if as_text else response.content
        return response

    def get(self, url, **options):
        return self.open(url, "GET", **options)

    def post(self, url, **options):
        return self.open(url, "POST", **options)

    def delete(self, url, **options):
        return self.open(url, "DELETE", **options)
