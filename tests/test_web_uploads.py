"""The files page's upload side, server-rendered: space used, unfinished uploads, sorting, the no-JS cancel
page, the uploader's settings and vendored libraries, and the accessibility fixes (no browser needed)."""
import json
import re
from html import unescape

import pytest

from app.extensions import db
from app.models import File
from tests.conftest import MULTIPART_SETTINGS, PART_SIZE, csrf_from
from tests.helpers import send, send_parts, start_multipart, start_upload, upload

MIB = 1024 * 1024
DATA = bytes(3 * PART_SIZE + 10)  # four parts


@pytest.fixture
def app_settings():
    return {**MULTIPART_SETTINGS, "DEFAULT_QUOTA": 10 * MIB}


def pending_items(html):
    return re.findall(r'<li data-upload-id="([0-9a-f]+)" data-name="([^"]*)"', html)


def text_of(html):
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", html)))


def test_space_used_and_remaining_are_shown(signed_in):
    client, _, headers = signed_in
    upload(client, headers, "a.bin", b"x" * 1536)
    html = client.get("/files").get_data(as_text=True)
    assert "Space: 1.5 KiB used of 10.0 MiB, 10.0 MiB remaining." in text_of(html)
    assert 'max="10485760" value="1536"' in html


def test_space_without_a_quota_is_unlimited(make_app, accounts):
    app = make_app(STORAGE_BACKEND="local")
    with app.app_context():
        client, _ = accounts.signed_in_client()
        assert "Space: 0 bytes used, unlimited remaining." in text_of(client.get("/files").get_data(as_text=True))


def test_unfinished_uploads_are_listed_with_what_is_missing(signed_in):
    client, _, headers = signed_in
    big = start_multipart(client, headers, "film.mkv", DATA)
    send_parts(client, headers, big, DATA, [1, 3])
    small = start_upload(client, headers, "note.txt", b"hello", "text/plain").get_json()
    html = client.get("/files").get_data(as_text=True)
    assert pending_items(html) == [(small["id"], "note.txt"), (big["id"], "film.mkv")]  # newest first
    text = text_of(html)
    assert "Unfinished uploads" in text
    assert "2 of 4 parts stored (128 KiB of 192 KiB; 2 missing)." in text
    assert "Not received yet: resuming sends the whole file again." in text
    for name in ("film.mkv", "note.txt"):
        assert f'aria-label="Resume {name}"' in html and f'aria-label="Cancel {name}"' in html
    assert f'data-part-size="{PART_SIZE}" data-part-count="4"' in html
    # The reserved space counts as used.
    assert "Space: 192 KiB used of 10.0 MiB" in text


def test_no_unfinished_uploads_no_section(signed_in):
    client, _, _ = signed_in
    html = client.get("/files").get_data(as_text=True)
    assert "Unfinished uploads" not in html and pending_items(html) == []


def test_an_unfinished_upload_is_cancelled_without_javascript_after_asking(signed_in, accounts):
    client, _, headers = signed_in
    big = start_multipart(client, headers, "film.mkv", DATA)
    send_parts(client, headers, big, DATA, [1])
    page = client.get(f"/uploads/{big['id']}/cancel")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Cancel this upload?" in html and "film.mkv" in html
    assert re.search(r'<a class="button" href="/files" autofocus>Keep it</a>', html)

    # Without the CSRF token nothing happens; another user gets 404.
    assert client.post(f"/uploads/{big['id']}/cancel").status_code != 200
    intruder, _ = accounts.signed_in_client()
    token = csrf_from(intruder.get("/files").get_data(as_text=True))
    assert intruder.get(f"/uploads/{big['id']}/cancel").status_code == 404
    assert intruder.post(f"/uploads/{big['id']}/cancel", data={"csrf_token": token}).status_code == 404
    assert [u["id"] for u in client.get("/api/v1/uploads", headers=headers).get_json()["items"]] == [big["id"]]

    token = csrf_from(html)
    done = client.post(f"/uploads/{big['id']}/cancel", data={"csrf_token": token}, follow_redirects=True)
    assert done.status_code == 200
    assert "Cancelled the upload of film.mkv." in done.get_data(as_text=True)
    assert client.get("/api/v1/uploads", headers=headers).get_json()["items"] == []
    assert client.get(f"/uploads/{big['id']}/cancel").status_code == 404
    assert "Space: 0 bytes used" in text_of(client.get("/files").get_data(as_text=True))


def test_the_refreshed_regions_are_marked_as_the_list(signed_in):
    client, _, headers = signed_in
    upload(client, headers, "a.bin", b"x")
    start_upload(client, headers, "b.bin", b"yy")
    html = client.get("/files?fragment=regions").get_data(as_text=True)
    assert '<div data-fragment="files">' in html
    for region in ("usage", "pending-uploads", "file-table"):
        assert f'<div id="{region}">' in html
    assert '<td class="name" data-label="Name">a.bin</td>' in html and "b.bin" in html
    assert "<html" not in html
    # The old table-only fragment still answers.
    assert '<td class="name" data-label="Name">a.bin</td>' in client.get("/files?fragment=table").get_data(as_text=True)


def test_the_list_announces_a_short_status_not_the_whole_table(signed_in):
    client, _, _ = signed_in
    html = client.get("/files").get_data(as_text=True)
    assert '<div id="file-table">' in html and "aria-live" not in html
    assert '<p id="list-status" class="visually-hidden" role="status"></p>' in html


def test_sorting_has_a_form_outside_the_table(signed_in):
    client, _, headers = signed_in
    for name in ("b.txt", "a.txt"):
        upload(client, headers, name, b"x")
    html = client.get("/files?sort=name&order=asc").get_data(as_text=True)
    form = re.search(r'<form class="sort-form" method="get" action="/files">.*?</form>', html, re.S).group(0)
    assert '<label for="sort-by">Sort by</label>' in form and '<label for="sort-order">Order</label>' in form
    assert '<option value="name" selected>Name</option>' in form
    assert re.search(r'<option value="asc" selected>', form)
    assert html.index("sort-form") < html.index("<table")
    assert re.findall(r'data-label="Name">([^<]*)<', html) == ["a.txt", "b.txt"]


def test_each_file_shows_its_sha256_and_whether_storage_checked_it(signed_in, app):
    client, _, headers = signed_in
    digest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # sha256(b"abc")
    started = start_upload(client, headers, "a.bin", b"abc", sha256=digest).get_json()
    assert send(client, "PUT", started["url"], started["headers"], b"abc")[0] == 200
    file = client.post(f"/api/v1/uploads/{started['id']}/complete", headers=headers).get_json()
    assert file["sha256"] == digest
    html = client.get("/files").get_data(as_text=True)
    assert f"<code>{digest[:12]}…</code>" in html and f'<code class="sha256-full">{digest}</code>' in html
    badge = "verified" if file["sha256_verified"] else "unverified"
    assert f'">{badge}</span></summary>' in html
    if app.config["STORAGE_BACKEND"] == "local":
        assert file["sha256_verified"] is True


def test_a_file_without_a_digest_says_so(signed_in, app):
    client, _, headers = signed_in
    html_before = client.get("/files").get_data(as_text=True)
    assert "not recorded" not in html_before
    upload(client, headers, "old.bin", b"x")
    db.session.execute(db.update(File).values(sha256=None, sha256_verified=False))
    db.session.commit()
    assert '<span class="hint">not recorded</span>' in client.get("/files").get_data(as_text=True)


def test_the_uploader_gets_the_servers_rules(make_app, accounts):
    app = make_app(STORAGE_BACKEND="local", MULTIPART_THRESHOLD=8 * MIB, MAX_FILE_SIZE=MIB,
                   ALLOWED_TYPES=[".pdf", "image/*"], BLOCKED_TYPES=["image/svg+xml"])
    with app.app_context():
        client, _ = accounts.signed_in_client()
        html = client.get("/files").get_data(as_text=True)
    uploader = re.search(r'<div id="uploader"[^>]*>', html, re.S).group(0)
    assert f'data-max-file-size="{MIB}"' in uploader and f'data-multipart-threshold="{8 * MIB}"' in uploader
    attributes = dict(re.findall(r"data-(allowed|blocked)-types='([^']*)'", uploader))
    assert json.loads(unescape(attributes["allowed"])) == [".pdf", "image/*"]
    assert json.loads(unescape(attributes["blocked"])) == ["image/svg+xml"]
    assert "Only .pdf, image/* files, up to 1.0 MiB each. Not accepted: image/svg+xml." in text_of(html)
    assert 'data-hash-library="/vendor/hash-wasm-sha256.umd.min.js"' in uploader


def test_vendored_files_are_an_explicit_allow_list(client):
    hash_wasm = client.get("/vendor/hash-wasm-sha256.umd.min.js")
    assert hash_wasm.status_code == 200 and b"createSHA256" in hash_wasm.data
    assert client.get("/vendor/uppy.min.mjs").status_code == 200
    assert client.get("/vendor/uppy.min.css").status_code == 200
    for path in ["/vendor/sha256.umd.min.js", "/vendor/package.json", "/vendor/..%2Fpackage.json",
                 "/vendor/hash-wasm/dist/sha256.umd.min.js", "/vendor/index.esm.js"]:
        assert client.get(path).status_code == 404, path
    worker = client.get("/static/hash-worker.js")
    assert worker.status_code == 200 and b"importScripts" in worker.data


def test_a_failed_login_still_offers_to_create_an_account(make_app, accounts):
    for registration, offered in [("open", True), ("closed", False)]:
        app = make_app(STORAGE_BACKEND="local", REGISTRATION=registration)
        with app.app_context():
            user = accounts.create()
            client = app.test_client()
            token = csrf_from(client.get("/login").get_data(as_text=True))
            failed = client.post("/login", data={"csrf_token": token, "username": user.username, "password": "wrong"})
            assert failed.status_code == 401
            assert ("Create an account" in failed.get_data(as_text=True)) is offered, registration


def test_the_delete_page_focuses_cancel_not_delete(signed_in):
    client, _, headers = signed_in
    file = upload(client, headers, "a.bin", b"x")
    html = client.get(f"/files/{file['id']}/delete").get_data(as_text=True)
    assert '<button type="submit" class="button danger">Delete</button>' in html
    assert re.search(r'<a class="button" href="/files" autofocus>Cancel</a>', html)
    assert html.count("autofocus") == 1
