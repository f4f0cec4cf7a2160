"""Every download redirect that was sent has its activity event, even when the worker is killed right after.

Locker runs under gunicorn as `make run` starts it, on the run's database (SQLite, or a new
PostgreSQL database when TEST_DATABASE_URL names PostgreSQL). Bursts of download requests are sent
at once, and the moment the first answer arrives the worker is killed with SIGKILL, while it is
still answering the rest: nothing it meant to do after sending an answer gets to run. Every 302 that
reached the client must have its "download" event in the database.
"""
import os
import select
import signal
import socket
import time
from contextlib import ExitStack

import psutil
import pytest
import requests

from app.extensions import db
from app.models import AuditEvent, File
from tests.live_support import HOST, Gunicorn
from tests.scratch_db import scratch_postgres_database

BURSTS = 6
REQUESTS_PER_BURST = 16  # as many as the worker has threads: all of them answering at once


@pytest.fixture
def server(tmp_path):
    from tests.conftest import make_config
    requested = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    with ExitStack() as stack:
        database = None if requested.startswith("sqlite") else stack.enter_context(
            scratch_postgres_database(requested))
        server = Gunicorn(tmp_path, make_config, database=database)
        stack.callback(server.stop)
        server.start()
        yield server


def worker_of(server, killed):
    """The pid of the worker answering now: gunicorn's master starts a new one after a kill, and the killed
    one may still be listed until the master has reaped it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        workers = [worker for worker in psutil.Process(server.process.pid).children() if worker.pid not in killed]
        if len(workers) == 1:
            try:
                if requests.get(f"{server.url}/healthz", timeout=5).status_code == 200:
                    return workers[0].pid
            except (requests.ConnectionError, requests.Timeout):
                pass  # the new worker is still loading the app
        time.sleep(0.05)
    raise AssertionError(f"no worker answered after a kill:\n{server.log()}")


def download_request(token, file_id):
    return (f"GET /api/v1/files/{file_id}/download HTTP/1.1\r\nHost: {HOST}\r\n"
            f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n").encode()


def read_until_closed(connection):
    chunks = []
    while True:
        try:
            chunk = connection.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def burst_then_kill(server, token, file_ids, killed):
    """Ask for every file's download at once, SIGKILL the worker as the first answer arrives; the ids
    whose 302 arrived."""
    worker = worker_of(server, killed)
    port = int(server.url.rsplit(":", 1)[1])
    connections = [socket.create_connection((HOST, port), timeout=30) for _ in file_ids]
    try:
        for connection, file_id in zip(connections, file_ids):
            connection.sendall(download_request(token, file_id))
        readable, _, _ = select.select(connections, [], [], 60)
        assert readable, "no answer within a minute"
        os.kill(worker, signal.SIGKILL)
        killed.add(worker)
        answers = [read_until_closed(connection) for connection in connections]
    finally:
        for connection in connections:
            connection.close()
    return [file_id for file_id, answer in zip(file_ids, answers) if answer.startswith(b"HTTP/1.1 302 ")]


def test_every_redirect_sent_has_its_event_when_the_worker_is_killed_right_after(server):
    token, file_ids = server.ready_files(BURSTS * REQUESTS_PER_BURST)
    redirected, killed = [], set()
    for start in range(0, len(file_ids), REQUESTS_PER_BURST):
        redirected += burst_then_kill(server, token, file_ids[start:start + REQUESTS_PER_BURST], killed)
    assert len(redirected) >= BURSTS, "each burst had at least the answer that set off the kill"

    with server.app.app_context():
        recorded = set(db.session.execute(
            db.select(File.public_id).join(AuditEvent, AuditEvent.file_id == File.id)
            .filter(AuditEvent.action == "download", File.public_id.in_(redirected))).scalars())
        db.engine.dispose()
    assert sorted(set(redirected) - recorded) == [], "redirects sent without their activity event"
