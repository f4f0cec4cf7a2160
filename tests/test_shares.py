"""Share links: public downloads with expiry, passwords, download limits and revocation."""
import time
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import Share, utcnow
from tests.conftest import csrf_from
from tests.helpers import at_once, delete_for_good, path, recorded_sql, send, sha256, share, upload, visit_and_download

DATA = b"quarterly report, final\n" * 50
HTTPS = "https://localhost"


@pytest.fixture
def file(client, headers):
    return upload(client, headers, "report.pdf", DATA, "application/pdf", sha256=sha256(DATA))


def test_a_link_serves_the_file_to_anyone_and_counts_downloads(app, client, headers, file):
    link = share(client, headers, file, note="Numbers for Friday", expires_in="7d")
    assert link["state"] == "active" and link["download_count"] == 0 and link["has_password"] is False
    page, download = visit_and_download(app, path(link))
    html = page.get_data(as_text=True)
    assert "report.pdf" in html and "Numbers for Friday" in html and sha256(DATA) in html
    assert page.headers["X-Robots-Tag"].startswith("noindex")
    assert download.status_code == 302
    status, response_headers, body = send(client, "GET", download.headers["Location"])
    assert status == 200 and body == DATA and response_headers["Content-Disposition"].startswith("attachment")
    listed = client.get("/api/v1/shares", headers=headers).get_json()["items"]
    assert listed[0]["download_count"] == 1 and listed[0]["last_download_at"] is not None
    assert listed[0]["url"] == link["url"]


def test_only_a_hash_of_the_link_is_stored(client, headers, file):
    link = share(client, headers, file)
    token = path(link).rsplit("/", 1)[1]
    assert len(token) >= 22  # at least 128 bits, URL-safe
    stored = db.session.execute(db.select(Share)).scalar_one()
    assert token not in stored.token_hash and stored.token_hash != token


def test_the_download_limit_ends_the_link_and_signs_nothing_more(app, client, headers, file, monkeypatch):
    link = share(client, headers, file, max_downloads=1)
    assert visit_and_download(app, path(link))[1].status_code == 302
    storage = app.extensions["locker.storage"]
    monkeypatch.setattr(storage, "download_url", lambda *args, **kwargs: pytest.fail("a URL was signed"))
    page, _ = visit_and_download(app, path(link))
    assert page.status_code == 410 and "used as many times" in page.get_data(as_text=True)
    assert client.get("/api/v1/shares", headers=headers).get_json()["items"][0]["state"] == "used_up"


def test_two_downloads_at_once_on_the_last_allowed_download_give_one(app, client, headers, file):
    link = share(client, headers, file, max_downloads=1)
    pages = []
    for _ in range(2):
        recipient = app.test_client()
        pages.append((recipient, csrf_from(recipient.get(path(link)).get_data(as_text=True))))

    def press_download(number, start):
        recipient, token = pages[number]
        start.wait()
        return recipient.post(f"{path(link)}/download", data={"csrf_token": token}).status_code

    statuses = at_once(2, press_download)
    assert sorted(statuses) == [302, 410]
    assert db.session.execute(db.select(Share.download_count)).scalar_one() == 1


def test_expired_and_revoked_links_answer_410(app, client, headers, file):
    expired = share(client, headers, file, expires_in="1h")
    db.session.execute(db.update(Share).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    page, _ = visit_and_download(app, path(expired))
    assert page.status_code == 410 and "expired" in page.get_data(as_text=True)

    revoked = share(client, headers, file)
    assert client.delete(f"/api/v1/shares/{revoked['id']}", headers=headers).status_code == 204
    assert client.delete(f"/api/v1/shares/{revoked['id']}", headers=headers).status_code == 204
    page, _ = visit_and_download(app, path(revoked))
    assert page.status_code == 410 and "turned off" in page.get_data(as_text=True)


def test_a_page_opened_before_revoking_cannot_download_after(app, client, headers, file):
    link = share(client, headers, file)
    recipient = app.test_client()
    token = csrf_from(recipient.get(path(link)).get_data(as_text=True))
    client.delete(f"/api/v1/shares/{link['id']}", headers=headers)
    assert recipient.post(f"{path(link)}/download", data={"csrf_token": token}).status_code == 410


def test_a_trashed_files_links_answer_410_work_again_after_a_restore_and_end_when_it_is_purged(
        app, client, headers, file):
    link = share(client, headers, file)
    client.delete(f"/api/v1/files/{file['id']}", headers=headers)
    page = visit_and_download(app, path(link))[0]
    assert page.status_code == 410 and "The link works again if they restore it." in page.get_data(as_text=True)
    assert client.post("/api/v1/trash/restore", headers=headers, json={"files": [file["id"]]}).status_code == 204
    page, through_link = visit_and_download(app, path(link))
    assert (page.status_code, through_link.status_code) == (200, 302)
    delete_for_good(client, headers, file["id"])
    assert visit_and_download(app, path(link))[0].status_code == 410
    assert client.get("/api/v1/shares", headers=headers).get_json()["items"][0]["state"] == "revoked"


def test_a_link_that_expired_while_its_file_was_in_the_trash_stays_ended(app, client, headers, file):
    link = share(client, headers, file, expires_in="1h")
    client.delete(f"/api/v1/files/{file['id']}", headers=headers)
    db.session.execute(db.update(Share).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    client.post("/api/v1/trash/restore", headers=headers, json={"files": [file["id"]]})
    page = visit_and_download(app, path(link))[0]
    assert page.status_code == 410 and "expired" in page.get_data(as_text=True)


def test_a_deleted_files_links_never_name_a_later_file(client, headers, file, accounts):
    share(client, headers, file)
    delete_for_good(client, headers, file["id"])
    # SQLite hands a deleted row's id to the next row, so the link must not keep pointing at it.
    upload(client, accounts.headers(accounts.create()), "someone-elses.pdf", DATA, "application/pdf")
    listed = client.get("/api/v1/shares", headers=headers).get_json()["items"][0]
    assert (listed["file_id"], listed["file_name"], listed["state"]) == (None, None, "revoked")


def test_listing_links_reads_their_files_in_one_query(client, headers):
    for number in range(4):
        share(client, headers, upload(client, headers, f"f{number}.txt", b"x" * (number + 1)))
    db.session.remove()  # nothing already loaded may hide a query
    with recorded_sql() as executed:
        listed = client.get("/api/v1/shares", headers=headers).get_json()["items"]
    assert sorted(item["file_name"] for item in listed) == ["f0.txt", "f1.txt", "f2.txt", "f3.txt"]
    assert len([statement for statement, _ in executed if "FROM files" in statement]) == 1


def test_unknown_links_are_404(client):
    assert client.get("/s/not-a-real-token").status_code == 404
    token = csrf_from(client.get("/login").get_data(as_text=True))
    assert client.post("/s/not-a-real-token/download", data={"csrf_token": token}).status_code == 404


def unlock(client, link_path, password):
    token = csrf_from(client.get(link_path).get_data(as_text=True))
    return client.post(link_path, data={"csrf_token": token, "password": password})


def test_password_links_ask_first_and_remember_for_a_while(app, client, headers, file, monkeypatch):
    link = share(client, headers, file, password="open sesame")
    recipient = app.test_client()
    page = recipient.get(path(link))
    assert page.status_code == 200 and "needs a password" in page.get_data(as_text=True)
    assert "report.pdf" not in page.get_data(as_text=True)
    assert recipient.post(f"{path(link)}/download",
                          data={"csrf_token": csrf_from(page.get_data(as_text=True))}).status_code == 401
    wrong = unlock(recipient, path(link), "guess")
    assert wrong.status_code == 401 and "not right" in wrong.get_data(as_text=True)
    assert unlock(recipient, path(link), "open sesame").status_code == 302
    page, download = visit_and_download(app, path(link), recipient)
    assert "report.pdf" in page.get_data(as_text=True) and download.status_code == 302
    # Another browser must give the password itself.
    assert "needs a password" in app.test_client().get(path(link)).get_data(as_text=True)
    # And this one only for SHARE_UNLOCK_MINUTES.
    later = time.time() + 31 * 60
    monkeypatch.setattr(time, "time", lambda: later)
    assert "needs a password" in recipient.get(path(link)).get_data(as_text=True)


def submit_over_https(client, page_path, action=None, **fields):
    """Send a form of the page at `page_path` (to `action`, by default the page) as a browser does over https:
    with the Referer the page's Referrer-Policy lets it send to its own site (none under no-referrer)."""
    page = client.get(page_path, base_url=HTTPS)
    assert page.status_code == 200, page.status_code
    policy = page.headers.get("Referrer-Policy", "strict-origin-when-cross-origin")  # the browsers' default
    referer = {} if policy == "no-referrer" else {"Referer": HTTPS + page_path}
    return client.post(action or page_path, base_url=HTTPS, headers=referer,
                       data={"csrf_token": csrf_from(page.get_data(as_text=True)), **fields})


def test_link_forms_work_over_https_where_a_referer_from_locker_is_required(app, signed_in):
    """Over https Locker wants each form sent with a Referer from its own site; link pages must let the browser
    send one (to Locker only: their policy keeps the link's token from every other site)."""
    client, _, headers = signed_in
    file = upload(client, headers, "report.pdf", DATA, "application/pdf")
    made = submit_over_https(client, f"/files/{file['id']}/share", password="open sesame", expires_in="7d")
    assert made.status_code == 201, made.get_data(as_text=True)
    link_path = path(client.get("/api/v1/shares", headers=headers).get_json()["items"][0])

    recipient = app.test_client()
    assert recipient.get(link_path, base_url=HTTPS).headers["Referrer-Policy"] == "same-origin"
    assert submit_over_https(recipient, link_path, password="open sesame").status_code == 302
    download = submit_over_https(recipient, link_path, action=f"{link_path}/download")
    assert download.status_code == 302
    assert send(recipient, "GET", download.headers["Location"])[2] == DATA


def assert_locked_out(app, link_path):
    """Even the right password is refused now, with the reason shown, and the link stays locked."""
    recipient = app.test_client()
    refused = unlock(recipient, link_path, "right one")
    assert refused.status_code == 302
    page = recipient.get(refused.headers["Location"]).get_data(as_text=True)
    assert "Too many attempts" in page and "needs a password" in page


def test_wrong_passwords_are_rate_limited_per_link(make_app, backend, accounts):
    app = make_app(**backend, SHARE_PASSWORD_LIMIT_PER_LINK="3 per hour", SHARE_PASSWORD_LIMIT_PER_ADDRESS="100 per hour")
    with app.app_context():
        headers = accounts.headers(accounts.create())
        client = app.test_client()
        file = upload(client, headers, "a.txt", b"x")
        link, other = share(client, headers, file, password="right one"), share(client, headers, file, password="right one")
        for _ in range(3):
            assert unlock(app.test_client(), path(link), "wrong").status_code == 401
        assert_locked_out(app, path(link))
        # Other links are unaffected.
        recipient = app.test_client()
        assert unlock(recipient, path(other), "right one").status_code == 302
        assert "needs a password" not in recipient.get(path(other)).get_data(as_text=True)


def test_wrong_passwords_are_rate_limited_per_address(make_app, backend, accounts):
    app = make_app(**backend, SHARE_PASSWORD_LIMIT_PER_LINK="100 per hour", SHARE_PASSWORD_LIMIT_PER_ADDRESS="3 per hour")
    with app.app_context():
        headers = accounts.headers(accounts.create())
        client = app.test_client()
        file = upload(client, headers, "a.txt", b"x")
        links = [share(client, headers, file, password="right one") for _ in range(4)]
        for link in links[:3]:
            assert unlock(app.test_client(), path(link), "wrong").status_code == 401
        assert_locked_out(app, path(links[3]))


@pytest.mark.parametrize("options,code", [
    ({"expires_in": "soon"}, "invalid_expiry"), ({"expires_in": "0d"}, "invalid_expiry"),
    ({"expires_at": "2001-01-01T00:00:00Z"}, "invalid_expiry"), ({"expires_at": "tomorrow"}, "invalid_expiry"),
    ({"expires_at": "2099-01-01T00:00:00Z", "expires_in": "7d"}, "invalid_expiry"),
    ({"max_downloads": 0}, "invalid_max_downloads"), ({"max_downloads": "5"}, "invalid_max_downloads"),
    ({"password": ""}, "invalid_password"), ({"note": "x" * 1001}, "invalid_note"),
    ({"note": "bad\u0000note"}, "invalid_note"),
])
def test_bad_share_requests_are_refused_and_change_nothing(client, headers, file, options, code):
    response = client.post("/api/v1/shares", headers=headers, json={"file_id": file["id"], **options})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == code
    assert db.session.execute(db.select(Share)).first() is None


def test_expiry_dates_with_zones_are_stored_in_utc(client, headers, file):
    link = share(client, headers, file, expires_at="2099-06-01T12:00:00+02:00")
    assert link["expires_at"] == "2099-06-01T10:00:00Z"


def test_another_users_file_or_link_is_404(client, headers, file, accounts):
    intruder = accounts.headers(accounts.create())
    assert client.post("/api/v1/shares", headers=intruder, json={"file_id": file["id"]}).status_code == 404
    link = share(client, headers, file)
    assert client.delete(f"/api/v1/shares/{link['id']}", headers=intruder).status_code == 404
    assert client.get("/api/v1/shares", headers=intruder).get_json()["items"] == []
    assert client.get("/api/v1/shares", headers=headers).get_json()["items"][0]["state"] == "active"


def test_sharing_from_the_browser(app, accounts):
    client, user = accounts.signed_in_client()
    file = upload(client, accounts.headers(user), "photo.jpg", b"jpeg", "image/jpeg")
    form = client.get(f"/files/{file['id']}/share").get_data(as_text=True)
    assert '<label for="max_downloads">' in form and '<label for="password">' in form
    created = client.post(f"/files/{file['id']}/share", data={
        "csrf_token": csrf_from(form), "expires_in": "1d", "max_downloads": "3", "note": "for you"})
    html = created.get_data(as_text=True)
    assert created.status_code == 201 and 'id="share-url"' in html and "Copy link" in html
    listing = client.get("/shares").get_data(as_text=True)
    assert "photo.jpg" in listing and "0 of 3" in listing and "Revoke" in listing
    share_id = db.session.execute(db.select(Share.public_id)).scalar_one()
    client.post(f"/shares/{share_id}/revoke", data={"csrf_token": csrf_from(listing)})
    assert "Turned off" in client.get("/shares").get_data(as_text=True)
