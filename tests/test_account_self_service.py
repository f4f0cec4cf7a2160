"""The Account page's self-service: change password, signed-in devices, delete my account (pages and API)."""
import pytest

from app.extensions import db
from app.models import AuditEvent, LoginSession, User, utcnow
from app.services import devices, tokens
from tests.conftest import PASSWORD, csrf_from
from tests.helpers import upload
from tests.test_two_factor import code_for, enrol

NEW_PASSWORD = "purple elephant marmalade 42"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Mobile/15E148 Safari/604.1")


@pytest.fixture
def app(make_app):
    """These pages do not touch storage but through deletion, which tests/test_deletion.py runs on both backends."""
    app = make_app(STORAGE_BACKEND="local")
    with app.app_context():
        yield app


def log_in(app, user, agent=FIREFOX, address="203.0.113.7", password=PASSWORD):
    client = app.test_client()
    environ = {"REMOTE_ADDR": address}
    page = client.get("/login", headers={"User-Agent": agent}, environ_base=environ)
    response = client.post("/login", headers={"User-Agent": agent}, environ_base=environ, data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "username": user.username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def account_page(client):
    response = client.get("/account")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def post_form(client, url, **data):
    token = csrf_from(account_page(client))
    return client.post(url, data={"csrf_token": token, **data}, follow_redirects=True)


def change_password(client, current=PASSWORD, new=NEW_PASSWORD, repeat=None):
    return post_form(client, "/account/password", **{"password-current_password": current,
                                                     "password-new_password": new,
                                                     "password-repeat": new if repeat is None else repeat})


def signed_in_still(client):
    return client.get("/account").status_code == 200


def password_is(user_id, password):
    db.session.expire_all()
    return db.session.get(User, user_id).check_password(password)


def test_changing_the_password_ends_every_other_session_and_keeps_this_one_and_the_tokens(app, accounts):
    user = accounts.create()
    here, elsewhere = log_in(app, user), log_in(app, user, agent=IPHONE)
    headers = accounts.headers(user)

    page = change_password(here).get_data(as_text=True)

    assert "Password changed. You were signed out on 1 other device" in page and "API tokens keep working" in page
    assert password_is(user.id, NEW_PASSWORD)
    assert signed_in_still(here)
    assert elsewhere.get("/account").status_code == 302  # to the login page, on its very next request
    assert app.test_client().get("/api/v1/me", headers=headers).status_code == 200
    assert db.session.execute(db.select(AuditEvent).filter_by(owner_id=user.id, action="password_changed")).scalar_one()


@pytest.mark.parametrize("current, new, repeat, message", [
    ("wrong password here", NEW_PASSWORD, None, "That is not your current password."),
    (PASSWORD, "password123", None, "too easy to guess"),
    (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x", "The new passwords do not match."),
    ("", NEW_PASSWORD, None, "This field is required."),
])
def test_a_refused_password_change_says_why_and_changes_nothing(app, accounts, current, new, repeat, message):
    user = accounts.create()
    here, elsewhere = log_in(app, user), log_in(app, user)

    page = change_password(here, current, new, repeat).get_data(as_text=True)

    assert message in page
    assert password_is(user.id, PASSWORD)
    assert signed_in_still(here) and signed_in_still(elsewhere)


def test_guessing_the_current_password_is_rate_limited_like_signing_in(make_app, accounts):
    app = make_app(STORAGE_BACKEND="local", LOGIN_LIMIT_PER_ACCOUNT="2 per minute")
    with app.app_context():
        user = accounts.create()
        client = log_in(app, user)
        for _ in range(2):
            assert "That is not your current password." in change_password(client, "wrong guess!").get_data(
                as_text=True)
        token = csrf_from(account_page(client))
        refused = client.post("/account/password", data={
            "csrf_token": token, "password-current_password": PASSWORD, "password-new_password": NEW_PASSWORD,
            "password-repeat": NEW_PASSWORD})
        assert refused.status_code == 302 and refused.headers["Retry-After"]
        assert "Too many attempts. Try again in" in account_page(client)
        assert password_is(user.id, PASSWORD)


def test_signing_in_records_the_device_and_the_time(app, accounts):
    user = accounts.create()
    before = utcnow()
    client = log_in(app, user, agent=IPHONE, address="198.51.100.23")
    db.session.expire_all()
    assert db.session.get(User, user.id).last_sign_in_at >= before
    row = db.session.execute(db.select(LoginSession).filter_by(user_id=user.id)).scalar_one()
    assert row.user_agent == IPHONE and row.address == "198.51.100.23"
    page = account_page(client)
    assert "Safari on iOS" in page and "198.51.100.23" in page and "this device" in page


def test_an_api_sign_in_records_the_time_too(app, accounts):
    user = accounts.create()
    response = app.test_client().post("/api/v1/auth/token", json={"username": user.username, "password": PASSWORD})
    assert response.status_code == 201
    db.session.expire_all()
    assert db.session.get(User, user.id).last_sign_in_at is not None


def test_a_very_long_user_agent_is_cut_to_fit(app, accounts):
    user = accounts.create()
    log_in(app, user, agent="Firefox/1 " + "x" * 600)
    assert len(db.session.execute(db.select(LoginSession.user_agent).filter_by(user_id=user.id)).scalar_one()) == 255


@pytest.mark.parametrize("agent, words", [
    (FIREFOX, "Firefox on Linux"),
    (IPHONE, "Safari on iOS"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
     "Safari/537.36 Edg/126.0.0.0", "Edge on Windows"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
     "Safari/537.36", "Chrome on macOS"),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile "
     "Safari/537.36", "Chrome on Android"),
    ("curl/8.5.0", "curl"),
    ("", "Unknown browser"),
    (None, "Unknown browser"),
])
def test_user_agents_in_words(agent, words):
    assert devices.describe_agent(agent) == words


def session_ids(user):
    return db.session.execute(db.select(LoginSession.id).filter_by(user_id=user.id).order_by(LoginSession.id)
                              ).scalars().all()


def test_signing_out_one_device_ends_it_on_its_next_request(app, accounts):
    user = accounts.create()
    here, phone = log_in(app, user), log_in(app, user, agent=IPHONE)
    _, phone_id = session_ids(user)

    page = post_form(here, f"/account/sessions/{phone_id}/end").get_data(as_text=True)

    assert "That device was signed out." in page
    assert phone.get("/account").status_code == 302 and signed_in_still(here)


def test_signing_out_this_device_from_the_list_logs_out(app, accounts):
    user = accounts.create()
    here = log_in(app, user)
    (here_id,) = session_ids(user)
    page = post_form(here, f"/account/sessions/{here_id}/end").get_data(as_text=True)
    assert "You are logged out." in page and not signed_in_still(here)


def test_another_users_session_is_not_found(app, accounts):
    user, stranger = accounts.create(), accounts.create()
    here, theirs = log_in(app, user), log_in(app, stranger)
    (their_id,) = session_ids(stranger)
    token = csrf_from(account_page(here))
    assert here.post(f"/account/sessions/{their_id}/end", data={"csrf_token": token}).status_code == 404
    assert here.post("/account/sessions/99999999999/end", data={"csrf_token": token}).status_code == 404
    assert signed_in_still(theirs)


def test_signing_out_all_other_devices(app, accounts):
    user, stranger = accounts.create(), accounts.create()
    here, others = log_in(app, user), [log_in(app, user), log_in(app, user, agent=IPHONE)]
    theirs = log_in(app, stranger)

    page = post_form(here, "/account/sessions/end-others").get_data(as_text=True)

    assert "Signed out on 2 other devices." in page
    assert signed_in_still(here) and signed_in_still(theirs)
    assert all(other.get("/account").status_code == 302 for other in others)
    assert "No other device was signed in." in post_form(here, "/account/sessions/end-others").get_data(as_text=True)


def delete_mine(client, username, password=PASSWORD, **extra):
    return post_form(client, "/account/delete", **{"delete-password": password, "delete-confirm": username,
                                                   **{f"delete-{key}": value for key, value in extra.items()}})


def test_deleting_my_account_asks_for_the_password_then_deletes_everything_and_signs_out(app, accounts):
    user = accounts.create()
    client = log_in(app, user)
    headers = accounts.headers(user)
    upload(app.test_client(), headers, "mine.txt", b"my bytes")
    user_id, name = user.id, user.username
    page = account_page(client)
    assert "1 file (8 bytes)" in page or "1 file (8 B)" in page

    wrong = delete_mine(client, name, password="not my password").get_data(as_text=True)
    assert "That is not your current password." in wrong and db.session.get(User, user_id) is not None
    mistyped = delete_mine(client, name + "x").get_data(as_text=True)
    assert f"Type your username, {name}, to confirm." in mistyped and db.session.get(User, user_id) is not None

    done = delete_mine(client, name.upper())

    assert "Your account and all your files were deleted." in done.get_data(as_text=True)
    assert done.request.path == "/login"
    db.session.expire_all()
    assert db.session.get(User, user_id) is None
    assert not signed_in_still(client)
    assert app.test_client().get("/api/v1/me", headers=headers).status_code == 401
    event = db.session.execute(db.select(AuditEvent).filter_by(action="account_deleted")).scalar_one()
    assert event.owner_id is None and event.actor_name == name and event.file_name == name


def test_the_last_admin_cannot_delete_themself(app, accounts):
    admin = accounts.create(is_admin=True)
    client = log_in(app, admin)
    page = delete_mine(client, admin.username).get_data(as_text=True)
    assert "only administrator account" in page
    assert db.session.get(User, admin.id).deleting_at is None and signed_in_still(client)
    # With another admin it may.
    accounts.create(is_admin=True)
    assert "Your account and all your files were deleted." in delete_mine(client, admin.username).get_data(
        as_text=True)


def test_with_two_factor_on_deleting_the_account_needs_a_right_code_too(app, accounts):
    user = accounts.create()
    user_id = user.id
    client = log_in(app, user)
    assert "Two-factor code" not in account_page(client)
    secret, recovery_codes = enrol(user)
    page = account_page(client)
    assert 'for="delete-code">Two-factor code' in page
    for wrong in ("", "000000", "not a code"):
        refused = delete_mine(client, user.username, code=wrong).get_data(as_text=True)
        assert "Wrong password or two-factor code." in refused
    db.session.expire_all()
    assert db.session.get(User, user.id).deleting_at is None
    # Changing the password asks for the current one only: this session passed the second factor already.
    assert "Password changed." in change_password(client).get_data(as_text=True)
    assert password_is(user.id, NEW_PASSWORD)
    done = delete_mine(client, user.username, password=NEW_PASSWORD, code=code_for(secret))
    assert "Your account and all your files were deleted." in done.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user_id) is None


def test_a_recovery_code_stands_in_for_the_app_when_deleting_through_the_api(app, accounts):
    user = accounts.create()
    user_id = user.id
    _, recovery_codes = enrol(user)
    headers = {"Authorization": f"Bearer {tokens.create_token(user, 'tests')[1]}"}
    client = app.test_client()
    without = client.delete("/api/v1/me", headers=headers, json={"password": PASSWORD})
    assert without.status_code == 403 and without.get_json()["error"]["code"] == "wrong_password"
    done = client.delete("/api/v1/me", headers=headers, json={"password": PASSWORD, "code": recovery_codes[0]})
    assert done.status_code == 202, done.get_json()
    db.session.expire_all()
    assert db.session.get(User, user_id) is None


def test_deleting_my_account_through_the_api(app, accounts):
    user = accounts.create()
    headers = accounts.headers(user)
    client = app.test_client()
    upload(client, headers, "mine.txt", b"my bytes")
    user_id, name = user.id, user.username

    wrong = client.delete("/api/v1/me", headers=headers, json={"password": "not it"})
    assert wrong.status_code == 403 and wrong.get_json()["error"]["code"] == "wrong_password"
    assert client.delete("/api/v1/me", headers=headers).status_code == 400
    assert db.session.get(User, user_id) is not None

    done = client.delete("/api/v1/me", headers=headers, json={"password": PASSWORD})

    assert done.status_code == 202 and done.get_json() == {"username": name, "finished": True}
    db.session.expire_all()
    assert db.session.get(User, user_id) is None
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_the_last_admin_cannot_delete_themself_through_the_api(app, accounts):
    admin = accounts.create(is_admin=True)
    refused = app.test_client().delete("/api/v1/me", headers=accounts.headers(admin), json={"password": PASSWORD})
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "last_admin"
    assert db.session.get(User, admin.id).deleting_at is None
