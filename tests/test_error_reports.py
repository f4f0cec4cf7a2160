"""Error reports (Sentry) leave without tokens, passwords, cookies or signed URLs.

The SDK builds the events from a real failing request, exactly as it would send them; a
transport of the test's own receives the envelopes in place of the network.
"""
import json
from urllib.parse import urlsplit

import pytest
import sentry_sdk
from sentry_sdk.transport import Transport

from app import error_reports
from tests.conftest import csrf_from

DSN = "https://publickey@errors.example/1"
API_TOKEN = "lk_9QzX4vB7nM2kP5sT8wY1"
SESSION = "eyJzZXNzaW9uIjoic2VjcmV0In0.Zx9.signature-part"
LINK_TOKEN = "Vq3xY7kLm2Pn8Rt5Wz1AbC"
SIGNATURE = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
PASSWORD = "correct horse battery staple"
SECRETS = [API_TOKEN, SESSION, LINK_TOKEN, SIGNATURE, PASSWORD, "hunter2"]


class Captured(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.events = []

    def capture_envelope(self, envelope):
        self.events.extend(item.payload.json for item in envelope.items if item.type == "event")


@pytest.fixture
def reported(make_app):
    """An app reporting errors into a Captured transport; reporting is switched off afterwards."""
    app = make_app(STORAGE_BACKEND="local", SENTRY_DSN=DSN)
    transport = Captured()
    error_reports.init(app.config, transport=transport)
    yield app, transport
    sentry_sdk.get_client().close()
    # Back to no client at all, as in a process that never set a DSN. A bare init() would install the
    # SDK's defaults, whose Flask hook reads current_user on every request of every later test in
    # this process (and Flask-Login then writes to guests' sessions).
    sentry_sdk.get_global_scope().set_client(None)


def test_nothing_is_reported_without_a_dsn(make_app):
    make_app(STORAGE_BACKEND="local")
    assert not sentry_sdk.get_client().is_active()


def test_reporting_leaves_a_guests_cookie_alone_while_their_uploads_run(reported, accounts):
    """A browser sends several uploads at once, each with the cookie the link's page left: an answer
    that set the cookie again could undo another's. With reporting on, reading who the user is would
    have Flask-Login write to the guest's session."""
    app, _ = reported
    with app.app_context():
        headers = accounts.headers(accounts.create())
    owner = app.test_client()
    link = owner.post("/api/v1/requests", headers=headers, json={"title": "Scans"}).get_json()["url"]
    guest = app.test_client()
    page = guest.get(urlsplit(link).path)
    assert page.status_code == 200 and "Set-Cookie" in page.headers
    started = guest.post(f"{urlsplit(link).path}/uploads", json={"name": "scan.pdf", "size": 5},
                         headers={"X-CSRFToken": csrf_from(page.get_data(as_text=True)), "Accept": "application/json"})
    assert started.status_code == 201, started.get_json()
    assert "Set-Cookie" not in started.headers


def test_a_failing_request_is_reported_without_any_secret(reported):
    app, transport = reported

    @app.get("/explode/s/<token>")
    def explode(token):
        app.logger.info("about to fail for %s with password %s", token, PASSWORD)
        raise RuntimeError(f"could not fetch https://bucket.example/u/1/k?X-Amz-Signature={SIGNATURE} "
                           f"from postgresql://locker:hunter2@db.example/locker")

    response = app.test_client().get(
        f"/explode/s/{LINK_TOKEN}?sig={SIGNATURE}&password={PASSWORD}",
        headers={"Authorization": f"Bearer {API_TOKEN}", "Cookie": f"session={SESSION}",
                 "X-Request-ID": "not-trusted-here"})
    assert response.status_code == 500
    sentry_sdk.get_client().flush(timeout=5)

    assert transport.events, "the failure was reported"
    event = next(event for event in transport.events if event.get("request"))
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert event["request"]["headers"]["Authorization"] == "[redacted]"
    assert "Cookie" not in event["request"]["headers"] or event["request"]["headers"]["Cookie"] == "[redacted]"
    assert event["request"].get("query_string") in (None, "[redacted]")
    assert event["request"]["url"].endswith("/explode/s/[redacted]")
    sent = json.dumps(transport.events)
    for secret in SECRETS:
        assert secret not in sent, secret


@pytest.mark.parametrize("event", [
    {"request": {"url": f"https://locker.example/r/{LINK_TOKEN}/uploads", "query_string": f"sig={SIGNATURE}",
                 "headers": {"Authorization": f"Bearer {API_TOKEN}", "Cookie": f"remember_token={SESSION}"},
                 "cookies": {"session": SESSION}, "data": {"password": PASSWORD}}},
    {"extra": {"signed_url": f"http://127.0.0.1:9000/b/k?X-Amz-Signature={SIGNATURE}",
               "settings": {"MAIL_PASSWORD": PASSWORD, "SECRET_KEY": "hunter2"}}},
    {"breadcrumbs": {"values": [{"message": f"GET /s/{LINK_TOKEN}/download?sig={SIGNATURE}"}]}},
])
def test_the_scrubber_leaves_nothing_of_a_secret_wherever_it_is(event):
    sent = json.dumps(error_reports.scrub(event))
    for secret in SECRETS:
        assert secret not in sent, secret
