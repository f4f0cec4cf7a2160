"""Real processes for the deployment tests: started on free loopback ports, each in a process group of
its own (so stopping it stops its children), with its output in a log file shown when it fails.

Several app instances (LockerInstance, locker_instances) share a PostgreSQL database and a Redis
database (redis_database) that the fixtures make for them and remove afterwards.
"""
import os
import secrets
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urljoin

import redis
import requests
from flask_migrate import upgrade

from app import create_app
from app.extensions import db
from app.services import users
from tests.conftest import make_config
from scripts.processes import stop_process_group
from tests.live_support import Gunicorn

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_SERVER = "redis://127.0.0.1:6379"


def free_ports(count, excluding=()):
    """`count` different free loopback ports, none of `excluding` (chosen earlier, not bound yet): each
    probe socket stays open until all are chosen, so the system cannot hand one out twice. Another
    process may still take one before it is used: see PortTaken."""
    probes, chosen = [], []
    try:
        while len(chosen) < count:
            probes.append(socket.socket())
            probes[-1].bind((HOST, 0))
            port = probes[-1].getsockname()[1]
            if port not in excluding:
                chosen.append(port)
        return chosen
    finally:
        for probe in probes:
            probe.close()


def free_port(excluding=()):
    return free_ports(1, excluding)[0]


class PortTaken(AssertionError):
    """A process exited because the port chosen for it was taken between choosing and binding."""


def production_env(folder, public_url, **settings):
    """LOCKER_ENV=production on SQLite and local storage in `folder`, every other setting from scratch."""
    kept = {name: value for name, value in os.environ.items()
            if not name.startswith(("S3_", "LOCKER_", "GUNICORN_", "MAIL_", "OIDC_")) and name not in
            ("DATABASE_URL", "REDIS_URL", "PUBLIC_URL", "SECRET_KEY", "REGISTRATION", "TRUST_PROXY",
             "SECURE_COOKIES", "STORAGE_BACKEND", "STORAGE_DIR", "ALLOW_SQLITE")}
    return {**kept, "LOCKER_ENV": "production", "SECRET_KEY": secrets.token_urlsafe(48), "PUBLIC_URL": public_url,
            "DATABASE_URL": f"sqlite:///{folder / 'locker.db'}", "ALLOW_SQLITE": "1",
            "STORAGE_BACKEND": "local", "STORAGE_DIR": str(folder / "storage"), **settings}


def migrate_with_user(env, username, password):
    """What `flask db upgrade` and `flask locker create-user` do to env's database, done in this process
    (a `flask` process costs seconds of start-up on a busy machine)."""
    app = create_app(make_config(env["DATABASE_URL"], {}, env["STORAGE_DIR"]))
    with app.app_context():
        upgrade()
        users.create_user(username, password)
        db.engine.dispose()


def flask(env, *arguments, timeout=300):
    """Run `flask --app wsgi …` as an operator does on a host; fail with its output if it fails."""
    done = subprocess.run([BIN / "flask", "--app", "wsgi", *arguments], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


class Process:
    def __init__(self, name, argv, folder, env=None):
        self.name = name
        self.log_path = folder / f"{name}.log"
        with self.log_path.open("wb") as log:
            self.popen = subprocess.Popen([str(part) for part in argv], cwd=ROOT, env=env, stdout=log,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          start_new_session=True)

    def log(self):
        return self.log_path.read_text(errors="replace")

    def wait_until(self, condition, what, timeout=90):
        """Poll `condition` (exceptions count as not yet) until it is true, the process exits, or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                failure = PortTaken if "Address already in use" in self.log() else AssertionError
                raise failure(f"{self.name} exited with {self.popen.returncode} before {what}:\n{self.log()}")
            try:
                if condition():
                    return
            except (OSError, requests.RequestException):
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name}: no {what} within {timeout} s:\n{self.log()}")

    def wait_for_health(self, url, **kwargs):
        self.wait_until(lambda: requests.get(f"{url}/healthz", timeout=5, **kwargs).status_code == 200,
                        f"healthy answer at {url}")

    def stop(self):
        stop_process_group(self.popen)


def gunicorn(folder, env, port, name="gunicorn"):
    """Locker under gunicorn with the production settings file, as deploy/systemd/locker.service runs it."""
    return Process(name, [BIN / "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"], folder,
                   {**env, "GUNICORN_BIND": f"{HOST}:{port}"})


def healthy_gunicorns(folder, env, names, excluding=(), attempts=3):
    """One gunicorn per name, each on a free port (none of `excluding`) and answering; one whose port
    another process took meanwhile is started again on another. ([Process], [port])."""
    ports = free_ports(len(names), excluding)
    servers = [gunicorn(folder, env, port, name) for port, name in zip(ports, names)]
    try:
        for index, name in enumerate(names):
            for attempt in range(attempts):
                try:
                    servers[index].wait_for_health(f"http://{HOST}:{ports[index]}")
                    break
                except PortTaken:
                    servers[index].stop()
                    if attempt == attempts - 1:
                        raise
                    ports[index] = free_port({*excluding, *ports})
                    servers[index] = gunicorn(folder, env, ports[index], name)
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers, ports


def upload_and_download(client, url, name, data):
    """Upload `data` through the API (a presigned PUT), then fetch it back through its download redirect.

    `client` is a requests.Session carrying the user's token; returns (file id, signed download URL, bytes).
    """
    started = client.post(f"{url}/api/v1/uploads", timeout=30, json={
        "name": name, "size": len(data), "content_type": "application/octet-stream"})
    assert started.status_code == 201, started.text
    body = started.json()
    put = requests.request(body["method"], body["url"], headers=body["headers"], data=data, timeout=120,
                           verify=client.verify)
    assert put.status_code == 200, put.text
    completed = client.post(f"{url}/api/v1/uploads/{body['id']}/complete", timeout=60)
    assert completed.status_code == 200, completed.text
    file_id = completed.json()["id"]
    redirect = client.get(f"{url}/api/v1/files/{file_id}/download", allow_redirects=False, timeout=30)
    assert redirect.status_code == 302, redirect.text
    signed = redirect.headers["Location"]
    return file_id, signed, requests.get(signed, verify=client.verify, timeout=120).content


def api_session(url, username, password, verify=True):
    """A requests.Session signed in to the API as `username` (environment CA settings ignored)."""
    client = requests.Session()
    client.verify, client.trust_env = verify, False  # REQUESTS_CA_BUNDLE would override verify
    token = client.post(f"{url}/api/v1/auth/token", json={"username": username, "password": password}, timeout=30)
    assert token.status_code in (200, 201), token.text
    client.headers["Authorization"] = f"Bearer {token.json()['token']}"
    return client


class LockerInstance:
    """One Locker app server as `make run` starts it (the Makefile's gunicorn command) on a free port."""

    def __init__(self, name, folder, env):
        self.name, self.folder, self.env = name, Path(folder), env
        self.process = self.url = None

    def start(self):
        port = free_port()
        self.url = f"http://{HOST}:{port}"
        self.process = Process(self.name, Gunicorn.command(port), self.folder, self.env)
        self.process.wait_for_health(self.url)
        return self

    def stop(self):
        if self.process is not None:
            self.process.stop()


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
