"""Previews: only an allow-list of sniffed types is ever served inline; pages, markup and scripts never are.

Every route that hands out a storage URL is followed to storage's answer:
on local storage to the app's /_storage response, on S3 (moto) through the
presigned URL, whose signed response-content-type/-disposition are checked too.
"""
import re
import struct
import threading
import time
import zlib
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from markupsafe import escape

from app.extensions import db
from app.models import File, Share
from app.qr import qr_svg
from app.services import previews
from app.storage import StorageError
from tests.conftest import csrf_from
from tests.helpers import path, send, share, upload


def make_png():
    """The smallest real PNG start: the signature and an IHDR chunk for a 1x1 image."""
    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(header)) + b"IHDR" + header
            + struct.pack(">I", zlib.crc32(b"IHDR" + header)))


PNG = make_png()
SCRIPT = b"<script>alert(1)</script>"
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(range(256)) * 16
MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 16
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
# A page, a drawing, a lie (a "PNG" that is a page) and a script: the same bytes under four claims.
ACTIVE = [("page.html", "text/html"), ("drawing.svg", "image/svg+xml"), ("cat.png", "image/png"),
          ("app.js", "text/javascript")]


def storage_name(app):
    return app.extensions["locker.storage"].name


def fetch(client, url, headers=None):
    """What storage answers to a signed URL, and the S3 response overrides it was signed with."""
    status, response_headers, body = send(client, "GET", url, headers)
    return status, response_headers, body, parse_qs(urlsplit(url).query)


def assert_attachment(app, client, url):
    status, headers, _, query = fetch(client, url)
    assert status == 200
    assert headers["Content-Disposition"].startswith("attachment;")
    assert headers["Content-Type"].split(";")[0] == "application/octet-stream"
    if storage_name(app) == "s3":
        assert query["response-content-type"] == ["application/octet-stream"]
        assert query["response-content-disposition"][0].startswith("attachment;")
    else:
        assert headers["X-Content-Type-Options"] == "nosniff"


def assert_inline(app, client, url, content_type, expected_body):
    status, headers, body, query = fetch(client, url)
    assert status == 200 and body == expected_body
    assert headers["Content-Disposition"].startswith("inline;")
    assert headers["Content-Type"] == content_type
    if storage_name(app) == "s3":
        assert query["response-content-type"] == [content_type]
    else:
        assert headers["X-Content-Type-Options"] == "nosniff"
    return headers


def location(response):
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response.headers["Location"]


def preview_src(html, tag):
    match = re.search(rf'<{tag}[^>]* src="([^"]+)"', html)
    assert match, f"no <{tag}> preview in the page"
    return match.group(1).replace("&amp;", "&")


# What the bytes are, and what that allows.

@pytest.mark.parametrize("data, expected", [
    (PNG, "image/png"), (MP4, "video/mp4"), (MP3, "audio/mpeg"), (PDF, "application/pdf"),
    (SCRIPT, "text/html"), (b"  <!DOCTYPE html><p>hi", "text/html"), (b"<p>hi</p>", "text/html"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml"),
    (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml"),
    (b'<?xml version="1.0"?><feed/>', "text/xml"),
    ("# Notes\nhéllo\n".encode(), "text/plain"), (b"<pre is not a tag we sniff", "text/plain"),
    (b"text\x00with a NUL", None), (b"\xff\xfe\x00bytes", None),
])
def test_sniffing_reads_the_bytes_not_the_claim(data, expected):
    assert previews.sniff(data, len(data)) == expected


def test_a_head_cut_inside_a_character_is_still_text_but_a_whole_file_is_not():
    cut = "é".encode()[:1]
    assert previews.sniff(b"abc" + cut, size=100) == "text/plain"
    assert previews.sniff(b"abc" + cut, size=4) is None


@pytest.mark.parametrize("name, declared, sniffed, kind", [
    ("photo.png", "application/octet-stream", "image/png", "image"),
    ("notes.md", "text/markdown", "text/plain", "text"),
    ("main.py", "application/octet-stream", "text/plain", "text"),
    ("README", "application/octet-stream", "text/plain", "text"),
    ("cat.png", "image/png", "text/plain", None),  # text bytes, but nothing says it is meant as text
    ("cat.png", "image/png", "text/html", None),
    ("page.html", "text/html", "text/plain", None),  # never even as plain text
    ("page.txt", "text/html", "text/plain", None),
    ("app.js", "application/octet-stream", "text/plain", None),
    ("feed.xml", "text/plain", "text/plain", None),
    ("photo.png", "image/svg+xml", "image/png", None),
    ("photo.svg", "image/png", "image/png", None),
    ("archive.zip", "application/zip", "application/zip", None),
    ("unknown.bin", "application/octet-stream", None, None),
])
def test_preview_kind_allows_only_the_list_and_never_active_claims(name, declared, sniffed, kind):
    assert previews.preview_kind(SimpleNamespace(name=name, content_type=declared, sniffed_type=sniffed)) == kind


# Pages, markup and scripts: attachments everywhere.

@pytest.mark.parametrize("name, declared", ACTIVE)
def test_html_svg_xml_and_scripts_are_never_served_inline(app, signed_in, name, declared):
    client, _, headers = signed_in
    file = upload(client, headers, name, SCRIPT, declared)
    file_id = file["id"]
    assert file["preview"] is None
    assert client.get(f"/api/v1/files/{file_id}", headers=headers).get_json()["preview"] is None

    urls = [location(client.get(f"/files/{file_id}/raw")),
            location(client.get(f"/files/{file_id}/download")),
            location(client.get(f"/api/v1/files/{file_id}/download?inline=1", headers=headers)),
            client.get(f"/api/v1/files/{file_id}/download?inline=1&redirect=0", headers=headers).get_json()["url"]]
    for url in urls:
        assert_attachment(app, client, url)

    view = client.get(f"/files/{file_id}/view")
    html = view.get_data(as_text=True)
    assert view.status_code == 200 and 'class="preview"' not in html and "No preview" in html
    assert "<script>alert(1)</script>" not in html

    link = path(share(client, headers, file))
    recipient = app.test_client()
    page = recipient.get(link).get_data(as_text=True)
    assert 'class="preview"' not in page and "<script>alert(1)</script>" not in page
    download = recipient.post(f"{link}/download", data={"csrf_token": csrf_from(page)})
    assert_attachment(app, recipient, location(download))


# What is allowed, is shown.

def test_a_real_png_is_shown_inline_whatever_type_was_declared(app, signed_in):
    client, _, headers = signed_in
    file = upload(client, headers, "photo.png", PNG, "application/octet-stream")
    assert file["preview"] == "image"
    assert db.session.execute(db.select(File.sniffed_type)).scalar_one() == "image/png"

    response_headers = assert_inline(app, client, location(client.get(f"/files/{file['id']}/raw")), "image/png", PNG)
    if storage_name(app) == "local":
        # Only PDFs are let out of the sandbox.
        assert "sandbox" in response_headers["Content-Security-Policy"]
    api_url = client.get(f"/api/v1/files/{file['id']}/download?inline=1&redirect=0", headers=headers).get_json()["url"]
    assert_inline(app, client, api_url, "image/png", PNG)

    html = client.get(f"/files/{file['id']}/view").get_data(as_text=True)
    assert 'alt="photo.png"' in html
    assert_inline(app, client, preview_src(html, "img"), "image/png", PNG)
    # A plain download is still an attachment.
    status, download_headers, _, _ = fetch(client, location(client.get(f"/files/{file['id']}/download")))
    assert status == 200 and download_headers["Content-Disposition"].startswith("attachment;")


def test_text_and_source_are_shown_escaped_as_plain_text(app, signed_in):
    client, _, headers = signed_in
    data = b"# Notes\n\n<b>bold?</b> & <script>alert(1)</script>\n"
    file = upload(client, headers, "notes.md", data, "text/markdown")
    assert file["preview"] == "text"

    html = client.get(f"/files/{file['id']}/view").get_data(as_text=True)
    assert str(escape(data.decode())) in html and "<script>alert(1)</script>" not in html
    assert "only the first" not in html
    assert_inline(app, client, location(client.get(f"/files/{file['id']}/raw")), "text/plain; charset=utf-8", data)


def test_a_long_text_shows_its_beginning_with_a_note(app, signed_in):
    client, _, headers = signed_in
    # A broken byte after the part that is sniffed is shown replaced, not refused.
    data = b"a" * 10_000 + b"\xff" + b"line of the log\n" * 20_000 + b"THE END\n"
    file = upload(client, headers, "server.log", data, "text/plain")
    assert file["preview"] == "text"

    html = client.get(f"/files/{file['id']}/view").get_data(as_text=True)
    assert "\ufffd" in html and "line of the log" in html and "THE END" not in html
    assert "only the first 256 KiB" in html


@pytest.mark.parametrize("name, data, kind, served", [("clip.mp4", MP4, "video", "video/mp4"),
                                                      ("song.mp3", MP3, "audio", "audio/mpeg")])
def test_video_and_audio_play_inline_and_can_seek(app, signed_in, name, data, kind, served):
    client, _, headers = signed_in
    file = upload(client, headers, name, data, "application/octet-stream")
    assert file["preview"] == kind

    html = client.get(f"/files/{file['id']}/view").get_data(as_text=True)
    assert f"<{kind} controls" in html
    url = preview_src(html, kind)
    assert_inline(app, client, url, served, data)
    status, headers, body, _ = fetch(client, url, {"Range": "bytes=100-199"})
    assert status == 206 and body == data[100:200]
    assert headers["Content-Range"] == f"bytes 100-199/{len(data)}"


def test_a_pdf_is_framed_with_a_link_to_open_it(app, signed_in):
    client, _, headers = signed_in
    file = upload(client, headers, "manual.pdf", PDF, "application/pdf")
    assert file["preview"] == "pdf"

    html = client.get(f"/files/{file['id']}/view").get_data(as_text=True)
    assert 'title="manual.pdf (PDF)"' in html and "Open manual.pdf" in html
    headers = assert_inline(app, client, preview_src(html, "iframe"), "application/pdf", PDF)
    if storage_name(app) == "local":
        # Browsers' PDF viewers do not run in a sandboxed document; Locker's page frames it.
        assert "sandbox" not in headers["Content-Security-Policy"]
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "SAMEORIGIN"


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_completing_an_upload_asks_s3_for_its_size_and_its_first_bytes_at_once(app, signed_in, monkeypatch):
    # Two round trips to storage in the time of one: each request here goes on only once the
    # other one is under way too, which never happens if they are made one after the other.
    client, _, headers = signed_in
    storage = app.extensions["locker.storage"]
    both_asked = threading.Barrier(2, timeout=5)
    read_head, stat = storage.read_head, storage.stat

    def read_head_alongside(key, length):
        both_asked.wait()
        return read_head(key, length)

    def stat_alongside(key):
        both_asked.wait()
        return stat(key)

    monkeypatch.setattr(storage, "read_head", read_head_alongside)
    monkeypatch.setattr(storage, "stat", stat_alongside)
    file = upload(client, headers, "photo.png", PNG, "application/octet-stream")
    assert file["size"] == len(PNG) and file["preview"] == "image"


def test_completing_before_the_bytes_arrive_reads_nothing_and_warns_of_nothing(app, signed_in, caplog):
    client, _, headers = signed_in
    started = client.post("/api/v1/uploads", headers=headers,
                          json={"name": "early.png", "size": len(PNG), "content_type": "image/png"}).get_json()
    response = client.post(f"/api/v1/uploads/{started['id']}/complete", headers=headers)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "upload_missing"
    assert "sniff" not in caplog.text


def test_an_upload_whose_type_cannot_be_read_completes_without_a_preview(app, signed_in, monkeypatch):
    client, _, headers = signed_in

    def unreachable(key, length):
        raise StorageError("storage is down")

    monkeypatch.setattr(app.extensions["locker.storage"], "read_head", unreachable)
    file = upload(client, headers, "photo.png", PNG, "image/png")
    assert file["preview"] is None
    assert db.session.execute(db.select(File.sniffed_type)).scalar_one() is None
    status, headers, _, _ = fetch(client, location(client.get(f"/files/{file['id']}/raw")))
    assert status == 200 and headers["Content-Disposition"].startswith("attachment;")


def forget_sniffed_types():
    """As if the files were uploaded before Locker read types from the bytes."""
    db.session.execute(db.update(File).values(sniffed_type=None))
    db.session.commit()


def sniffed_types():
    return dict(db.session.execute(db.select(File.name, File.sniffed_type)).all())


def test_flask_locker_sniff_gives_older_files_their_type_and_preview(app, signed_in):
    client, _, headers = signed_in
    for name, data in [("photo.png", PNG), ("notes.txt", b"hello"), ("blob.bin", b"\x00\x01\x02")]:
        upload(client, headers, name, data)
    forget_sniffed_types()
    assert {f["name"]: f["preview"] for f in client.get("/api/v1/files", headers=headers).get_json()["items"]} == {
        "photo.png": None, "notes.txt": None, "blob.bin": None}

    result = app.test_cli_runner().invoke(args=["locker", "sniff"])
    assert result.exit_code == 0, result.output
    assert "Recognised: 2; not recognised (downloads only): 1; storage could not read: 0." in result.output
    assert sniffed_types() == {"photo.png": "image/png", "notes.txt": "text/plain", "blob.bin": None}
    assert {f["name"]: f["preview"] for f in client.get("/api/v1/files", headers=headers).get_json()["items"]} == {
        "photo.png": "image", "notes.txt": "text", "blob.bin": None}


def test_sniff_walks_every_batch_and_reports_files_storage_could_not_read(app, signed_in, monkeypatch):
    client, _, headers = signed_in
    for name in ("a.txt", "b.txt", "c.txt", "d.txt"):
        upload(client, headers, name, b"text")
    forget_sniffed_types()
    unreadable = db.session.execute(db.select(File.storage_key).filter_by(name="b.txt")).scalar_one()
    storage = app.extensions["locker.storage"].patient()  # what housekeeping reads through
    read_head = storage.read_head

    def flaky(key, length):
        if key == unreadable:
            raise StorageError("storage is down")
        return read_head(key, length)

    monkeypatch.setattr(storage, "read_head", flaky)
    assert previews.sniff_unknown_types(batch=1) == previews.SniffReport(recognised=3, unrecognised=0, unreadable=1)
    assert sniffed_types() == {"a.txt": "text/plain", "b.txt": None, "c.txt": "text/plain", "d.txt": "text/plain"}
    failing = app.test_cli_runner().invoke(args=["locker", "sniff"])
    assert failing.exit_code == 1 and "Recognised: 0; not recognised (downloads only): 0; storage could not read: 1." \
        in failing.output
    monkeypatch.setattr(storage, "read_head", read_head)
    assert app.test_cli_runner().invoke(args=["locker", "sniff"]).exit_code == 0
    assert sniffed_types()["b.txt"] == "text/plain"


# Who may look.

def test_another_users_file_is_404_unless_made_visible_to_everyone(app, signed_in, accounts):
    client, _, headers = signed_in
    file = upload(client, headers, "photo.png", PNG, "image/png")
    other, other_user = accounts.signed_in_client()
    for path in (f"/files/{file['id']}/view", f"/files/{file['id']}/raw"):
        assert other.get(path).status_code == 404
    assert other.get(f"/api/v1/files/{file['id']}/download?inline=1",
                     headers=accounts.headers(other_user)).status_code == 404

    db.session.execute(db.update(File).values(visible_to_everyone=True))
    db.session.commit()
    view = other.get(f"/files/{file['id']}/view")
    html = view.get_data(as_text=True)
    assert view.status_code == 200 and 'alt="photo.png"' in html
    assert f"/files/{file['id']}/share" not in html  # only the owner shares it
    assert_inline(app, other, location(other.get(f"/files/{file['id']}/raw")), "image/png", PNG)


def test_the_files_list_links_each_file_to_its_view(app, signed_in):
    client, _, headers = signed_in
    file = upload(client, headers, "photo.png", PNG, "image/png")
    html = client.get("/files").get_data(as_text=True)
    assert f'href="/files/{file["id"]}/view" aria-label="View: photo.png"' in html


# Share links.

def test_a_share_link_previews_only_uncounted_unlocked_links(app, signed_in):
    client, _, headers = signed_in
    file = upload(client, headers, "photo.png", PNG, "image/png")

    open_link = path(share(client, headers, file))
    page = app.test_client().get(open_link).get_data(as_text=True)
    assert_inline(app, client, preview_src(page, "img"), "image/png", PNG)

    limited = path(share(client, headers, file, max_downloads=3))
    assert 'class="preview"' not in app.test_client().get(limited).get_data(as_text=True)
    counts = db.session.execute(db.select(Share.download_count)).scalars().all()
    assert counts == [0, 0]  # a preview counts nothing, so limited links show none

    locked = path(share(client, headers, file, password="open sesame"))
    recipient = app.test_client()
    page = recipient.get(locked).get_data(as_text=True)
    assert "needs a password" in page and "<img" not in page
    unlocked = recipient.post(locked, data={"csrf_token": csrf_from(page), "password": "open sesame"})
    assert unlocked.status_code == 302
    assert 'alt="photo.png"' in recipient.get(locked).get_data(as_text=True)


def test_share_preview_urls_never_outlive_the_link(app, signed_in):
    client, _, headers = signed_in
    file = upload(client, headers, "photo.png", PNG, "image/png")
    link = path(share(client, headers, file, expires_in="1m"))  # shorter than SHARE_URL_EXPIRY
    url = preview_src(app.test_client().get(link).get_data(as_text=True), "img")
    query = parse_qs(urlsplit(url).query)
    if storage_name(app) == "s3":
        assert int(query["X-Amz-Expires"][0]) <= 60
    else:
        claims = app.extensions["locker.storage"].signer.loads(query["sig"][0])
        assert claims["e"] <= time.time() + 60

    db.session.execute(db.update(Share).values(revoked_at=db.func.now()))
    db.session.commit()
    ended = app.test_client().get(link)
    assert ended.status_code == 410 and "/_storage/" not in ended.get_data(as_text=True)


# QR code.

def test_the_created_link_page_shows_a_qr_code_of_the_link(app, signed_in):
    client, _, headers = signed_in
    file = upload(client, headers, "photo.png", PNG, "image/png")
    form = client.get(f"/files/{file['id']}/share").get_data(as_text=True)
    created = client.post(f"/files/{file['id']}/share", data={"csrf_token": csrf_from(form), "expires_in": "1d"})
    html = created.get_data(as_text=True)
    assert created.status_code == 201
    url = re.search(r'id="share-url" type="text" readonly value="([^"]+)"', html).group(1)
    assert '<svg role="img" aria-label="QR code for the link"' in html
    assert "<title>QR code for the link</title>" in html
    assert str(qr_svg(url)) in html  # the code is of this very link
    assert str(qr_svg(url + "x")) not in html
