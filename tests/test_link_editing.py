"""Owners copy their links again and change them; the kept token is useless without SECRET_KEY."""
import base64
import html as html_lib
import re
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from cryptography.exceptions import InvalidTag
from playwright.sync_api import expect

from app import security
from app.extensions import db
from app.models import AuditEvent, FileRequest, Share, User, utcnow
from app.services import links, tokens, users
from tests.browser_support import browser, live_server, log_in  # noqa: F401  (fixtures)
from tests.conftest import PASSWORD, csrf_from
from tests.helpers import path, share, upload, visit_and_download

DATA = b"the contract, signed\n" * 20


@pytest.fixture
def backend():
    """Links behave alike on both backends (test_shares covers that); one is enough here."""
    return {"STORAGE_BACKEND": "local"}


@pytest.fixture
def file(client, headers):
    return upload(client, headers, "contract.pdf", DATA, "application/pdf")


def token_of(link):
    return path(link).rsplit("/", 1)[1]


def stored_share():
    db.session.rollback()
    return db.session.execute(db.select(Share)).scalar_one()


def listed(client, headers):
    response = client.get("/api/v1/shares", headers=headers)
    assert response.status_code == 200
    return response.get_json()["items"]


def patch(client, headers, link, **body):
    return client.patch(f"/api/v1/shares/{link['id']}", headers=headers, json=body)


def edit_page(client, link):
    return client.get(f"/shares/{link['id']}/edit")


def post_edit(client, link, **data):
    """Send the Change form as a browser would: every field, with what the page filled in unless given."""
    page = edit_page(client, link).get_data(as_text=True)
    fields = {"csrf_token": csrf_from(page), "expires_in": "keep", "utc_offset_minutes": "0",
              "max_downloads": current_value(page, "max_downloads"), "note": current_note(page)}
    return client.post(f"/shares/{link['id']}/edit", data={**fields, **data})


def current_value(page, name):
    match = re.search(rf'id="{name}"[^>]*value="([^"]*)"', page) or re.search(rf'value="([^"]*)"[^>]*id="{name}"', page)
    return html_lib.unescape(match.group(1)) if match else ""


def current_note(page, name="note"):
    return html_lib.unescape(re.search(rf'<textarea[^>]*id="{name}"[^>]*>\s*(.*?)</textarea>', page, re.S).group(1))


def followed(client, response):
    """The page a redirect leads to, with what was flashed on the way."""
    return client.get(response.headers["Location"], follow_redirects=True).get_data(as_text=True)


def field_errors(page, name):
    match = re.search(rf'<ul class="field-errors" id="{name}-errors">(.*?)</ul>', page, re.S)
    return re.findall(r"<li>(.*?)</li>", match.group(1)) if match else []


# --- At rest ---------------------------------------------------------------------


def test_the_stored_row_holds_no_token_and_without_the_key_yields_none(app, client, headers, file):
    link = share(client, headers, file)
    token = token_of(link)
    stored = stored_share()
    row = db.session.execute(db.select(Share.__table__)).one()._asdict()
    assert not any(isinstance(value, str) and token in value for value in row.values())
    sealed = base64.urlsafe_b64decode(stored.token_encrypted)
    assert token.encode() not in sealed
    # Someone with a copy of the database but another key (or none) gets nothing out of the column.
    for guess in ("", "testing2", stored.token_hash, stored.public_id):
        with pytest.raises(InvalidTag):
            security.cipher_for(guess.encode(), links.TOKEN_KEY_INFO).decrypt(sealed[:12], sealed[12:], links.bound_to(stored))
    # With the key it is the link's token, bound to this row: moved onto another row it reveals nothing.
    assert links.recover_token(stored) == token
    other = share(client, headers, file)
    moved = db.session.execute(db.select(Share).filter_by(public_id=other["id"])).scalar_one()
    moved.token_encrypted = stored.token_encrypted
    assert links.recover_token(moved) is None


def test_a_link_is_still_found_by_its_hash_alone(app, client, headers, file):
    link = share(client, headers, file)
    db.session.execute(db.update(Share).values(token_encrypted="not even base64 !"))
    db.session.commit()
    page, download = visit_and_download(app, path(link))
    assert page.status_code == 200 and download.status_code == 302


def test_after_secret_key_rotation_links_work_but_cannot_be_shown(make_app, app, client, headers, file, owner,
                                                                  accounts):
    link = share(client, headers, file)
    assert listed(client, headers)[0]["url"] == link["url"]
    owner_id = owner.id
    rotated = make_app(STORAGE_BACKEND="local", SECRET_KEY="a different secret")
    with rotated.app_context():
        page, download = visit_and_download(rotated, path(link))
        assert page.status_code == 200 and download.status_code == 302
        user = db.session.get(User, owner_id)
        item, = listed(rotated.test_client(), accounts.headers(user))
        assert item["url"] is None and item["state"] == "active"
        browser, _ = accounts.signed_in_client(user)
        listing = browser.get("/shares").get_data(as_text=True)
        assert "can't show this link again" in listing and token_of(link) not in listing
        assert "Copy link" not in listing
        edit = browser.get(f"/shares/{link['id']}/edit").get_data(as_text=True)
        assert "can't show this link again" in edit and "Copy link" not in edit
        # Its settings can still change.
        assert post_edit(browser, link, note="still mine").status_code == 302


def test_links_made_before_tokens_were_kept_work_and_say_they_cannot_be_shown(app, accounts):
    browser, user = accounts.signed_in_client()
    headers = accounts.headers(user)
    link = share(browser, headers, upload(browser, headers, "old.txt", b"old"))
    db.session.execute(db.update(Share).values(token_encrypted=None))
    db.session.commit()
    assert visit_and_download(app, path(link))[1].status_code == 302
    assert listed(browser, headers)[0]["url"] is None
    listing = browser.get("/shares").get_data(as_text=True)
    assert "can't show this link again" in listing and "make a new one" in listing and "Copy link" not in listing


# --- Copying again -------------------------------------------------------------


def test_the_links_page_shows_each_working_link_to_copy(app, accounts):
    browser, user = accounts.signed_in_client()
    headers = accounts.headers(user)
    file = upload(browser, headers, "photo.jpg", b"jpeg", "image/jpeg")
    link, ended = share(browser, headers, file), share(browser, headers, file)
    browser.delete(f"/api/v1/shares/{ended['id']}", headers=headers)
    listing = browser.get("/shares").get_data(as_text=True)
    input_id = f"share-url-{link['id']}"
    assert f'<label for="{input_id}">Link to photo.jpg</label>' in listing
    assert re.search(rf'<input id="{input_id}" type="text" readonly value="{re.escape(link["url"])}">', listing)
    assert f'data-copy="{input_id}" aria-label="Copy link: link to photo.jpg">Copy link</button>' in listing
    assert ended["id"] in listing and f"share-url-{ended['id']}" not in listing
    edit = browser.get(f"/shares/{link['id']}/edit").get_data(as_text=True)
    assert link["url"] in edit and 'role="img" aria-label="QR code for the link"' in edit


# --- Changing: the pages ---------------------------------------------------------


def test_changing_a_link_from_its_page(app, accounts):
    browser, user = accounts.signed_in_client()
    headers = accounts.headers(user)
    link = share(browser, headers, upload(browser, headers, "plan.pdf", DATA), max_downloads=2, note="old note")
    page = edit_page(browser, link).get_data(as_text=True)
    for name in ("expires_in", "expires_on", "max_downloads", "password", "note"):
        assert f'<label for="{name}">' in page
    assert current_value(page, "max_downloads") == "2" and current_note(page) == "old note"
    changed = post_edit(browser, link, expires_in="30d", max_downloads="5", note="new note", password="s3cret word")
    assert changed.status_code == 302
    flashed = followed(browser, changed)
    assert "Link changed: expiry, new password, download limit, note." in flashed
    item = listed(browser, headers)[0]
    assert (item["max_downloads"], item["note"], item["has_password"]) == (5, "new note", True)
    assert item["url"] == link["url"]
    expires = stored_share().expires_at
    assert timedelta(days=29, hours=23) < expires - utcnow() <= timedelta(days=30)
    event = db.session.execute(db.select(AuditEvent).filter_by(action="share_changed")).scalar_one()
    assert event.detail == "expiry, new password, download limit, note" and event.actor_id == user.id
    assert "s3cret" not in (event.detail or "")
    recipient = app.test_client()
    assert "needs a password" in recipient.get(path(link)).get_data(as_text=True)
    # Sending the page back untouched changes nothing, and says so.
    again = post_edit(browser, link)
    assert "Nothing to change" in followed(browser, again)
    assert db.session.execute(db.select(db.func.count()).select_from(AuditEvent)
                              .filter_by(action="share_changed")).scalar() == 1


def test_a_link_without_a_password_is_not_offered_to_remove_one(app, accounts):
    browser, user = accounts.signed_in_client()
    headers = accounts.headers(user)
    link = share(browser, headers, upload(browser, headers, "plan.pdf", DATA))
    assert 'id="remove_password"' not in edit_page(browser, link).get_data(as_text=True)


def test_removing_the_password_opens_the_link_without_one(app, accounts):
    browser, user = accounts.signed_in_client()
    headers = accounts.headers(user)
    link = share(browser, headers, upload(browser, headers, "plan.pdf", DATA), password="open sesame")
    assert "needs a password" in app.test_client().get(path(link)).get_data(as_text=True)
    html = edit_page(browser, link).get_data(as_text=True)
    assert html.index('id="password"') < html.index('id="remove_password"') < html.index('id="note"'), \
        "offered next to the password"
    both = post_edit(browser, link, remove_password="y", password="another one")
    assert both.status_code == 400
    assert field_errors(both.get_data(as_text=True), "remove_password") == [
        "Set a new password or remove it, not both."]
    removed = post_edit(browser, link, remove_password="y")
    assert "Link changed: password removed." in followed(browser, removed)
    page, download = visit_and_download(app, path(link))
    assert "plan.pdf" in page.get_data(as_text=True) and download.status_code == 302


def test_a_new_password_must_be_given_again_by_browsers_that_gave_the_old_one(app, client, headers, file):
    link = share(client, headers, file, password="old secret")
    recipient = app.test_client()
    page = recipient.get(path(link)).get_data(as_text=True)
    assert recipient.post(path(link), data={"csrf_token": csrf_from(page), "password": "old secret"}).status_code == 302
    assert "contract.pdf" in recipient.get(path(link)).get_data(as_text=True)
    assert patch(client, headers, link, note="no password change").status_code == 200
    assert "contract.pdf" in recipient.get(path(link)).get_data(as_text=True)
    assert patch(client, headers, link, password="new secret").status_code == 200
    assert "needs a password" in recipient.get(path(link)).get_data(as_text=True)


def test_a_past_date_is_refused_in_plain_words_and_changes_nothing(app, accounts):
    browser, user = accounts.signed_in_client()
    headers = accounts.headers(user)
    link = share(browser, headers, upload(browser, headers, "plan.pdf", DATA), expires_in="7d")
    before = stored_share().expires_at
    yesterday = (utcnow() - timedelta(days=1)).date().isoformat()
    refused = post_edit(browser, link, expires_on=yesterday)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert field_errors(page, "expires_on") == ["Choose a date in the future."] and "expires_at" not in page
    assert stored_share().expires_at == before


def test_the_download_limit_stays_above_the_downloads_made(app, accounts):
    browser, user = accounts.signed_in_client()
    headers = accounts.headers(user)
    link = share(browser, headers, upload(browser, headers, "plan.pdf", DATA), max_downloads=5)
    for _ in range(2):
        assert visit_and_download(app, path(link))[1].status_code == 302
    refused = post_edit(browser, link, max_downloads="2")
    assert refused.status_code == 400
    assert field_errors(refused.get_data(as_text=True), "max_downloads") == [
        "This link has been downloaded 2 times already, so its download limit must be more than 2. "
        "To end the link now, revoke it."]
    assert post_edit(browser, link, max_downloads="3").status_code == 302
    assert visit_and_download(app, path(link))[1].status_code == 302
    assert visit_and_download(app, path(link))[0].status_code == 410


def test_another_users_link_is_404_on_the_page(app, accounts):
    owner_browser, owner = accounts.signed_in_client()
    headers = accounts.headers(owner)
    link = share(owner_browser, headers, upload(owner_browser, headers, "plan.pdf", DATA))
    assert edit_page(owner_browser, link).status_code == 200
    intruder, _ = accounts.signed_in_client()
    assert edit_page(intruder, link).status_code == 404
    token = csrf_from(intruder.get("/shares").get_data(as_text=True))
    response = intruder.post(f"/shares/{link['id']}/edit", data={"csrf_token": token, "expires_in": "", "note": "x"})
    assert response.status_code == 404
    assert link["url"] not in intruder.get("/shares").get_data(as_text=True)
    assert stored_share().note is None and stored_share().expires_at is None


def test_changing_needs_the_forms_csrf_token(app, accounts):
    browser, user = accounts.signed_in_client()
    headers = accounts.headers(user)
    link = share(browser, headers, upload(browser, headers, "plan.pdf", DATA))
    response = browser.post(f"/shares/{link['id']}/edit", data={"expires_in": "1h", "note": "forged"})
    assert response.status_code == 302
    assert "form expired" in followed(browser, response)
    assert stored_share().note is None


def test_an_ended_link_cannot_be_changed(app, accounts):
    browser, user = accounts.signed_in_client()
    headers = accounts.headers(user)
    link = share(browser, headers, upload(browser, headers, "plan.pdf", DATA))
    page = edit_page(browser, link).get_data(as_text=True)
    browser.delete(f"/api/v1/shares/{link['id']}", headers=headers)
    assert edit_page(browser, link).status_code == 409
    response = browser.post(f"/shares/{link['id']}/edit", data={"csrf_token": csrf_from(page), "expires_in": "1d"})
    assert "make a new link instead" in followed(browser, response)
    assert patch(browser, headers, link, note="x").get_json()["error"]["code"] == "share_ended"
    assert visit_and_download(app, path(link))[0].status_code == 410


# --- Changing: the API ---------------------------------------------------------------


def test_patch_changes_only_the_fields_given(app, client, headers, file):
    link = share(client, headers, file, expires_in="1d", password="pass word", max_downloads=3, note="keep me")
    response = patch(client, headers, link, max_downloads=None)
    body = response.get_json()
    assert response.status_code == 200
    assert (body["max_downloads"], body["note"], body["has_password"]) == (None, "keep me", True)
    assert body["url"] == link["url"]
    assert body["expires_at"] == link["expires_at"]
    body = patch(client, headers, link, expires_at="2099-01-01T12:00:00+01:00", password=None, note=None).get_json()
    assert (body["expires_at"], body["has_password"], body["note"]) == ("2099-01-01T11:00:00Z", False, None)
    assert "contract.pdf" in visit_and_download(app, path(link))[0].get_data(as_text=True)
    body = patch(client, headers, link, expires_in=None).get_json()
    assert body["expires_at"] is None


@pytest.mark.parametrize("change,code", [
    ({"expires_at": "2001-01-01T00:00:00Z"}, "invalid_expiry"), ({"expires_in": "soon"}, "invalid_expiry"),
    ({"expires_at": "2099-01-01T00:00:00Z", "expires_in": "7d"}, "invalid_expiry"),
    ({"max_downloads": 0}, "invalid_max_downloads"), ({"max_downloads": "5"}, "invalid_max_downloads"),
    ({"max_downloads": 1}, "invalid_max_downloads"),
    ({"password": ""}, "invalid_password"), ({"note": "x" * 1001}, "invalid_note"),
    ({"note": "a\u0000b"}, "invalid_note"),
])
def test_bad_patches_are_refused_by_the_create_rules_and_change_nothing(app, client, headers, file, change, code):
    link = share(client, headers, file, expires_in="7d", max_downloads=4)
    assert visit_and_download(app, path(link))[1].status_code == 302
    before = stored_share()
    snapshot = (before.expires_at, before.max_downloads, before.password_hash, before.note)
    response = patch(client, headers, link, **change)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == code
    after = stored_share()
    assert (after.expires_at, after.max_downloads, after.password_hash, after.note) == snapshot


@pytest.mark.parametrize("meanwhile,status,code", [
    ({"download_count": 3}, 400, "invalid_max_downloads"), ({"revoked_at": utcnow()}, 409, "share_ended")])
def test_a_download_or_revocation_between_look_and_write_wins(app, client, headers, file, monkeypatch,
                                                              meanwhile, status, code):
    link = share(client, headers, file, max_downloads=5)
    for _ in range(2):
        assert visit_and_download(app, path(link))[1].status_code == 302
    write = links.update_if_live

    def after_another_request(link_row, values, *conditions):
        with db.engine.begin() as connection:
            connection.execute(db.update(Share).where(Share.id == link_row.id).values(**meanwhile))
        return write(link_row, values, *conditions)

    monkeypatch.setattr(links, "update_if_live", after_another_request)
    response = patch(client, headers, link, max_downloads=3)
    assert response.status_code == status and response.get_json()["error"]["code"] == code
    assert stored_share().max_downloads == 5


def test_patching_another_users_link_is_404(client, headers, file, accounts):
    link = share(client, headers, file)
    intruder = accounts.headers(accounts.create())
    response = patch(client, intruder, link, note="mine now")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    assert patch(client, headers, {"id": "f" * 32}, note="x").status_code == 404
    assert stored_share().note is None


def test_the_api_document_describes_the_change(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/shares/{share_id}"]["patch"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(spec["components"]["schemas"][schema]["properties"]) >= {
        "expires_at", "expires_in", "password", "max_downloads", "note"}
    listed_item = spec["components"]["schemas"]["ListedShare"]["properties"]["url"]
    assert listed_item.get("nullable") is True


# --- Plain words for a past date on the forms that make links ------------------------


def test_the_share_form_says_a_past_date_in_plain_words(app, accounts):
    browser, user = accounts.signed_in_client()
    file = upload(browser, accounts.headers(user), "plan.pdf", DATA)
    form = browser.get(f"/files/{file['id']}/share").get_data(as_text=True)
    refused = browser.post(f"/files/{file['id']}/share", data={
        "csrf_token": csrf_from(form), "expires_in": "7d", "utc_offset_minutes": "0",
        "expires_on": (utcnow() - timedelta(days=2)).date().isoformat()})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and field_errors(page, "expires_on") == ["Choose a date in the future."]
    assert "expires_at" not in page and db.session.execute(db.select(Share)).first() is None


def test_the_request_form_says_a_past_date_in_plain_words(app, accounts):
    browser, _ = accounts.signed_in_client()
    form = browser.get("/requests/new").get_data(as_text=True)
    refused = browser.post("/requests/new", data={
        "csrf_token": csrf_from(form), "title": "Photos", "expires_in": "7d", "utc_offset_minutes": "0",
        "expires_on": (utcnow() - timedelta(days=2)).date().isoformat()})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and field_errors(page, "expires_on") == ["Choose a date in the future."]
    assert "expires_at" not in page


# --- Upload requests: the same ----------------------------------------------------------


def make_request(client, headers, **options):
    response = client.post("/api/v1/requests", headers=headers, json={"title": "Visa papers", **options})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def stored_request():
    db.session.rollback()
    return db.session.execute(db.select(FileRequest)).scalar_one()


def post_request_edit(client, made, **data):
    page = client.get(f"/requests/{made['id']}/edit").get_data(as_text=True)
    fields = {"csrf_token": csrf_from(page), "expires_in": "keep", "utc_offset_minutes": "0",
              "title": current_value(page, "title"), "max_files": current_value(page, "max_files"),
              "max_mib": current_value(page, "max_mib"), "message": current_note(page, "message")}
    return client.post(f"/requests/{made['id']}/edit", data={**fields, **data})


def test_an_upload_link_is_kept_encrypted_and_shown_again(app, accounts):
    browser, user = accounts.signed_in_client()
    headers = accounts.headers(user)
    made = make_request(browser, headers)
    token = made["url"].rsplit("/", 1)[1]
    row = db.session.execute(db.select(FileRequest.__table__)).one()._asdict()
    assert not any(isinstance(value, str) and token in value for value in row.values())
    assert browser.get("/api/v1/requests", headers=headers).get_json()["items"][0]["url"] == made["url"]
    listing = browser.get("/requests").get_data(as_text=True)
    assert f'<label for="request-url-{made["id"]}">Upload link for Visa papers</label>' in listing
    assert f'readonly value="{made["url"]}"' in listing
    db.session.execute(db.update(FileRequest).values(token_encrypted=None))
    db.session.commit()
    assert browser.get("/api/v1/requests", headers=headers).get_json()["items"][0]["url"] is None
    listing = browser.get("/requests").get_data(as_text=True)
    assert "can't show this upload link again" in listing and made["url"] not in listing
    assert browser.get(urlsplit(made["url"]).path).status_code == 200


def test_changing_an_upload_request_from_its_page(app, accounts):
    browser, user = accounts.signed_in_client()
    headers = accounts.headers(user)
    made = make_request(browser, headers, max_bytes=1000, password="pass word")
    page = browser.get(f"/requests/{made['id']}/edit").get_data(as_text=True)
    assert current_value(page, "max_mib") == "1" and current_value(page, "title") == "Visa papers"
    # Left as shown, the byte limit set through the API stays exact.
    untouched = post_request_edit(browser, made, max_files="3", remove_password="y")
    assert "Upload request changed: password removed, most files." in followed(browser, untouched)
    stored = stored_request()
    assert (stored.max_bytes, stored.max_files, stored.password_hash) == (1000, 3, None)
    assert "needs a password" not in app.test_client().get(urlsplit(made["url"]).path).get_data(as_text=True)
    refused = post_request_edit(browser, made, expires_on=(utcnow() - timedelta(days=1)).date().isoformat())
    assert refused.status_code == 400
    assert field_errors(refused.get_data(as_text=True), "expires_on") == ["Choose a date in the future."]
    event = db.session.execute(db.select(AuditEvent).filter_by(action="request_changed")).scalar_one()
    assert event.detail == "password removed, most files"


def test_patching_an_upload_request(app, client, headers, accounts):
    made = make_request(client, headers, max_files=5, message="Scans, please")
    body = client.patch(f"/api/v1/requests/{made['id']}", headers=headers,
                        json={"title": "Passport scans", "expires_in": "2w", "max_files": None}).get_json()
    assert (body["title"], body["max_files"], body["message"], body["url"]) == (
        "Passport scans", None, "Scans, please", made["url"])
    assert body["expires_at"] is not None and body["files_received"] == 0
    db.session.execute(db.update(FileRequest).values(files_used=2, bytes_used=500))
    db.session.commit()
    for change, code in [({"max_files": 1}, "invalid_max_files"), ({"max_bytes": 499}, "invalid_max_bytes"),
                         ({"expires_at": "2001-01-01T00:00:00Z"}, "invalid_expiry"), ({"title": ""}, "invalid_title")]:
        response = client.patch(f"/api/v1/requests/{made['id']}", headers=headers, json=change)
        assert response.status_code == 400 and response.get_json()["error"]["code"] == code, change
    # At what uploads have taken, the request is full.
    full = client.patch(f"/api/v1/requests/{made['id']}", headers=headers, json={"max_files": 2}).get_json()
    assert full["state"] == "full"
    intruder = accounts.headers(accounts.create())
    assert client.patch(f"/api/v1/requests/{made['id']}", headers=intruder, json={"title": "x"}).status_code == 404
    client.delete(f"/api/v1/requests/{made['id']}", headers=headers)
    ended = client.patch(f"/api/v1/requests/{made['id']}", headers=headers, json={"title": "x"})
    assert ended.status_code == 409 and ended.get_json()["error"]["code"] == "request_ended"
    assert stored_request().title == "Passport scans"


def test_a_request_change_that_misses_its_row_for_another_reason_says_so_and_records_nothing(client, headers,
                                                                                          monkeypatch):
    made = make_request(client, headers, max_files=5)
    monkeypatch.setattr(links, "update_if_live", lambda *_: False)  # the row changed in a way the checks can't name
    response = client.patch(f"/api/v1/requests/{made['id']}", headers=headers, json={"title": "New title"})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "request_changed_meanwhile"
    assert not db.session.execute(db.select(AuditEvent).filter_by(action="request_changed")).first()


# --- In a browser -------------------------------------------------------------------


def test_links_and_requests_pages_copy_and_change_by_keyboard_on_a_phone_and_a_desktop(browser, make_app,
                                                                                      live_server):
    """At 390 and 1280 px the pages never scroll sideways; Copy puts the link on the clipboard; Change works."""
    live_server.app = app = make_app(STORAGE_BACKEND="local", PUBLIC_URL=live_server.url)
    name = "Quarterly report for the north-east region, final version 2026.pdf"
    with app.app_context():
        user = users.create_user(f"links{uuid.uuid4().hex[:8]}", PASSWORD)
        username = user.username
        headers = {"Authorization": f"Bearer {tokens.create_token(user, 'tests')[1]}"}
        client = app.test_client()
        link = share(client, headers, upload(client, headers, name, DATA), note="Numbers for the board meeting",
                     max_downloads=3, expires_in="7d")
        made = make_request(client, headers, title="Signed contracts from every supplier of the year 2026")
    for width in (390, 1280):
        context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": 800},
                                      is_mobile=width < 600, has_touch=width < 600)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
        context.set_default_timeout(10_000)
        errors = []
        try:
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            log_in(page, username)
            for address in ("/shares", f"/shares/{link['id']}/edit", "/requests", f"/requests/{made['id']}/edit"):
                page.goto(address)
                widths = page.evaluate("""() => ({
                    scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,
                    table: document.querySelector('.table-wrap')?.scrollWidth ?? 0,
                    wrap: document.querySelector('.table-wrap')?.clientWidth ?? 0 })""")
                assert widths["scroll"] <= widths["client"] == width, (address, widths)
                assert widths["table"] <= widths["wrap"], (address, widths)

            page.goto("/shares")
            expect(page.get_by_label(f"Link to {name}", exact=True)).to_have_value(link["url"])
            page.get_by_role("button", name=f"Copy link: link to {name}").focus()
            page.keyboard.press("Enter")
            expect(page.get_by_role("status").filter(has_text="Copied.")).to_be_visible()
            assert page.evaluate("navigator.clipboard.readText()") == link["url"]
            page.get_by_role("link", name=f"Change link to {name}").focus()
            page.keyboard.press("Enter")
            page.get_by_label("Note for the recipient (optional)").fill(f"Seen at {width} px")
            page.get_by_role("button", name="Save changes").focus()
            page.keyboard.press("Enter")
            expect(page.get_by_text("Link changed: note.")).to_be_visible()
            expect(page.get_by_text(f"Seen at {width} px")).to_be_visible()
        finally:
            context.close()
        assert not errors, errors
