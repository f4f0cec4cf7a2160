"""Upload requests: guests send files to an owner through /r/<token>, within the limits the owner set."""
import re
from collections import Counter
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from app.extensions import db
from app.models import AuditEvent, File, FileRequest, FileStatus, User, utcnow
from app.qr import qr_svg
from app.services import file_requests, guest_uploads, maintenance
from app.services.file_requests import RequestEnded, RequestFull
from tests.conftest import MULTIPART_SETTINGS, csrf_from
from tests.helpers import admission_race, part_bytes, send, sha256, upload, write_directly

KIB = 1024
DATA = b"scanned passport, page 1\n" * 40


def make_request(client, headers, **options):
    response = client.post("/api/v1/requests", headers=headers, json={"title": "Documents for the visa", **options})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def path(request_json):
    return urlsplit(request_json["url"]).path


class Guest:
    """Someone with only the link: a browser of their own (cookies, so their own visit)."""

    def __init__(self, app, link_path):
        self.client = app.test_client()
        self.path = link_path
        self.csrf = None

    def open(self):
        page = self.client.get(self.path)
        if page.status_code == 200:
            self.csrf = csrf_from(page.get_data(as_text=True))
        return page

    def call(self, method, suffix, body=None):
        headers = {"X-CSRFToken": self.csrf or "", "Accept": "application/json"}
        return self.client.open(f"{self.path}/uploads{suffix}", method=method, headers=headers, json=body)

    def start(self, name, data, **extra):
        return self.call("POST", "", {"name": name, "size": len(data), "content_type": "application/pdf", **extra})

    def upload(self, name, data, **extra):
        """Start, PUT the bytes to storage, complete: the whole single-request flow. Returns the file JSON."""
        started = self.start(name, data, sha256=sha256(data), **extra)
        assert started.status_code == 201, started.get_json()
        body = started.get_json()
        status, _, _ = send(self.client, body["method"], body["url"], body["headers"], data)
        assert status == 200, status
        completed = self.call("POST", f"/{body['id']}/complete", {})
        assert completed.status_code == 200, completed.get_json()
        return completed.get_json()


@pytest.fixture
def link(client, headers):
    return make_request(client, headers, message="Scans of every page, please.", expires_in="7d")


@pytest.fixture
def guest(app, link):
    guest = Guest(app, path(link))
    assert guest.open().status_code == 200
    return guest


def owner_files(client, headers):
    return client.get("/api/v1/files", headers=headers).get_json()["items"]


def used_bytes(owner):
    return db.session.execute(db.select(User.used_bytes).filter_by(id=owner.id)).scalar_one()


def request_row():
    db.session.expire_all()
    return db.session.execute(db.select(FileRequest)).scalar_one()


# --- The owner's side ---------------------------------------------------------------


def test_requests_are_created_listed_and_revoked_through_the_api(client, headers, accounts, owner):
    created = make_request(client, headers, message="Hi", expires_in="2d", max_files=3, max_bytes=10 * KIB,
                           password="sesame")
    assert created["state"] == "open" and created["has_password"] and created["url"].startswith("http")
    assert (created["max_files"], created["max_bytes"], created["files_used"], created["files_received"]) == \
        (3, 10 * KIB, 0, 0)
    token = path(created).rsplit("/", 1)[1]
    assert len(token) >= 22 and db.session.execute(db.select(FileRequest.token_hash)).scalar_one() != token
    listed = client.get("/api/v1/requests", headers=headers).get_json()["items"]
    assert [item["id"] for item in listed] == [created["id"]] and listed[0]["url"] == created["url"]

    stranger = accounts.headers(accounts.create())
    assert client.get("/api/v1/requests", headers=stranger).get_json()["items"] == []
    assert client.delete(f"/api/v1/requests/{created['id']}", headers=stranger).status_code == 404
    assert client.delete(f"/api/v1/requests/{created['id']}", headers=headers).status_code == 204
    assert client.delete(f"/api/v1/requests/{created['id']}", headers=headers).status_code == 204
    assert client.get("/api/v1/requests", headers=headers).get_json()["items"][0]["state"] == "revoked"
    actions = db.session.execute(db.select(AuditEvent.action, AuditEvent.actor_id).order_by(AuditEvent.id)).all()
    assert actions == [("request_created", owner.id), ("request_revoked", owner.id)]


@pytest.mark.parametrize("body,code", [
    ({"title": ""}, "invalid_title"),
    ({"title": "   "}, "invalid_title"),
    ({"title": "a\x00b"}, "invalid_title"),
    ({"title": "x" * 201}, "invalid_title"),
    ({"title": "ok", "max_files": -1}, "invalid_max_files"),
    ({"title": "ok", "max_files": 0}, "invalid_max_files"),
    ({"title": "ok", "max_bytes": -5}, "invalid_max_bytes"),
    ({"title": "ok", "expires_in": "soon"}, "invalid_expiry"),
    ({"title": "ok", "expires_at": "2001-01-01T00:00:00Z"}, "invalid_expiry"),
    ({"title": "ok", "message": "bell\x07"}, "invalid_message"),
    ({"title": "ok", "password": ""}, "invalid_password"),
])
def test_bad_request_settings_are_refused_clearly_and_change_nothing(client, headers, body, code):
    response = client.post("/api/v1/requests", headers=headers, json=body)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == code, response.get_json()
    assert response.get_json()["error"]["message"]
    assert db.session.execute(db.select(FileRequest)).first() is None


def test_the_pages_create_show_the_link_list_and_revoke(app, accounts):
    client, owner = accounts.signed_in_client()
    files_page = client.get("/files").get_data(as_text=True)
    assert 'href="/requests">Requests</a>' in files_page
    form = client.get("/requests/new").get_data(as_text=True)
    for label in ("Title (what you are asking for)", "Message for the people who upload (optional)",
                  "Most files (empty: no limit)", "Most total size in MiB (empty: no limit)", "Password (optional)"):
        assert f">{label}</label>" in form, label
    token = csrf_from(form)

    refused = client.post("/requests/new", data={"csrf_token": token, "title": "Photos", "max_files": "-2",
                                                 "expires_in": "7d"})
    assert refused.status_code == 400 and "Number must be between 1 and 100000" in refused.get_data(as_text=True)
    created = client.post("/requests/new", data={"csrf_token": token, "title": "Wedding photos", "expires_in": "1d",
                                                 "message": "Thanks!", "max_files": "20", "max_mib": "100"})
    html = created.get_data(as_text=True)
    assert created.status_code == 201 and 'data-copy="request-url"' in html and "At most 20 files" in html
    url = html.split('id="request-url" type="text" readonly value="', 1)[1].split('"', 1)[0]
    assert "/r/" in url
    assert str(qr_svg(url)) in html, "the page shows the link as a QR code too, for phones"
    listing = client.get("/requests").get_data(as_text=True)
    assert "Wedding photos" in listing and "Open" in listing and "0 of 20" in listing and url in listing

    public_id = db.session.execute(db.select(FileRequest.public_id)).scalar_one()
    revoked = client.post(f"/requests/{public_id}/revoke", data={"csrf_token": token}, follow_redirects=True)
    assert "Upload link closed" in revoked.get_data(as_text=True) and ">Closed" in revoked.get_data(as_text=True)
    assert url not in revoked.get_data(as_text=True), "a closed link is not offered to copy"
    assert app.test_client().get(urlsplit(url).path).status_code == 410


# --- Guests uploading --------------------------------------------------------------------


def test_a_guest_uploads_and_the_file_lands_in_the_owners_list_marked(app, client, headers, owner, link, guest,
                                                                      accounts):
    page = guest.client.get(guest.path).get_data(as_text=True)
    assert "Scans of every page, please." in page and 'for="guest-name">Your name (optional)</label>' in page
    assert f'data-api-base="{guest.path}"' in page and "Nothing sent in this visit yet." in page

    file = guest.upload("passport.pdf", DATA, guest_name="  Ada Lovelace ")
    assert file["name"] == "passport.pdf" and file["size"] == len(DATA)

    mine = owner_files(client, headers)
    assert [(f["name"], f["guest_name"], f["request"]) for f in mine] == \
        [("passport.pdf", "Ada Lovelace", "Documents for the visa")]
    assert used_bytes(owner) == len(DATA)
    owner_client, _ = accounts.signed_in_client(owner)
    listing = owner_client.get("/files").get_data(as_text=True)
    assert "from Ada Lovelace via Documents for the visa" in listing
    item = client.get("/api/v1/requests", headers=headers).get_json()["items"][0]
    assert (item["files_received"], item["bytes_received"], item["files_used"]) == (1, len(DATA), 1)

    status, _, body = send(client, "GET", client.get(f"/api/v1/files/{file['id']}/download",
                                                     headers=headers).headers["Location"])
    assert status == 200 and body == DATA
    visit = guest.client.get(guest.path).get_data(as_text=True)
    assert "passport.pdf" in visit and "Sent in this visit" in visit
    assert "passport.pdf" in guest.client.get(f"{guest.path}?fragment=regions").get_data(as_text=True)
    event = db.session.execute(db.select(AuditEvent).filter_by(action="guest_upload")).scalar_one()
    assert (event.actor_id, event.actor_name, event.owner_id, event.file_name) == \
        (None, "Ada Lovelace", owner.id, "passport.pdf")
    assert event.file_request_id == request_row().id


def test_a_guest_without_a_name_is_marked_as_such_and_same_names_get_numbers(app, client, headers, guest, accounts,
                                                                             owner):
    guest.upload("scan.pdf", DATA)
    guest.upload("scan.pdf", DATA)
    names = sorted((f["name"], f["guest_name"]) for f in owner_files(client, headers))
    assert names == [("scan (1).pdf", None), ("scan.pdf", None)]
    owner_client, _ = accounts.signed_in_client(owner)
    assert "from an unnamed guest via Documents for the visa" in owner_client.get("/files").get_data(as_text=True)
    events = db.session.execute(db.select(AuditEvent.actor_name, AuditEvent.file_name)
                                .filter_by(action="guest_upload").order_by(AuditEvent.id)).all()
    assert events == [("guest", "scan.pdf"), ("guest", "scan (1).pdf")]


@pytest.fixture
def multipart_app(make_app, backend):
    app = make_app(**backend, **MULTIPART_SETTINGS)
    with app.app_context():
        yield app


def test_a_guest_sends_a_large_file_in_parts(multipart_app, accounts):
    client = multipart_app.test_client()
    owner = accounts.create()
    headers = accounts.headers(owner)
    guest = Guest(multipart_app, path(make_request(client, headers)))
    guest.open()
    data = bytes(range(256)) * 1100  # 281,600 bytes: five parts of 64 KiB, the last one short
    started = guest.start("archive.zip", data, part_checksums=True, guest_name="Grace")
    assert started.status_code == 201, started.get_json()
    upload = started.get_json()
    count, size = upload["multipart"]["part_count"], upload["multipart"]["part_size"]
    assert count == 5
    checksums = {str(n): sha256(part_bytes(data, size, n)) for n in range(1, count + 1)}
    signed = guest.call("POST", f"/{upload['id']}/parts", {"numbers": list(range(1, count + 1)),
                                                           "checksums": checksums})
    assert signed.status_code == 200, signed.get_json()
    etags = {}
    for part in signed.get_json()["parts"]:
        status, response_headers, _ = send(guest.client, "PUT", part["url"], part["headers"],
                                           part_bytes(data, size, part["number"]))
        assert status == 200
        etags[part["number"]] = response_headers["ETag"].strip('"')
    listed = guest.call("GET", f"/{upload['id']}/parts").get_json()
    assert sorted(p["number"] for p in listed["parts"]) == [1, 2, 3, 4, 5] and listed["part_count"] == 5
    completed = guest.call("POST", f"/{upload['id']}/complete", {
        "parts": [{"number": n, "etag": etags[n]} for n in sorted(etags)], "sha256": sha256(data)})
    assert completed.status_code == 200, completed.get_json()
    mine = owner_files(client, headers)
    assert [(f["name"], f["size"], f["guest_name"]) for f in mine] == [("archive.zip", len(data), "Grace")]
    status, _, body = send(client, "GET", client.get(f"/api/v1/files/{mine[0]['id']}/download",
                                                     headers=headers).headers["Location"])
    assert body == data


def test_the_file_and_byte_limits_are_enforced_with_clear_errors(app, client, headers):
    guest = Guest(app, path(make_request(client, headers, max_files=2, max_bytes=3 * KIB)))
    guest.open()
    too_big = guest.start("huge.pdf", b"x" * (4 * KIB))
    error = too_big.get_json()["error"]
    assert too_big.status_code == 413 and error["code"] == "request_too_large"
    assert error["message"] == "huge.pdf is 4.0 KiB, but this request has only 3.0 KiB of space left."
    guest.upload("one.pdf", b"1" * KIB)
    guest.upload("two.pdf", b"2" * KIB)
    third = guest.start("three.pdf", b"3")
    assert third.status_code == 409 and third.get_json()["error"] == {
        "code": "request_full", "message": "This request accepts 2 files and has received them all, so it takes no more."}
    page = guest.client.get(guest.path).get_data(as_text=True)
    assert "received all the files it accepts" in page and 'id="uploader"' not in page
    assert client.get("/api/v1/requests", headers=headers).get_json()["items"][0]["state"] == "full"
    assert len(owner_files(client, headers)) == 2


def test_the_owners_quota_counts_and_a_full_quota_is_explained_to_the_guest(make_app, backend, accounts):
    app = make_app(**backend, DEFAULT_QUOTA=2 * KIB)
    with app.app_context():
        client = app.test_client()
        owner = accounts.create()
        headers = accounts.headers(owner)
        guest = Guest(app, path(make_request(client, headers)))
        guest.open()
        guest.upload("a.pdf", b"a" * KIB)
        refused = guest.start("b.pdf", b"b" * (2 * KIB))
        assert refused.status_code == 413 and refused.get_json()["error"]["code"] == "quota_exceeded"
        assert "has no space left for this one" in refused.get_json()["error"]["message"]
        assert client.get("/api/v1/me", headers=headers).get_json()["used_bytes"] == KIB
        row = request_row()
        assert (row.files_used, row.bytes_used) == (1, KIB)  # the refused one took no slot


@pytest.mark.parametrize("limit", ["files", "bytes"])
def test_racing_guests_never_pass_the_limits(app, owner, limit):
    """Real threads, each with its own connection, all starting at once: only what fits is admitted."""
    size, attempts = KIB, 12
    options = {"max_files": 3} if limit == "files" else {"max_bytes": 3 * KIB}
    with app.test_request_context():
        file_request, _ = file_requests.create_request(owner, "Race", **options)
    request_id = file_request.id

    def load():
        row = db.session.get(FileRequest, request_id)
        row.owner  # loaded before the race, so no thread waits on it
        return row

    outcomes = admission_race(app, attempts, load, lambda row, number: guest_uploads.start(
        row, f"visit-{number}", f"race-{number}.bin", size, guest_name=f"guest {number}"), RequestFull)
    assert Counter(outcomes) == {"ok": 3, "refused": 9}
    row = request_row()
    assert (row.files_used, row.bytes_used) == (3, 3 * size)
    assert db.session.execute(db.select(db.func.count(File.id)).filter_by(file_request_id=request_id)).scalar() == 3
    assert used_bytes(owner) == 3 * size


def test_expired_and_revoked_links_answer_410_and_sign_nothing(app, client, headers, monkeypatch):
    pending_guest = Guest(app, path(make_request(client, headers, title="Closing soon")))
    pending_guest.open()
    pending = pending_guest.start("late.pdf", DATA).get_json()
    expired = Guest(app, path(make_request(client, headers, title="Old", expires_in="1h")))
    expired.open()
    db.session.execute(db.update(FileRequest).filter_by(title="Old").values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    closing_id = db.session.execute(db.select(FileRequest.public_id).filter_by(title="Closing soon")).scalar_one()
    assert client.delete(f"/api/v1/requests/{closing_id}", headers=headers).status_code == 204

    storage = app.extensions["locker.storage"]
    for method in ("presign_upload", "presign_part", "create_multipart"):
        monkeypatch.setattr(storage, method, lambda *args, **kwargs: pytest.fail("something was signed"))
    page = expired.client.get(expired.path)
    assert page.status_code == 410 and "This upload link has expired." in page.get_data(as_text=True)
    response = expired.start("new.pdf", DATA)
    assert response.status_code == 410 and response.get_json()["error"]["code"] == "request_ended"
    page = pending_guest.client.get(pending_guest.path)
    assert page.status_code == 410 and "closed by its owner" in page.get_data(as_text=True)
    assert pending_guest.start("new.pdf", DATA).status_code == 410
    assert pending_guest.call("POST", f"/{pending['id']}/complete", {}).status_code == 410
    assert db.session.execute(db.select(File).filter_by(name="new.pdf")).first() is None


def test_closing_a_request_cancels_its_unfinished_uploads_and_gives_their_space_back(app, client, headers, owner,
                                                                                     link, guest):
    done = guest.upload("done.pdf", DATA)
    unfinished = guest.start("half.pdf", DATA).get_json()
    key = db.session.execute(db.select(File.storage_key).filter_by(public_id=unfinished["id"])).scalar_one()
    write_directly(app, key, DATA)
    assert used_bytes(owner) == 2 * len(DATA)

    assert client.delete(f"/api/v1/requests/{link['id']}", headers=headers).status_code == 204
    assert used_bytes(owner) == len(DATA)
    assert (request_row().files_used, request_row().bytes_used) == (1, len(DATA))
    assert db.session.execute(db.select(File).filter_by(public_id=unfinished["id"])).first() is None
    assert app.extensions["locker.storage"].stat(key) is None
    assert [item["id"] for item in owner_files(client, headers)] == [done["id"]]


def test_a_password_gate_comes_first_and_wrong_passwords_are_rate_limited(make_app, backend, accounts):
    app = make_app(**backend, SHARE_PASSWORD_LIMIT_PER_LINK="3 per hour", SHARE_PASSWORD_LIMIT_PER_ADDRESS="100 per hour")
    with app.app_context():
        client = app.test_client()
        headers = accounts.headers(accounts.create())
        guest = Guest(app, path(make_request(client, headers, password="open sesame", message="secret plans")))
        gate = guest.open()
        html = gate.get_data(as_text=True)
        assert "needs a password" in html and "secret plans" not in html and 'id="uploader"' not in html
        locked = guest.start("a.pdf", DATA)
        assert locked.status_code == 401 and locked.get_json()["error"]["code"] == "password_required"
        for _ in range(3):
            wrong = guest.client.post(guest.path, data={"csrf_token": guest.csrf, "password": "guess"})
            assert wrong.status_code == 401 and "not right" in wrong.get_data(as_text=True)
        assert guest.client.post(guest.path, data={"csrf_token": guest.csrf, "password": "guess"}).status_code == 302
        assert "Too many attempts" in guest.client.get(guest.path).get_data(as_text=True)

        # The link's limit holds for everyone, even with the right password, until the hour is up.
        other = Guest(app, guest.path)
        other.open()
        refused = other.client.post(other.path, data={"csrf_token": other.csrf, "password": "open sesame"})
        assert refused.status_code == 302
        page = other.client.get(other.path).get_data(as_text=True)
        assert "Too many attempts" in page and "needs a password" in page
        assert other.start("a.pdf", DATA).status_code == 401


def test_wrong_passwords_are_rate_limited_per_address(make_app, backend, accounts):
    app = make_app(**backend, SHARE_PASSWORD_LIMIT_PER_LINK="100 per hour", SHARE_PASSWORD_LIMIT_PER_ADDRESS="3 per hour")
    with app.app_context():
        client = app.test_client()
        headers = accounts.headers(accounts.create())
        guests = [Guest(app, path(make_request(client, headers, password="open sesame"))) for _ in range(4)]
        for guest in guests[:3]:
            guest.open()
            assert guest.client.post(guest.path, data={"csrf_token": guest.csrf, "password": "no"}).status_code == 401
        last = guests[3]
        last.open()
        assert last.client.post(last.path, data={"csrf_token": last.csrf, "password": "open sesame"}).status_code == 302
        assert "Too many attempts" in last.client.get(last.path).get_data(as_text=True)


def test_the_right_password_unlocks_uploads_for_that_browser(app, client, headers):
    guest = Guest(app, path(make_request(client, headers, password="open sesame")))
    guest.open()
    unlocked = guest.client.post(guest.path, data={"csrf_token": guest.csrf, "password": "open sesame"})
    assert unlocked.status_code == 302
    assert guest.open().status_code == 200 and 'id="uploader"' in guest.client.get(guest.path).get_data(as_text=True)
    guest.upload("a.pdf", DATA, guest_name="Linus")
    stranger = Guest(app, guest.path)
    stranger.open()
    assert stranger.start("b.pdf", DATA).status_code == 401


def test_a_guest_reaches_only_uploads_started_in_this_visit(app, client, headers, owner, guest):
    mine = guest.start("mine.pdf", DATA).get_json()
    other = Guest(app, guest.path)
    other.open()
    theirs = other.start("theirs.pdf", DATA).get_json()
    owners_pending = client.post("/api/v1/uploads", headers=headers, json={"name": "own.bin", "size": 10}).get_json()
    data = b"owner's own file"
    owners_file = client.post("/api/v1/uploads", headers=headers, json={"name": "own.txt", "size": len(data)})
    own = owners_file.get_json()
    send(client, own["method"], own["url"], own["headers"], data)
    assert client.post(f"/api/v1/uploads/{own['id']}/complete", headers=headers).status_code == 200

    for foreign in (theirs["id"], owners_pending["id"], own["id"], "0" * 32, "not-an-id"):
        for method, suffix, body in (("POST", "/parts", {"numbers": [1]}), ("GET", "/parts", None),
                                     ("POST", "/complete", {}), ("DELETE", "", None)):
            response = guest.call(method, f"/{foreign}{suffix}", body)
            assert response.status_code == 404, (foreign, method, suffix, response.get_json())
            assert response.get_json()["error"]["code"] == "not_found"
    assert db.session.execute(db.select(db.func.count(File.id))).scalar() == 4
    assert guest.call("DELETE", f"/{mine['id']}").status_code == 204
    # Another request's guest page never lists this owner's files either.
    assert "own.txt" not in guest.client.get(guest.path).get_data(as_text=True)


def hint_of(page):
    """The uploader's hint on a guest's page, as read."""
    html = page.get_data(as_text=True)
    return re.sub(r"\s+", " ", html.split('<p class="hint">Files of any type')[1].split("</p>")[0]).strip()


def test_the_guest_page_says_each_of_a_per_file_limit_and_in_all_of_the_requests_total(app, client, headers):
    """A request's size limit is a total: the hint says "in all", and "each" only of the most one file can be."""
    app.config["MAX_FILE_SIZE"] = 10 * KIB
    unlimited = Guest(app, path(make_request(client, headers)))
    assert hint_of(unlimited.open()) == ", up to 10.0 KiB each."

    small = Guest(app, path(make_request(client, headers, max_bytes=KIB * KIB)))
    assert hint_of(small.open()) == ", up to 10.0 KiB each, 1.0 MiB in all."

    tight = Guest(app, path(make_request(client, headers, max_bytes=4 * KIB)))
    page = tight.open()
    assert hint_of(page) == ", up to 4.0 KiB in all."
    assert f'data-max-file-size="{4 * KIB}"' in page.get_data(as_text=True)  # what the uploader itself refuses
    tight.upload("scan.pdf", DATA)  # 1,000 bytes
    page = tight.open()
    assert hint_of(page) == ", up to 3.0 KiB in all."
    assert f'data-max-file-size="{4 * KIB - len(DATA)}"' in page.get_data(as_text=True)


def test_the_guest_page_lists_only_this_visits_files(app, guest):
    guest.upload("first-visit.pdf", DATA)
    later = Guest(app, guest.path)
    later.open()
    later.upload("second-visit.pdf", DATA)
    first_page = guest.client.get(guest.path).get_data(as_text=True)
    second_page = later.client.get(later.path).get_data(as_text=True)
    assert "first-visit.pdf" in first_page and "second-visit.pdf" not in first_page
    assert "second-visit.pdf" in second_page and "first-visit.pdf" not in second_page


def test_a_guest_sees_the_name_they_gave_while_the_owner_keeps_names_apart(app, client, headers, guest):
    upload(client, headers, "notes.txt", b"the owner's own notes")
    sent = guest.upload("notes.txt", DATA)
    assert sent["name"] == "notes.txt"
    assert sorted(f["name"] for f in owner_files(client, headers)) == ["notes (1).txt", "notes.txt"]
    for page in (guest.client.get(guest.path), guest.client.get(f"{guest.path}?fragment=regions")):
        html = page.get_data(as_text=True)
        assert "notes.txt" in html and "notes (1)" not in html


def test_upload_calls_need_a_visit_begun_on_the_links_page(app, guest):
    """Without one there is nothing to tie the upload to; starting a visit here would change the
    cookie while the browser's other uploads run."""
    other = Guest(app, guest.path)
    other.csrf = csrf_from(other.client.get("/login").get_data(as_text=True))
    refused = other.start("a.pdf", DATA)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "visit_required"
    assert "Reload this link's page" in refused.get_json()["error"]["message"]
    mine = guest.start("mine.pdf", DATA).get_json()
    assert other.call("POST", f"/{mine['id']}/complete", {}).status_code == 404
    assert db.session.execute(db.select(db.func.count(File.id))).scalar() == 1


def test_cancelled_failed_and_expired_uploads_give_their_slot_back(app, client, headers, owner):
    guest = Guest(app, path(make_request(client, headers, max_files=1, max_bytes=len(DATA))))
    guest.open()
    cancelled = guest.start("a.pdf", DATA).get_json()
    assert guest.start("b.pdf", DATA).status_code == 409
    assert guest.call("DELETE", f"/{cancelled['id']}").status_code == 204
    assert (request_row().files_used, request_row().bytes_used, used_bytes(owner)) == (0, 0, 0)

    failed = guest.start("c.pdf", DATA).get_json()
    key = db.session.execute(db.select(File.storage_key).filter_by(public_id=failed["id"])).scalar_one()
    write_directly(app, key, DATA + b"extra")
    refused = guest.call("POST", f"/{failed['id']}/complete", {})
    assert refused.get_json()["error"]["code"] == "size_mismatch"
    assert (request_row().files_used, request_row().bytes_used, used_bytes(owner)) == (0, 0, 0)

    stale = guest.start("d.pdf", DATA).get_json()
    db.session.execute(db.update(File).filter_by(public_id=stale["id"]).values(
        created_at=utcnow() - timedelta(days=2)))
    db.session.commit()
    assert maintenance.sweep().expired_uploads == [stale["id"]]
    assert (request_row().files_used, request_row().bytes_used, used_bytes(owner)) == (0, 0, 0)
    guest.upload("e.pdf", DATA)
    assert (request_row().files_used, request_row().bytes_used) == (1, len(DATA))


@pytest.mark.parametrize("guest_name,message", [
    ("Ada\x00", "can't contain control characters"),
    ("Ada\nLovelace", "can't contain control characters"),
    ("Ada\u202eecalevol", "text-direction overrides"),
    ("x" * 101, "at most 100 characters"),
])
def test_bad_guest_names_are_refused_clearly(app, guest, guest_name, message):
    response = guest.start("a.pdf", DATA, guest_name=guest_name)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["code"] == "invalid_guest_name"
    assert message in response.get_json()["error"]["message"]
    assert db.session.execute(db.select(File)).first() is None
    assert request_row().files_used == 0


def test_guest_calls_need_the_pages_csrf_token(app, guest):
    guest.csrf = "forged"
    response = guest.start("a.pdf", DATA)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "csrf_failed"
    assert db.session.execute(db.select(File)).first() is None


def test_upload_starts_are_rate_limited_per_address(make_app, backend, accounts):
    app = make_app(**backend, REQUEST_UPLOAD_LIMIT_PER_ADDRESS="2 per hour")
    with app.app_context():
        client = app.test_client()
        guest = Guest(app, path(make_request(client, accounts.headers(accounts.create()))))
        guest.open()
        assert [guest.start(f"{n}.pdf", DATA).status_code for n in range(3)] == [201, 201, 429]
        assert guest.start("x.pdf", DATA).get_json()["error"]["code"] == "rate_limited"


def test_unknown_links_are_404(app, guest):
    assert guest.client.get("/r/no-such-token").status_code == 404
    response = guest.client.post("/r/no-such-token/uploads", json={"name": "a.pdf", "size": 1},
                                 headers={"X-CSRFToken": guest.csrf, "Accept": "application/json"})
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_the_service_refuses_uploads_once_the_request_ends(app, owner):
    with app.test_request_context():
        file_request, _ = file_requests.create_request(owner, "Soon over")
    file_requests.revoke_request(owner, file_request.public_id)
    with pytest.raises(RequestEnded):
        guest_uploads.start(db.session.get(FileRequest, file_request.id), "a visit", "a.pdf", 10)
    assert db.session.execute(db.select(File).filter_by(status=FileStatus.PENDING)).first() is None


def test_the_owner_sees_a_guests_unfinished_upload_as_theirs_to_cancel_not_to_resume(app, accounts, owner, headers,
                                                                                       client, link, guest):
    started = guest.start("half.pdf", DATA)
    own = client.post("/api/v1/uploads", headers=headers,
                      json={"name": "mine.pdf", "size": len(DATA), "content_type": "application/pdf"})
    assert (started.status_code, own.status_code) == (201, 201)
    browser, _ = accounts.signed_in_client(owner)
    html = browser.get("/files").get_data(as_text=True)
    assert 'aria-label="Resume mine.pdf"' in html and 'aria-label="Resume half.pdf"' not in html  # it needs their file
    assert 'aria-label="Cancel half.pdf"' in html
    assert "Being sent by a guest through “Documents for the visa”" in html


def test_a_request_delivers_into_its_chosen_folder_and_the_root_once_that_folder_is_gone(app, client, headers,
                                                                                        accounts, owner):
    inbox = client.post("/api/v1/folders", headers=headers, json={"name": "Visa"}).get_json()
    made = make_request(client, headers, folder=inbox["id"])
    assert (made["folder"], made["folder_path"]) == (inbox["id"], "Visa")
    guest = Guest(app, path(made))
    guest.open()
    file = guest.upload("scan.pdf", DATA)
    listed = client.get("/api/v1/files", headers=headers, query_string={"folder": inbox["id"]}).get_json()["items"]
    assert [(item["id"], item["path"]) for item in listed] == [(file["id"], "Visa")]
    assert "path" not in file or file["path"] is None, "the guest is not told where the owner keeps it"

    client.delete(f"/api/v1/folders/{inbox['id']}", headers=headers)
    assert client.get("/api/v1/requests", headers=headers).get_json()["items"][0]["folder_path"] == ""
    later = guest.upload("later.pdf", DATA)
    assert client.get(f"/api/v1/files/{later['id']}", headers=headers).get_json()["path"] == ""

    theirs = accounts.headers(accounts.create("other"))
    refused = client.post("/api/v1/requests", headers=theirs, json={"title": "x", "folder": inbox["id"]})
    assert refused.status_code == 404
    changed = client.patch(f"/api/v1/requests/{made['id']}", headers=headers, json={"folder": "root"})
    assert changed.status_code == 200 and changed.get_json()["folder_path"] == ""


def test_the_request_pages_offer_the_owners_folders(app, client, headers, owner, accounts):
    client.post("/api/v1/folders", headers=headers, json={"name": "Receipts"})
    browser, _ = accounts.signed_in_client(owner)
    page = browser.get("/requests/new").get_data(as_text=True)
    assert '<label for="folder">Files arrive in</label>' in page and ">Receipts</option>" in page
    receipts = client.get("/api/v1/folders/root", headers=headers).get_json()["folders"][0]["id"]
    made = browser.post("/requests/new", data={"csrf_token": csrf_from(page), "title": "Receipts please",
                                               "expires_in": "7d", "folder": receipts})
    assert made.status_code == 201
    item = client.get("/api/v1/requests", headers=headers).get_json()["items"][0]
    assert item["folder_path"] == "Receipts"


def test_listing_requests_reads_their_folders_in_a_few_queries_however_many_there_are(client, headers):
    from tests.helpers import recorded_sql
    for number in range(5):
        inbox = client.post("/api/v1/folders", headers=headers, json={"name": f"Inbox {number}"}).get_json()
        make_request(client, headers, title=f"Request {number}", **({"folder": inbox["id"]} if number % 2 else {}))
    db.session.remove()
    with recorded_sql() as executed:
        items = client.get("/api/v1/requests", headers=headers).get_json()["items"]
    assert sorted(item["folder_path"] for item in items) == ["", "", "", "Inbox 1", "Inbox 3"]
    assert len([statement for statement, _ in executed if "folders" in statement]) <= 3
