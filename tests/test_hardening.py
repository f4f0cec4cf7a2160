"""Odd input never reaches the database as a 500, and pages carry their security headers."""
import pytest

from app.extensions import db
from app.models import File
from tests.conftest import PASSWORD
from tests.helpers import at_once, cursor, download, send, start_upload, upload


@pytest.mark.parametrize("method,path", [
    ("GET", "/api/v1/files/%00"), ("GET", "/api/v1/files/%00/download"), ("DELETE", "/api/v1/files/%00"),
    ("POST", "/api/v1/uploads/%00/complete"), ("GET", "/api/v1/uploads/%00/parts"),
    ("GET", "/api/v1/files/" + "a" * 40), ("GET", "/api/v1/files/%E2%80%AE"),
])
def test_odd_ids_are_404(client, headers, method, path):
    response = client.open(path, method=method, headers=headers)
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("payload", [
    {"s": "name", "o": "asc", "v": "a\u0000b", "i": 1}, {"s": "size", "o": "asc", "v": 1e400, "i": 1},
    {"s": "size", "o": "asc", "v": 10 ** 30, "i": 1}, {"s": "date", "o": "asc", "v": "2026-01-01T00:00:00", "i": 10 ** 30},
    {"s": "name", "o": "asc", "v": "\ud800", "i": 1},
])
def test_odd_cursors_are_a_clear_400(client, headers, payload):
    response = client.get("/api/v1/files", headers=headers, query_string={"cursor": cursor(payload)})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_cursor"


@pytest.mark.parametrize("username,password", [("a\u0000b", PASSWORD), ("a\ud800", PASSWORD), ("admin", "x\ud800")])
def test_odd_credentials_are_just_wrong(client, accounts, username, password):
    accounts.create("admin")
    response = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert response.status_code == 401


@pytest.mark.parametrize("name", ["a\ud800.txt", "report\u202etxt.exe", "line\u0085break.txt", "tab\there.txt",
                                  "CON", "con.txt", "Lpt1.log", "trailing.", ])
def test_misleading_or_unportable_names_are_refused(client, headers, name):
    response = client.post("/api/v1/uploads", headers=headers, json={"name": name, "size": 3})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_name"
    assert db.session.execute(db.select(File)).first() is None


@pytest.mark.parametrize("name", ["console.txt", "👨‍👩‍👧 family.jpg", "Ünïcödé ok.txt", "a.b.c"])
def test_ordinary_unusual_names_are_fine(client, headers, name):
    assert upload(client, headers, name, b"x")["name"] == name


def test_token_names_with_control_characters_are_refused(client, accounts):
    accounts.create("nina")
    response = client.post("/api/v1/auth/token", json={"username": "nina", "password": PASSWORD, "name": "a\u0000"})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_name"


def test_a_long_extension_still_gets_a_numbered_name_within_limits(client, headers):
    name = "a." + "b" * 253
    assert upload(client, headers, name, b"1")["name"] == name
    second = upload(client, headers, name, b"2")["name"]
    assert len(second) <= 255 and second.startswith("a (1).b")


def test_an_upload_url_cannot_overwrite_a_stored_file(client, headers):
    started = start_upload(client, headers, "once.txt", b"first").get_json()
    assert send(client, started["method"], started["url"], started["headers"], b"first")[0] == 200
    file = client.post(f"/api/v1/uploads/{started['id']}/complete", headers=headers).get_json()
    status, _, _ = send(client, started["method"], started["url"], started["headers"], b"other")
    assert status in (409, 412)
    assert download(client, headers, file["id"])[2] == b"first"


def test_two_deletes_at_once_give_one_success_and_one_404(app, headers):
    file = upload(app.test_client(), headers, "twice.txt", b"x")

    def delete(number, start):
        client = app.test_client()
        start.wait()
        return client.delete(f"/api/v1/files/{file['id']}", headers=headers).status_code

    def purge(number, start):
        client = app.test_client()
        start.wait()
        return client.post("/api/v1/trash/purge", headers=headers, json={"files": [file["id"]]}).status_code

    assert sorted(at_once(2, delete)) == [204, 404]
    assert db.session.execute(db.select(File.status)).scalars().all() == ["trashed"]
    assert sorted(at_once(2, purge)) == [204, 404]
    assert db.session.execute(db.select(File)).first() is None


def test_html_and_svg_download_as_plain_bytes(client, headers):
    for name, kind in [("page.html", "text/html"), ("logo.svg", "image/svg+xml"), ("feed.xml", "application/atom+xml")]:
        file = upload(client, headers, name, b"<script>alert(1)</script>", kind)
        _, response_headers, _ = download(client, headers, file["id"])
        assert response_headers["Content-Type"].startswith("application/octet-stream"), name
        assert response_headers["Content-Disposition"].startswith("attachment")
    file = upload(client, headers, "photo.png", b"png", "image/png")
    assert download(client, headers, file["id"])[1]["Content-Type"].startswith("image/png")


def test_pages_cannot_be_framed_and_are_not_cached(app, accounts):
    client, _ = accounts.signed_in_client()
    for path in ["/files", "/login", "/account"]:
        response = client.get(path)
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"


def test_an_unsatisfiable_range_says_how_long_the_file_is(local_app, accounts):
    client = local_app.test_client()
    headers = accounts.headers(accounts.create())
    file = upload(client, headers, "short.txt", b"0123456789")
    location = client.get(f"/api/v1/files/{file['id']}/download", headers=headers).headers["Location"]
    response = client.get(location, headers={"Range": "bytes=50-60"})
    assert response.status_code == 416 and response.headers["Content-Range"] == "bytes */10"
    assert response.get_json()["error"]["code"] == "range_not_satisfiable"


def test_huge_token_ids_are_404(client, headers, accounts):
    assert client.delete("/api/v1/tokens/3123833559934057316352", headers=headers).status_code == 404
    signed_in, _ = accounts.signed_in_client()
    from tests.conftest import csrf_from
    token = csrf_from(signed_in.get("/account").get_data(as_text=True))
    assert signed_in.post("/account/tokens/99999999999999/revoke", data={"csrf_token": token}).status_code == 404
