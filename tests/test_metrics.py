"""Prometheus metrics at /metrics: behind METRICS_TOKEN, requests by endpoint, uploads and storage calls.

Counters are process-wide (tests build many apps in one process), so each test reads them
before and after what it does.
"""
import pytest
from flask import current_app
from prometheus_client.parser import text_string_to_metric_families

from tests.fault_support import REFUSE, proxy_to  # noqa: F401  (fixture)
from tests.helpers import send, upload
from tests.test_file_requests import Guest, make_request, path
from tests.live_support import moto_server  # noqa: F401  (fixture)

TOKEN = "metrics-reader-token-for-tests"
READER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def app_settings():
    return {"METRICS_TOKEN": TOKEN}


class Scrape:
    """One reading of /metrics: each sample by name and labels."""

    def __init__(self, client):
        response = client.get("/metrics", headers=READER)
        assert response.status_code == 200, response.get_data(as_text=True)
        self.text = response.get_data(as_text=True)
        self.samples = {(sample.name, frozenset(sample.labels.items())): sample.value
                        for family in text_string_to_metric_families(self.text) for sample in family.samples}

    def __call__(self, name, **labels):
        return self.samples.get((name, frozenset(labels.items())), 0)


@pytest.fixture
def local_client(make_app):
    """A client of an app on local storage: what does not depend on the backend runs once."""
    app = make_app(STORAGE_BACKEND="local", METRICS_TOKEN=TOKEN)
    with app.app_context():
        yield app.test_client()


def test_metrics_are_off_without_a_token(make_app):
    response = make_app(STORAGE_BACKEND="local").test_client().get("/metrics")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
def test_metrics_answer_only_the_token(local_client, headers):
    response = local_client.get("/metrics", headers=headers)
    assert response.status_code == 401 and "locker_" not in response.get_data(as_text=True)


def test_requests_are_counted_by_endpoint_never_by_path(local_client, accounts):
    client = local_client
    headers = accounts.headers(accounts.create())
    before = Scrape(client)
    missing = "0123456789abcdef0123456789abcdef"
    assert client.get(f"/api/v1/files/{missing}", headers=headers).status_code == 404
    after = Scrape(client)
    labels = {"method": "GET", "endpoint": "api.get_file", "status": "404"}
    assert after("locker_http_request_duration_seconds_count", **labels) == before(
        "locker_http_request_duration_seconds_count", **labels) + 1
    assert missing not in after.text


def test_a_real_upload_moves_the_upload_and_storage_counters(app, client, owner, accounts):
    headers = accounts.headers(owner)
    data = b"counted bytes" * 100
    before = Scrape(client)
    upload(client, headers, "counted.bin", data)
    after = Scrape(client)

    assert after("locker_uploads_started_total") == before("locker_uploads_started_total") + 1
    assert after("locker_uploads_completed_total") == before("locker_uploads_completed_total") + 1
    assert after("locker_upload_bytes_admitted_total") == before("locker_upload_bytes_admitted_total") + len(data)
    for operation in ("presign_upload", "stat"):
        calls = "locker_storage_call_duration_seconds_count"
        assert after(calls, operation=operation) == before(calls, operation=operation) + 1, operation
    assert after("locker_storage_call_errors_total", operation="stat") == before(
        "locker_storage_call_errors_total", operation="stat")


def test_completing_before_the_bytes_arrive_counts_as_failed(local_client, accounts):
    client = local_client
    headers = accounts.headers(accounts.create())
    before = Scrape(client)
    started = client.post("/api/v1/uploads", headers=headers, json={"name": "never.bin", "size": 10})
    completed = client.post(f"/api/v1/uploads/{started.get_json()['id']}/complete", headers=headers)
    assert completed.status_code == 409
    after = Scrape(client)
    assert after("locker_uploads_failed_total", reason="upload_missing") == before(
        "locker_uploads_failed_total", reason="upload_missing") + 1
    assert after("locker_uploads_completed_total") == before("locker_uploads_completed_total")


def test_a_store_that_goes_down_counts_a_failed_upload_and_a_storage_error(make_app, moto_server, proxy_to,
                                                                          accounts):
    store = proxy_to(moto_server)
    app = make_app(STORAGE_BACKEND="s3", S3_BUCKET="locker-metrics", S3_ENDPOINT_URL=store.url,
                   SETUP_STORAGE=True, PUBLIC_URL="http://localhost", METRICS_TOKEN=TOKEN,
                   S3_CONNECT_TIMEOUT=0.5, S3_READ_TIMEOUT=0.5, S3_MAX_ATTEMPTS=1)
    client = app.test_client()
    with app.app_context():
        headers = accounts.headers(accounts.create())
    data = b"x" * 100
    started = client.post("/api/v1/uploads", headers=headers, json={"name": "lost.bin", "size": len(data)})
    body = started.get_json()
    assert send(client, body["method"], body["url"], body["headers"], data)[0] == 200
    before = Scrape(client)
    store.set(REFUSE)
    assert client.post(f"/api/v1/uploads/{body['id']}/complete", headers=headers).status_code == 503
    after = Scrape(client)
    assert after("locker_uploads_failed_total", reason="storage_unavailable") == before(
        "locker_uploads_failed_total", reason="storage_unavailable") + 1
    assert after("locker_storage_call_errors_total", operation="stat") == before(
        "locker_storage_call_errors_total", operation="stat") + 1


def test_guest_and_batch_uploads_are_counted_as_every_upload_is(local_client, accounts):
    client = local_client
    headers = accounts.headers(accounts.create())
    before = Scrape(client)
    batch = client.post("/api/v1/uploads/batch", headers=headers,
                        json={"items": [{"name": "a.txt", "size": 3}, {"name": "b.txt", "size": 4}]})
    assert batch.status_code == 201
    guest = Guest(current_app, path(make_request(client, headers)))
    guest.open()
    guest.upload("scan.pdf", b"%PDF-1.4 guest bytes")
    after = Scrape(client)
    assert after("locker_uploads_started_total") == before("locker_uploads_started_total") + 3
    assert after("locker_uploads_completed_total") == before("locker_uploads_completed_total") + 1
    assert after("locker_upload_bytes_admitted_total") == before("locker_upload_bytes_admitted_total") + len(
        b"%PDF-1.4 guest bytes")
