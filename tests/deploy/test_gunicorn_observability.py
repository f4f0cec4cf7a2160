"""Locker under gunicorn with two workers, as `make run WORKERS=2` starts it, with JSON logs and metrics on.

/metrics adds up what both workers counted (prometheus_client's multiprocess mode, set up by
gunicorn.conf.py), and every line the server writes, gunicorn's own and its access log
included, is a JSON object naming its request, with no token, password or signature in it.
"""
import json
import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import PASSWORD
from tests.live_support import Gunicorn, gunicorn_live  # noqa: F401  (fixture)

METRICS_TOKEN = secrets.token_urlsafe(24)
REQUESTS = 60


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.conftest import make_config
    server = Gunicorn(tmp_path_factory.mktemp("gunicorn-observability"), make_config, workers=2,
                      LOG_FORMAT="json", METRICS_TOKEN=METRICS_TOKEN, TRUST_PROXY="1")
    server.start()
    yield server
    server.stop()


def scrape(server):
    response = requests.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
                            timeout=30)
    assert response.status_code == 200, response.text
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            samples[key] = samples.get(key, 0) + sample.value
    return lambda name, **labels: samples.get((name, frozenset(labels.items())), 0)


def log_lines(server):
    return [json.loads(line) for line in server.log().splitlines() if line.strip()]


def test_metrics_add_up_both_workers_and_every_log_line_is_json_without_secrets(server):
    token = server.token()
    api = {"Authorization": f"Bearer {token}"}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: requests.get(f"{server.url}/api/v1/me", headers=api, timeout=30),
                                range(REQUESTS)))
    assert all(answer.status_code == 200 for answer in answers)

    data = b"bytes through a signed local URL" * 64
    started = requests.post(f"{server.url}/api/v1/uploads", headers=api, timeout=30,
                            json={"name": "notes.bin", "size": len(data)}).json()
    signature = started["url"].split("sig=")[1]
    assert requests.put(started["url"], headers=started["headers"], data=data, timeout=30).status_code == 200
    proxy_id = "edge-" + secrets.token_hex(8)
    completed = requests.post(f"{server.url}/api/v1/uploads/{started['id']}/complete", timeout=30,
                              headers={**api, "X-Request-ID": proxy_id})
    assert completed.status_code == 200 and completed.headers["X-Request-ID"] == proxy_id

    lines = log_lines(server)  # each line parses as JSON, or this fails
    served_me = {line["pid"] for line in lines if line.get("path") == "/api/v1/me"}
    assert len(served_me) == 2, f"both workers answered: {served_me}"
    metric = scrape(server)
    assert metric("locker_http_request_duration_seconds_count",
                  method="GET", endpoint="api.me", status="200") == REQUESTS
    assert metric("locker_uploads_started_total") == metric("locker_uploads_completed_total") == 1
    assert metric("locker_upload_bytes_admitted_total") == len(data)

    lines = log_lines(server)
    access = {line["request_id"]: line for line in lines if line["logger"] == "gunicorn.access"}
    for answer in answers:
        line = access[answer.headers["X-Request-ID"]]
        assert line["status"] == 200 and line["method"] == "GET" and line["duration_s"] >= 0
    assert access[proxy_id]["path"] == f"/api/v1/uploads/{started['id']}/complete"
    stored = [line for line in access.values() if line["path"].startswith("/_storage/")]
    assert stored and all("sig" not in json.dumps(line) for line in stored)
    assert any(line["logger"] == "gunicorn.error" and "Booting worker" in line["message"] for line in lines)
    everything = server.log()
    for secret in (token, signature, METRICS_TOKEN, PASSWORD):
        assert secret not in everything


def test_text_access_lines_leave_link_tokens_out(gunicorn_live):
    """`make run` as it is (text lines): the access line of a link's page names no token."""
    link_token = secrets.token_urlsafe(16)
    assert requests.get(f"{gunicorn_live.url}/s/{link_token}", timeout=30).status_code == 404
    lines = gunicorn_live.log()
    assert "/s/[redacted]" in lines and link_token not in lines
