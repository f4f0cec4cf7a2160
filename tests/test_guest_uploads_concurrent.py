"""A guest sending several files at once, as a browser does, against a live threaded server.

One requests.Session is the guest's browser: one cookie jar, shared by uploads running in
parallel threads. A browser sends all its upload starts before the first answer comes back,
so each carries the cookie the page left; the server here holds the starts until all have
arrived, so every run is that case and not a luckier one.
"""
import threading
from urllib.parse import urlsplit

import requests

from app.extensions import db
from app.models import File, FileStatus
from tests.conftest import csrf_from
from tests.helpers import at_once, sha256
from tests.live_support import start_live

FILES = 5


class HoldStarts:
    """WSGI middleware: each guest upload start waits until `count` of them are in, then all go on together."""

    def __init__(self, app, count):
        self.app = app
        self.arrived = threading.Barrier(count, timeout=30)

    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].startswith("/r/") \
                and environ["PATH_INFO"].endswith("/uploads"):
            self.arrived.wait()
        return self.app(environ, start_response)


def test_five_files_sent_at_once_from_one_browser_all_arrive(request, make_app):
    live = start_live(request, make_app, "local", middleware=lambda app: HoldStarts(app, FILES))
    _, token = live.user()
    owner = {"Authorization": f"Bearer {token}"}
    created = requests.post(f"{live.url}/api/v1/requests", headers=owner, json={"title": "Holiday photos"},
                            timeout=60)
    assert created.status_code == 201, created.text
    link = created.json()["url"]

    browser = requests.Session()
    page = browser.get(link, timeout=60)
    assert page.status_code == 200 and browser.cookies
    calls = {"X-CSRFToken": csrf_from(page.text), "Accept": "application/json"}
    uploads = f"{live.url}{urlsplit(link).path}/uploads"
    cookie_after_page = browser.cookies.get_dict()

    def send_one(number, go):
        data = f"photo {number}\n".encode() * 500
        go.wait()
        started = browser.post(uploads, headers=calls, timeout=60, json={
            "name": f"photo-{number}.jpg", "size": len(data), "content_type": "image/jpeg", "sha256": sha256(data)})
        if started.status_code != 201:
            return started, None, None
        body = started.json()
        stored = requests.request(body["method"], body["url"], headers=body["headers"], data=data, timeout=60)
        completed = browser.post(f"{uploads}/{body['id']}/complete", headers=calls, json={}, timeout=60)
        return started, stored, completed

    results = at_once(FILES, send_one)
    assert [started.status_code for started, _, _ in results] == [201] * FILES
    assert [stored.status_code for _, stored, _ in results] == [200] * FILES
    assert [completed.status_code for _, _, completed in results] == [200] * FILES, \
        [completed.json()["error"] for _, _, completed in results if completed.status_code != 200]
    # The uploads leave the cookie alone, so nothing a parallel answer sets can undo another's.
    cookies_set = [(response.request.method, response.url, response.headers["Set-Cookie"])
                   for started, _, completed in results for response in (started, completed)
                   if "Set-Cookie" in response.headers]
    assert cookies_set == []
    assert browser.cookies.get_dict() == cookie_after_page

    names = sorted(f"photo-{number}.jpg" for number in range(FILES))
    received = requests.get(f"{live.url}/api/v1/files", headers=owner, timeout=60).json()["items"]
    assert sorted(item["name"] for item in received) == names
    listed = requests.get(f"{live.url}/api/v1/requests", headers=owner, timeout=60).json()["items"][0]
    assert (listed["files_received"], listed["files_used"], listed["state"]) == (FILES, FILES, "open")
    assert requests.get(f"{live.url}/api/v1/uploads", headers=owner, timeout=60).json()["items"] == []
    with live.app.app_context():
        assert db.session.execute(db.select(db.func.count(File.id)).filter_by(
            status=FileStatus.PENDING)).scalar_one() == 0
    sent = browser.get(link, timeout=60).text
    assert all(name in sent for name in names)
