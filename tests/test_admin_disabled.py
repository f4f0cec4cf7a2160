"""A disabled account: refused at once everywhere it was signed in, told so only with the right password,
and its links answer 410 until it is enabled again."""
import pytest

from app.extensions import db
from app.models import File, User, utcnow
from app.services import admin
from tests.conftest import PASSWORD, csrf_from
from tests.helpers import path, share, upload, visit_and_download
from tests.test_file_requests import DATA, Guest, make_request
from tests.test_file_requests import path as request_path


@pytest.fixture
def boss(local_app, accounts):
    return accounts.create("boss", is_admin=True)


def disable(boss, user):
    admin.set_active(boss, db.session.get(User, user.id), False)


def enable(boss, user):
    admin.set_active(boss, db.session.get(User, user.id), True)


def test_a_session_a_remember_me_cookie_and_a_token_stop_working_on_the_next_request(local_app, accounts, boss):
    user = accounts.create("pat")
    browser = local_app.test_client()
    accounts.login(browser, user.username)
    remembered = local_app.test_client()
    accounts.login(remembered, user.username, remember=True)
    remember_cookie = remembered.get_cookie("remember_token").value
    headers = accounts.headers(user)
    for client in (browser, remembered):
        assert client.get("/files").status_code == 200
    assert local_app.test_client().get("/api/v1/me", headers=headers).status_code == 200

    disable(boss, user)

    assert browser.get("/files").status_code == 302
    replay = local_app.test_client()
    replay.set_cookie("remember_token", remember_cookie)
    assert replay.get("/files").status_code == 302
    response = local_app.test_client().get("/api/v1/me", headers=headers)
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "invalid_token"

    # Enabled again, the token works again; the ended sessions stay ended (they sign in anew).
    enable(boss, user)
    assert local_app.test_client().get("/api/v1/me", headers=headers).status_code == 200
    replay = local_app.test_client()
    replay.set_cookie("remember_token", remember_cookie)
    assert replay.get("/files").status_code == 302


def test_the_disabled_flag_alone_refuses_live_sessions_and_cookies(local_app, accounts):
    """Sessions are also refused by the account's state, not only by being ended (e.g. a change made in SQL)."""
    user = accounts.create("quin")
    remembered = local_app.test_client()
    accounts.login(remembered, user.username, remember=True)
    remember_cookie = remembered.get_cookie("remember_token").value
    headers = accounts.headers(user)
    db.session.execute(db.update(User).filter_by(id=user.id).values(is_active_account=False))
    db.session.commit()
    assert remembered.get("/files").status_code == 302
    replay = local_app.test_client()
    replay.set_cookie("remember_token", remember_cookie)
    assert replay.get("/files").status_code == 302
    assert local_app.test_client().get("/api/v1/me", headers=headers).status_code == 401
    db.session.execute(db.update(User).filter_by(id=user.id).values(is_active_account=True))
    db.session.commit()
    assert remembered.get("/files").status_code == 200


def test_sign_in_says_the_account_is_disabled_only_with_the_right_password(local_app, accounts, boss):
    user = accounts.create("ria")
    disable(boss, user)
    api = local_app.test_client()
    right = api.post("/api/v1/auth/token", json={"username": "ria", "password": PASSWORD})
    assert right.status_code == 403 and right.get_json()["error"]["code"] == "account_disabled"
    assert right.get_json()["error"]["message"].startswith("This account is disabled")
    wrong = api.post("/api/v1/auth/token", json={"username": "ria", "password": "not the password"})
    assert wrong.status_code == 401 and wrong.get_json()["error"] == {
        "code": "invalid_credentials", "message": "Wrong username or password."}

    browser = local_app.test_client()
    response = accounts.login(browser, "ria")
    assert response.status_code == 403 and "This account is disabled" in response.get_data(as_text=True)
    assert browser.get("/files").status_code == 302  # not signed in
    html = accounts.login(browser, "ria", password="not the password").get_data(as_text=True)
    assert "Wrong username or password." in html and "disabled" not in html

    enable(boss, user)
    assert api.post("/api/v1/auth/token", json={"username": "ria", "password": PASSWORD}).status_code == 201


@pytest.mark.parametrize("how", ["disabled", "deleting"])
def test_share_links_of_a_disabled_owner_answer_410_until_enabled(local_app, accounts, boss, how):
    user = accounts.create("sol")
    headers = accounts.headers(user)
    client = local_app.test_client()
    file = upload(client, headers, "report.pdf", b"%PDF-1.4 report")
    link = path(share(client, headers, file))
    recipient = local_app.test_client()
    opened = recipient.get(link)
    assert opened.status_code == 200
    csrf = csrf_from(opened.get_data(as_text=True))

    if how == "disabled":
        disable(boss, user)
    else:
        db.session.execute(db.update(User).filter_by(id=user.id).values(deleting_at=utcnow()))
        db.session.commit()
    page = recipient.get(link)
    assert page.status_code == 410 and "account is disabled" in page.get_data(as_text=True)
    download = recipient.post(f"{link}/download", data={"csrf_token": csrf})
    assert download.status_code == 410
    listed = recipient.post(f"{link}/zip-list", headers={"X-CSRFToken": csrf, "Accept": "application/json"})
    assert listed.status_code == 410 and listed.get_json()["error"]["code"] == "share_ended"

    if how == "disabled":
        enable(boss, user)
    else:
        db.session.execute(db.update(User).filter_by(id=user.id).values(deleting_at=None))
        db.session.commit()
    page, downloaded = visit_and_download(local_app, link)
    assert page.status_code == 200 and downloaded.status_code == 302


def test_upload_links_of_a_disabled_owner_answer_410_until_enabled(local_app, accounts, boss):
    user = accounts.create("tao")
    headers = accounts.headers(user)
    client = local_app.test_client()
    guest = Guest(local_app, request_path(make_request(client, headers)))
    assert guest.open().status_code == 200
    pending = guest.start("early.pdf", DATA).get_json()

    disable(boss, user)
    page = guest.client.get(guest.path)
    assert page.status_code == 410 and "account is disabled" in page.get_data(as_text=True)
    started = guest.start("late.pdf", DATA)
    assert started.status_code == 410 and started.get_json()["error"]["code"] == "request_ended"
    assert guest.call("POST", f"/{pending['id']}/complete", {}).status_code == 410
    assert db.session.execute(db.select(File).filter_by(name="late.pdf")).first() is None

    enable(boss, user)
    assert guest.open().status_code == 200
    guest.upload("after.pdf", DATA)
