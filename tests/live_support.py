"""Locker and moto's S3 on real loopback sockets, for the client, CLI and browser tests.

A module imports the fixtures it uses; `live` finds moto_server by name, so import that too.
"""
import os
import shlex
import socket
import subprocess
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from flask_migrate import upgrade
from moto.moto_server import werkzeug_app
from moto.server import ThreadedMotoServer
from werkzeug.serving import WSGIRequestHandler, make_server

from app import create_app
from app.extensions import db
from app.models import File, FileStatus, search_key, utcnow
from app.services import folders, tokens, users
from scripts.processes import stop_process_group
from tests.conftest import MULTIPART_SETTINGS, PASSWORD
from tests.helpers import write_directly

HOST = "127.0.0.1"


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # one line per request would drown failures
        pass


class LiveServer:
    """Locker on a real socket in a background thread.

    The socket is bound first (port 0, so no free-port race) and the app is
    plugged in afterwards, because the app's config needs this address.
    """

    def __init__(self) -> None:
        self.app = None
        self.server = make_server(HOST, 0, self.dispatch, threaded=True, request_handler=QuietHandler)
        self.url = f"http://{HOST}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def dispatch(self, environ, start_response):
        return self.app(environ, start_response)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


class Live:
    """A running Locker: its URL, app, backend name, and helpers to make users and tokens."""

    def __init__(self, url: str, app, backend: str) -> None:
        self.url, self.app, self.backend = url, app, backend

    def user(self, username: str | None = None, expired: bool = False):
        """A new user and an API token for them (one that expired a minute ago, if asked): (username, token)."""
        username = username or f"cli{uuid.uuid4().hex[:10]}"
        with self.app.app_context():
            user = users.create_user(username, PASSWORD)
            token, secret = tokens.create_token(user, "tests")
            if expired:
                token.expires_at = utcnow() - timedelta(minutes=1)
                db.session.commit()
        return username, secret

    def storage_key(self, file_id: str) -> str:
        with self.app.app_context():
            return db.session.execute(db.select(File.storage_key).filter_by(public_id=file_id)).scalar_one()

    def tamper(self, file_id: str, data: bytes) -> None:
        """Replace a stored file's bytes behind Locker's back (same length, other content)."""
        with self.app.app_context():
            write_directly(self.app, self.storage_key(file_id), data)


def start_live(request, make_app, backend: str, middleware=None, **overrides) -> Live:
    server = LiveServer()
    settings = {"STORAGE_BACKEND": "local", "PUBLIC_URL": server.url, **MULTIPART_SETTINGS}
    if backend == "s3":
        settings.update(STORAGE_BACKEND="s3", S3_BUCKET=f"locker-client-{uuid.uuid4().hex[:12]}",
                        S3_ENDPOINT_URL=request.getfixturevalue("moto_server"), SETUP_STORAGE=True)
    settings.update(overrides)
    app = make_app(**settings)
    server.app = middleware(app) if middleware else app
    server.start()
    request.addfinalizer(server.stop)
    return Live(server.url, app, backend)


@pytest.fixture(scope="module")
def moto_server():
    """moto's S3 over HTTP on loopback, shared by a module's tests (each uses its own bucket)."""
    # With moto's global CORS layer every preflight passes and CORS bugs go unseen.
    assert werkzeug_app.DISABLE_GLOBAL_CORS, "set MOTO_DISABLE_GLOBAL_CORS=true before moto is imported"
    server = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(params=["local", "s3"])
def live(request, make_app) -> Live:
    """Locker on each storage backend, served on 127.0.0.1."""
    return start_live(request, make_app, request.param)


@pytest.fixture
def local_live(request, make_app) -> Live:
    return start_live(request, make_app, "local")


class Gunicorn:
    """Locker as `make run` serves it: gunicorn with the Makefile's own flags, on a free port.

    The server's database (SQLite in `folder`, as `make run` uses, unless `database` names another,
    e.g. a scratch PostgreSQL database) and storage live apart from the test's database; `app` is an
    in-process app on the same database and folder, to make users and tokens before the server takes
    requests.
    """

    ROOT = Path(__file__).resolve().parent.parent

    def __init__(self, folder: Path, make_config, workers: int = 1, database: str | None = None, **settings) -> None:
        self.folder = folder
        self.workers = workers
        database = database or f"sqlite:///{folder / 'locker.db'}"
        self.env = {**os.environ, "LOCKER_ENV": "development", "DATABASE_URL": database,
                    "STORAGE_BACKEND": "local", "STORAGE_DIR": str(folder / "storage"),
                    "SECRET_KEY": uuid.uuid4().hex, "PUBLIC_URL": "", "S3_BUCKET": "", "REDIS_URL": "",
                    **settings}
        self.app = create_app(make_config(database, {}, folder / "storage"))
        with self.app.app_context():
            upgrade()
            db.engine.dispose()
        self.process = None
        self.url = None

    @classmethod
    def command(cls, port: int, workers: int = 1) -> list[str]:
        """The GUNICORN command line the Makefile runs, read from the Makefile itself so the two never drift."""
        printed = subprocess.run(
            ["make", "-s", "--no-print-directory", "--eval", "print-gunicorn: ; $(info $(GUNICORN))",
             "print-gunicorn", f"HOST={HOST}", f"PORT={port}", f"WORKERS={workers}"],
            cwd=cls.ROOT, capture_output=True, text=True, check=True).stdout
        return shlex.split(printed)

    def start(self, timeout: float = 60) -> None:
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            port = probe.getsockname()[1]
        log = (self.folder / "gunicorn.log").open("wb")
        # A process group of its own, so stopping it stops the master and its workers together.
        self.process = subprocess.Popen(self.command(port, self.workers), cwd=self.ROOT, env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.url = f"http://{HOST}:{port}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or its workers are still loading the app
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer on {self.url} within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return (self.folder / "gunicorn.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process)

    def token(self, username: str | None = None) -> str:
        """A new user's API token."""
        with self.app.app_context():
            user = users.create_user(username or f"g{uuid.uuid4().hex[:10]}", PASSWORD)
            _, secret = tokens.create_token(user, "tests")
        return secret

    def ready_files(self, count: int) -> tuple[str, list[str]]:
        """A new user's API token and the ids of `count` ready files of theirs, as rows only: listing them
        and download redirects (which sign a URL) read no bytes."""
        with self.app.app_context():
            user = users.create_user(f"g{uuid.uuid4().hex[:10]}", PASSWORD)
            _, secret = tokens.create_token(user, "tests")
            root = folders.root_folder(user.id)
            rows = [{"public_id": uuid.uuid4().hex, "owner_id": user.id, "folder_id": root.id,
                     "name": f"file {number:04}.bin", "search_name": search_key(f"file {number:04}.bin"),
                     "size": 1000 + number, "content_type": "application/octet-stream",
                     "storage_key": f"u/{user.id}/{uuid.uuid4().hex}", "status": FileStatus.READY}
                    for number in range(count)]
            db.session.execute(db.insert(File), rows)
            db.session.commit()
            db.engine.dispose()
        return secret, [row["public_id"] for row in rows]


@pytest.fixture(scope="module")
def gunicorn_live(tmp_path_factory):
    """Locker under gunicorn exactly as `make run` starts it (local storage), shared by a module's tests."""
    from tests.conftest import make_config
    server = Gunicorn(tmp_path_factory.mktemp("gunicorn"), make_config)
    server.start()
    yield server
    server.stop()
