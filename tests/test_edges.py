"""Input at the edges: deeply nested or oversized JSON bodies and far-off dates are clear 4xx answers, never 500s."""
import base64

import pytest
import requests

from app.extensions import db
from app.models import ApiToken, File, FileRequest, Share
from app.services import links
from tests.conftest import csrf_from
from tests.helpers import cursor, upload
from tests.live_support import gunicorn_live  # noqa: F401  (fixture)

DEEP = [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000, b"[" * 100_000]
FAKE_ID = "0" * 32
AUTHENTICATED = [("POST", "/api/v1/tokens"), ("POST", "/api/v1/uploads"),
                 ("POST", f"/api/v1/uploads/{FAKE_ID}/parts"), ("POST", f"/api/v1/uploads/{FAKE_ID}/complete"),
                 ("PATCH", f"/api/v1/files/{FAKE_ID}"), ("POST", "/api/v1/shares"), ("POST", "/api/v1/requests")]


def counts():
    return [db.session.scalar(db.select(db.func.count()).select_from(model))
            for model in (ApiToken, File, Share, FileRequest)]


@pytest.fixture
def guest_path(client, headers):
    made = client.post("/api/v1/requests", headers=headers, json={"title": "Photos", "expires_in": "7d"})
    assert made.status_code == 201, made.get_json()
    return made.get_json()["url"].split("://", 1)[1].split("/", 1)[1]


def send_json(client, method, url, body, headers=None):
    return client.open(url, method=method, data=body, headers={"Content-Type": "application/json",
                                                                "Accept": "application/json", **(headers or {})})


@pytest.mark.parametrize("body", DEEP, ids=["array", "object", "unclosed"])
@pytest.mark.parametrize("method,url", AUTHENTICATED + [("POST", "/api/v1/auth/token")])
def test_deeply_nested_json_is_a_clear_400_on_every_endpoint(client, headers, method, url, body):
    before = counts()
    response = send_json(client, method, url, body, headers if url != "/api/v1/auth/token" else None)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"
    assert counts() == before


@pytest.mark.parametrize("body", DEEP, ids=["array", "object", "unclosed"])
@pytest.mark.parametrize("tail", ["/uploads", f"/uploads/{FAKE_ID}/parts", f"/uploads/{FAKE_ID}/complete"])
def test_deeply_nested_json_is_a_clear_400_on_anonymous_guest_uploads(client, guest_path, tail, body):
    before = counts()
    response = send_json(client, "POST", f"/{guest_path}{tail}", body)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_json"
    assert counts() == before


def test_nesting_that_real_bodies_use_still_works(client, headers):
    # Brackets inside strings are not nesting.
    response = client.post("/api/v1/tokens", headers=headers, json={"name": "[[[[{{{{" * 100})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_name"
    assert client.post("/api/v1/tokens", headers=headers, json={"name": 'quoted \\" [{'}).status_code == 201


def test_a_large_json_body_is_a_clear_413(client, headers):
    before = counts()
    body = b'{"name": "' + b"x" * (4 * 1024 * 1024) + b'"}'
    response = send_json(client, "POST", "/api/v1/tokens", body, headers)
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "too_large"
    assert counts() == before


def test_a_large_chunked_json_body_is_a_413_under_gunicorn_not_cut_short_and_read(gunicorn_live):
    """Sent without Content-Length, as a streaming client does; valid JSON padded past the limit
    must not be cut at the limit and then accepted."""
    limit = gunicorn_live.app.config["MAX_JSON_BODY"]
    padded = b'{"username": "nobody", "password": "wrong password"}' + b" " * limit

    def chunks():
        for start in range(0, len(padded), 64 * 1024):
            yield padded[start:start + 64 * 1024]

    response = requests.post(f"{gunicorn_live.url}/api/v1/auth/token", data=chunks(), timeout=60,
                             headers={"Content-Type": "application/json", "Accept": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"
    # Within the limit, the same body sent the same way is read whole and answered.
    fits = padded[:limit]
    response = requests.post(f"{gunicorn_live.url}/api/v1/auth/token", data=iter([fits]), timeout=60,
                             headers={"Content-Type": "application/json", "Accept": "application/json"})
    assert response.status_code == 401, response.text


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_local_storage_takes_json_files_of_any_shape(client, headers):
    data = b"[" * 100_000 + b"]" * 100_000
    file = upload(client, headers, "deep.json", data, "application/json")
    assert file["size"] == len(data)


BAD_EXPIRY = [{"expires_in": "999999w"}, {"expires_in": "999999d"}, {"expires_at": "9999-12-31T23:59:59-23:59"},
              {"expires_at": "0001-01-01T00:00:00+23:59"}, {"expires_at": "9999-12-31T23:59:59-14:00"},
              {"expires_at": "0001-01-01T00:00:00+14:00"}, {"expires_at": "9999-12-31T23:59:59"}]


@pytest.mark.parametrize("expiry", BAD_EXPIRY, ids=lambda expiry: next(iter(expiry.values())))
@pytest.mark.parametrize("kind", ["shares", "requests"])
def test_far_off_expiries_are_a_clear_400(client, headers, kind, expiry):
    file = upload(client, headers, "a.txt", b"a")
    before = counts()
    body = {"file_id": file["id"]} if kind == "shares" else {"title": "Photos"}
    response = client.post(f"/api/v1/{kind}", headers=headers, json={**body, **expiry})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_expiry"
    assert counts() == before


def test_the_longest_expiry_is_stated_and_accepted():
    now = links.utcnow()
    assert links.parse_expiry(expires_in=f"{links.MAX_EXPIRY_DAYS}d", now=now) == now + links.MAX_EXPIRY
    with pytest.raises(links.InvalidInput):
        links.parse_expiry(expires_in=f"{links.MAX_EXPIRY_DAYS + 1}d", now=now)


BAD_FORM_DATES = [("9999-12-31", "100000"), ("9999-12-31", str(10 ** 30)), ("9999-12-31", "-9999999"),
                  ("9999-12-31", "0"), ("9999-12-31", "-840"), ("0001-01-01", "840"), ("2030-01-01", "900"),
                  ("2030-01-01", "abc")]


@pytest.mark.parametrize("date,offset", BAD_FORM_DATES)
@pytest.mark.parametrize("kind", ["share", "request"])
def test_far_off_dates_and_offsets_on_the_forms_are_refused_with_a_message(app, accounts, kind, date, offset):
    client, user = accounts.signed_in_client()
    file = upload(client, accounts.headers(user), "photo.jpg", b"jpeg", "image/jpeg")
    page = f"/files/{file['id']}/share" if kind == "share" else "/requests/new"
    before = counts()
    response = client.post(page, data={"csrf_token": csrf_from(client.get(page).get_data(as_text=True)),
                                       "title": "Photos", "expires_on": date, "utc_offset_minutes": offset})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "time zone could not be read" in html or "Choose a date in the future." in html \
        or "at most 36,525 days" in html
    assert counts() == before


@pytest.mark.parametrize("kind", ["share", "request"])
def test_a_date_on_the_forms_ends_that_day_in_the_viewer_zone(app, accounts, kind):
    client, user = accounts.signed_in_client()
    file = upload(client, accounts.headers(user), "photo.jpg", b"jpeg", "image/jpeg")
    page = f"/files/{file['id']}/share" if kind == "share" else "/requests/new"
    response = client.post(page, data={"csrf_token": csrf_from(client.get(page).get_data(as_text=True)),
                                       "title": "Photos", "expires_on": "2030-06-01", "utc_offset_minutes": "-120"})
    assert response.status_code == 201
    model = Share if kind == "share" else FileRequest
    assert db.session.execute(db.select(model.expires_at)).scalar_one().isoformat() == "2030-06-01T21:59:59"


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-14:00", "2030-01-01T00:00:00+05:00"])
def test_a_file_cursor_with_a_zone_is_a_clear_400(client, headers, value):
    upload(client, headers, "a.txt", b"a")
    bad = cursor({"s": "date", "o": "desc", "v": value, "i": 1, "b": False, "q": None, "c": "mine"})
    response = client.get("/api/v1/files", headers=headers, query_string={"sort": "date", "cursor": bad})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_cursor"


@pytest.mark.parametrize("url", ["/api/v1/files", "/api/v1/activity"])
def test_a_deeply_nested_cursor_is_a_clear_400(client, headers, url):
    bad = base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode()
    response = client.get(url, headers=headers, query_string={"cursor": bad})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_cursor"
