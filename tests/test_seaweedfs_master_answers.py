"""How Locker reads a SeaweedFS master's answers: only the master's own "no" refuses uploads.

A small HTTP server on a loopback port plays the master's part for answers a real
master gives only in situations hard to set up (a secured master, a proxy in front).
"""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.storage.replication import writes_refused


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
