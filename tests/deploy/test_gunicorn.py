"""gunicorn.conf.py in production: the worker count reaches the app's checks, and HUP reloads gracefully
(new workers take over while an upload already under way on an old one finishes)."""
import http.client
import os
import signal
from urllib.parse import urlsplit

import psutil
import requests

from tests.conftest import PASSWORD
from tests.deploy.processes import HOST, api_session, free_port, gunicorn, migrate_with_user, production_env

USER = "bob"


def workers_of(process):
    return {child.pid for child in psutil.Process(process.popen.pid).children()}


def test_several_workers_without_redis_are_refused_with_the_reason(tmp_path):
    env = production_env(tmp_path, "https://files.example.org", GUNICORN_WORKERS="2")
    server = gunicorn(tmp_path, env, free_port())
    try:
        assert server.popen.wait(120) != 0
    finally:
        server.stop()
    assert "REDIS_URL is not set while gunicorn runs 2 workers" in server.log()


def test_hup_starts_new_workers_while_an_upload_on_an_old_one_finishes(tmp_path):
    port = free_port()
    url = f"http://{HOST}:{port}"
    env = production_env(tmp_path, url, SECURE_COOKIES="0", GUNICORN_WORKERS="2", GUNICORN_THREADS="2",
                         REDIS_URL="redis://127.0.0.1:6379/0")
    migrate_with_user(env, USER, PASSWORD)
    server = gunicorn(tmp_path, env, port)
    try:
        server.wait_for_health(url)
        server.wait_until(lambda: len(workers_of(server)) == 2, "two workers")
        old = workers_of(server)
        data = os.urandom(1024 * 1024)
        with api_session(url, USER, PASSWORD) as client:
            started = client.post(f"{url}/api/v1/uploads", timeout=30, json={
                "name": "during-reload.bin", "size": len(data), "content_type": "application/octet-stream"})
            assert started.status_code == 201, started.text
            body = started.json()

            # The first bytes reach a worker, then gunicorn reloads, then the rest follows on the same connection.
            target = urlsplit(body["url"])
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=180)
            connection.putrequest("PUT", f"{target.path}?{target.query}")
            for name, value in body["headers"].items():
                connection.putheader(name, value)
            connection.putheader("Content-Length", str(len(data)))
            connection.endheaders(data[:1000])
            os.kill(server.popen.pid, signal.SIGHUP)
            server.wait_until(lambda: len(workers_of(server) - old) >= 2, "two new workers after HUP")
            connection.send(data[1000:])
            put = connection.getresponse()
            assert put.status == 200, put.read()
            connection.close()
            assert len(workers_of(server) - old) >= 2, "no new workers after HUP"
            completed = client.post(f"{url}/api/v1/uploads/{body['id']}/complete", timeout=60)
            assert completed.status_code == 200 and completed.json()["size"] == len(data), completed.text
        server.wait_until(lambda: not (workers_of(server) & old), "old workers gone after their last request")
        assert requests.get(f"{url}/healthz", timeout=30).status_code == 200
    finally:
        server.stop()
