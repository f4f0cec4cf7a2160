"""How Locker reads a SeaweedFS master: only the master's own "no" refuses uploads, and a hung
master costs health checks little time and is not asked at every one.

A small HTTP server on a loopback port plays the master's part for answers a real
master gives only in situations hard to set up (a secured master, a proxy in front);
a proxy that accepts connections and never answers plays a hung one.
"""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.storage import s3
from app.storage.replication import writes_refused
from tests.fault_support import STALL, proxy_to  # noqa: F401  (fixture)
from tests.live_support import moto_server  # noqa: F401  (fixture)


@pytest.fixture
def master():
    """(url, answers): answers["assign"] = (status, body bytes, content type) is what /dir/assign gets."""
    answers = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            status, body, content_type = answers["assign"]
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", answers
    server.shutdown()
    server.server_close()


def as_json(value):
    return json.dumps(value).encode(), "application/json"


def test_the_masters_own_refusal_refuses_writes(master):
    url, answers = master
    answers["assign"] = (406, *as_json({"error": "no free volumes left for {\"collection\":\"locker\"}"}))
    assert writes_refused(url, "locker") == 'no free volumes left for {"collection":"locker"}'


def test_a_file_id_means_writable(master):
    url, answers = master
    answers["assign"] = (200, *as_json({"fid": "3,01637037d6", "url": "127.0.0.1:8080", "count": 1}))
    assert writes_refused(url, "locker") is None


@pytest.mark.parametrize("status, body, content_type", [
    (401, *as_json({"message": "unauthorized"})),  # a master secured with a JWT
    (404, b"<html>not found</html>", "text/html"),  # a proxy that does not pass /dir/assign
    (502, *as_json({"error": ""})),
    (403, *as_json(["not", "an", "object"])),
])
def test_other_answers_say_nothing_about_volumes_and_are_logged(master, caplog, status, body, content_type):
    url, answers = master
    answers["assign"] = (status, body, content_type)
    assert writes_refused(url, "locker") is None
    assert "dir/assign" in caplog.text


@pytest.fixture
def store_with_hung_master(make_app, moto_server, proxy_to):
    """An S3 store that answers (moto) and a SeaweedFS master that accepts connections and never answers."""
    master = proxy_to(moto_server)
    master.set(STALL)
    app = make_app(STORAGE_BACKEND="s3", S3_BUCKET="locker-master", S3_ENDPOINT_URL=moto_server, SETUP_STORAGE=True,
                   PUBLIC_URL="http://localhost", S3_SEAWEEDFS_MASTER_URL=master.url)
    return app.extensions["locker.storage"].backend, master


def test_a_hung_master_is_asked_once_for_a_few_seconds_of_health_checks(store_with_hung_master):
    storage, master = store_with_hung_master
    first = storage.health()
    assert first.state == "degraded" and "master did not answer" in first.detail
    for _ in range(5):
        assert storage.health() == first
    assert master.connections == 1, "the master's answer (or silence) is reused, not asked again per check"


def test_the_master_gets_only_what_the_bucket_check_left_of_the_deadline(store_with_hung_master, monkeypatch):
    storage, master = store_with_hung_master
    storage.health()  # makes the probe client
    answer_late = storage._probe.head_bucket

    def slow_head_bucket(**kwargs):
        time.sleep(s3.HEALTH_DEADLINE)  # a store answering at the very end of the health check's time
        return answer_late(**kwargs)

    monkeypatch.setattr(storage, "_replication", None)
    monkeypatch.setattr(storage._probe, "head_bucket", slow_head_bucket)
    connections = master.connections
    health = storage.health()
    assert health.state == "degraded" and "no time was left" in health.detail
    assert master.connections == connections, "not asked past the deadline"
