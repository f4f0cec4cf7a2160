"""Accounts, sessions, CSRF, rate limits and API tokens."""
import uuid
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import LoginSession, User, utcnow
from app.services import users
from tests.conftest import PASSWORD, csrf_from


def form_token(client, path="/login"):
    return csrf_from(client.get(path).get_data(as_text=True))


def register(client, username, password=PASSWORD, confirm=None):
    token = form_token(client, "/register")
    return client.post("/register", data={"csrf_token": token, "username": username, "password": password,
                                          "confirm": confirm or password})


def test_register_signs_in_and_stores_only_a_hash(client):
    response = register(client, "Alice")
    assert response.status_code == 302 and response.headers["Location"] == "/files"
    assert client.get("/files").status_code == 200
    user = db.session.execute(db.select(User).filter_by(username="alice")).scalar_one()
    assert PASSWORD not in user.password_hash and user.check_password(PASSWORD)


@pytest.mark.parametrize("username,password,confirm,message", [
    ("al", PASSWORD, None, "Field must be between 3 and 32 characters long."),
    ("bad name!", PASSWORD, None, "Usernames are 3–32 characters"),
    ("bob", "short", None, "Field must be at least 8 characters long."),
    ("bob", PASSWORD, "different password", "Passwords do not match."),
])
def test_registration_rejects_bad_input_with_a_message(client, username, password, confirm, message):
    response = register(client, username, password, confirm)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.execute(db.select(User)).first() is None


def test_usernames_are_unique_ignoring_case(client, accounts):
    accounts.create("carol")
    response = register(client, "CAROL")
    assert response.status_code == 409 and "That username is taken." in response.get_data(as_text=True)


def test_registration_can_be_closed(make_app, backend):
    app = make_app(**backend, REGISTRATION="closed")
    client = app.test_client()
    assert client.get("/register").status_code == 403
    assert "Registration is closed" in client.get("/register").get_data(as_text=True)
    with app.app_context():
        with pytest.raises(Exception, match="Registration is closed"):
            users.register("dave", PASSWORD)


def test_login_and_logout(client, accounts):
    user = accounts.create("erin")
    assert client.get("/files").status_code == 302
    assert accounts.login(client, "ERIN").status_code == 302
    assert client.get("/files").status_code == 200
    response = client.post("/logout", data={"csrf_token": form_token(client, "/files")})
    assert response.status_code == 302
    assert client.get("/files").headers["Location"].startswith("/login")
    assert user.username == "erin"


def test_wrong_password_is_refused_with_a_message(client, accounts):
    accounts.create("frank")
    response = accounts.login(client, "frank", "wrong password")
    assert response.status_code == 401 and "Wrong username or password." in response.get_data(as_text=True)
    assert client.get("/files").status_code == 302


def test_logout_really_ends_the_session(app, accounts):
    client, user = accounts.signed_in_client()
    stolen_cookie = client.get_cookie("session").value
    client.post("/logout", data={"csrf_token": form_token(client, "/files")})
    replay = app.test_client()
    replay.set_cookie("session", stolen_cookie)
    assert replay.get("/files").status_code == 302
    assert db.session.execute(db.select(LoginSession)).first() is None


def test_remember_me_cookie_is_also_ended_by_logout(app, accounts):
    user = accounts.create()
    client = app.test_client()
    accounts.login(client, user.username, remember=True)
    remember_cookie = client.get_cookie("remember_token").value
    client.post("/logout", data={"csrf_token": form_token(client, "/files")})
    replay = app.test_client()
    replay.set_cookie("remember_token", remember_cookie)
    assert replay.get("/files").status_code == 302


def idle(minutes):
    for login_session in db.session.execute(db.select(LoginSession)).scalars():
        login_session.last_seen_at = utcnow() - timedelta(minutes=minutes)
    db.session.commit()


def test_sessions_expire_when_idle(app, accounts):
    client, _ = accounts.signed_in_client()
    idle(29)
    assert client.get("/files").status_code == 200
    idle(31)
    assert client.get("/files").status_code == 302


def test_remember_me_outlives_the_idle_limit(app, accounts):
    user = accounts.create()
    client = app.test_client()
    accounts.login(client, user.username, remember=True)
    idle(60 * 24)
    assert client.get("/files").status_code == 200


def test_forms_without_csrf_token_are_refused_and_change_nothing(client, accounts):
    accounts.create("grace")
    response = client.post("/login", data={"username": "grace", "password": PASSWORD},
                           headers={"Referer": "http://localhost/login"})
    assert response.status_code == 302 and response.headers["Location"] == "http://localhost/login"
    follow = client.get("/login")
    assert "The form expired or was not sent from Locker" in follow.get_data(as_text=True)
    assert client.get("/files").status_code == 302
    register_response = client.post("/register", data={"username": "heidi", "password": PASSWORD,
                                                        "confirm": PASSWORD})
    assert register_response.status_code == 302
    assert db.session.execute(db.select(User).filter_by(username="heidi")).first() is None


def test_api_with_session_cookie_needs_the_csrf_header(app, accounts):
    client, _ = accounts.signed_in_client()
    body = {"name": "a.txt", "size": 3}
    refused = client.post("/api/v1/uploads", json=body)
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "csrf_failed"
    allowed = client.post("/api/v1/uploads", json=body, headers={"X-CSRFToken": form_token(client, "/files")})
    assert allowed.status_code == 201


def test_login_attempts_are_rate_limited_per_account(make_app, backend, accounts):
    app = make_app(**backend, LOGIN_LIMIT_PER_ACCOUNT="3 per minute", LOGIN_LIMIT_PER_ADDRESS="100 per minute")
    with app.app_context():
        accounts.create("ivan")
        client = app.test_client()
        for _ in range(3):
            assert accounts.login(client, "ivan", "wrong password").status_code == 401
        # Even the right password waits now, and the page says why.
        limited = accounts.login(client, "ivan")
        assert limited.status_code == 302
        assert "Too many attempts" in client.get(limited.headers["Location"]).get_data(as_text=True)
        assert client.get("/files").status_code == 302
        # The API's token endpoint shares the account's budget.
        api = client.post("/api/v1/auth/token", json={"username": "ivan", "password": PASSWORD})
        assert api.status_code == 429 and api.get_json()["error"]["code"] == "rate_limited"
        # Other accounts are unaffected.
        accounts.create("judy")
        assert accounts.login(app.test_client(), "judy").status_code == 302


def test_login_attempts_are_rate_limited_per_address(make_app, backend, accounts):
    app = make_app(**backend, LOGIN_LIMIT_PER_ACCOUNT="100 per minute", LOGIN_LIMIT_PER_ADDRESS="3 per minute")
    with app.app_context():
        client = app.test_client()
        for number in range(3):
            assert accounts.login(client, f"nobody{number}", "wrong password").status_code == 401
        accounts.create("kate")
        assert accounts.login(client, "kate").status_code == 302
        assert client.get("/files").status_code == 302


def test_successful_logins_do_not_use_up_the_limit(make_app, backend, accounts):
    app = make_app(**backend, LOGIN_LIMIT_PER_ACCOUNT="2 per minute")
    with app.app_context():
        accounts.create("leo")
        for _ in range(4):
            client = app.test_client()
            accounts.login(client, "leo")
            assert client.get("/files").status_code == 200


def test_next_parameter_only_goes_to_this_site(client, accounts):
    accounts.create("mallory")
    token = form_token(client)
    # Browsers read "\\" as "/" and drop tabs and newlines in a URL: each of these is another host to them.
    for target, expected in [("/account", "/account"), ("/files?sort=name", "/files?sort=name"),
                             ("https://evil.example/", "/files"), ("//evil.example", "/files"),
                             ("/%5Cevil.example", "/files"), ("/%5C/evil.example", "/files"),
                             ("%5C%5Cevil.example", "/files"), ("/%09/evil.example", "/files"),
                             ("/%0A/evil.example", "/files")]:
        client = client.application.test_client()
        token = form_token(client)
        response = client.post(f"/login?next={target}", data={"csrf_token": token, "username": "mallory",
                                                                "password": PASSWORD})
        assert response.headers["Location"] == expected, target


# API tokens

def test_token_endpoint_issues_a_working_token(client, accounts):
    accounts.create("nina")
    response = client.post("/api/v1/auth/token", json={"username": "nina", "password": PASSWORD})
    assert response.status_code == 201
    token = response.get_json()["token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.get_json()["username"] == "nina"


@pytest.mark.parametrize("body", [{"username": "nina", "password": "wrong"}, {"username": "nobody", "password": "x"}])
def test_token_endpoint_refuses_bad_credentials(client, accounts, body):
    accounts.create("nina")
    response = client.post("/api/v1/auth/token", json=body)
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "invalid_credentials"


@pytest.mark.parametrize("body,message", [({}, "username: Missing data for required field."),
                                          ({"username": 5, "password": None}, "username: Not a valid string."),
                                          ({"username": "nina"}, "password: Missing data for required field.")])
def test_token_endpoint_names_the_missing_or_malformed_field(client, accounts, body, message):
    accounts.create("nina")
    response = client.post("/api/v1/auth/token", json=body)
    assert response.status_code == 400 and response.get_json()["error"]["message"] == message


@pytest.mark.parametrize("header", ["Bearer lk_not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz", "lk_raw"])
def test_bad_tokens_get_401_json(client, header):
    response = client.get("/api/v1/files", headers={"Authorization": header})
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "invalid_token"


def test_no_credentials_get_401_json_not_a_login_page(client):
    response = client.get("/api/v1/files")
    assert response.status_code == 401 and response.is_json


def test_revoked_and_expired_tokens_stop_working(client, accounts):
    from app.models import ApiToken
    user = accounts.create()
    token = accounts.token(user)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.delete("/api/v1/auth/token", headers=headers).status_code == 204
    assert client.get("/api/v1/files", headers=headers).status_code == 401

    token = accounts.token(user)
    row = db.session.execute(db.select(ApiToken)).scalar_one()
    assert row.token_hash != token and token not in row.token_hash
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.get("/api/v1/files", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_account_page_creates_lists_and_revokes_tokens(app, accounts):
    client, user = accounts.signed_in_client()
    page = client.post("/account", data={"csrf_token": form_token(client, "/account"), "name": "backup script"},
                       follow_redirects=True)
    html = page.get_data(as_text=True)
    assert "shown only once" in html and "backup script" in html
    secret = html.split('id="new-token" type="text" readonly value="')[1].split('"')[0]
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    assert secret not in client.get("/account").get_data(as_text=True)
    from app.models import ApiToken
    token_id = db.session.execute(db.select(ApiToken.id)).scalar_one()
    client.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": form_token(client, "/account")})
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_cannot_revoke_another_users_token(app, accounts):
    from app.models import ApiToken
    owner = accounts.create()
    accounts.token(owner)
    token_id = db.session.execute(db.select(ApiToken.id)).scalar_one()
    client, _ = accounts.signed_in_client()
    response = client.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": form_token(client, "/account")})
    assert response.status_code == 404
    assert db.session.get(ApiToken, token_id) is not None


# First admin

def test_setup_link_creates_the_first_admin_once(app):
    token = users.issue_setup_token()
    client = app.test_client()
    page = client.get(f"/setup/{token}")
    assert page.status_code == 200
    response = client.post(f"/setup/{token}", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                                     "username": "root", "password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 302
    admin = db.session.execute(db.select(User).filter_by(username="root")).scalar_one()
    assert admin.is_admin
    assert app.test_client().get(f"/setup/{token}").status_code == 404


def test_wrong_setup_token_is_404(app):
    users.issue_setup_token()
    assert app.test_client().get("/setup/guess").status_code == 404


def test_admin_from_environment_settings(make_app, backend):
    app = make_app(**backend, LOCKER_ADMIN_USERNAME="Boss", LOCKER_ADMIN_PASSWORD=PASSWORD)
    with app.app_context():
        admin = users.ensure_admin_from_config()
        assert admin.username == "boss" and admin.is_admin and admin.check_password(PASSWORD)
        assert users.ensure_admin_from_config().id == admin.id


def test_rate_limit_counters_live_in_redis_when_configured(make_app, backend, accounts):
    """With REDIS_URL the counters sit in Redis, where every worker and host sees the same ones."""
    import redis
    username = f"olga{uuid.uuid4().hex[:12]}"  # unique, so runs never share a counter; they expire in a minute
    app = make_app(**backend, RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0", LOGIN_LIMIT_PER_ACCOUNT="2 per minute")
    with app.app_context():
        accounts.create(username)
        for _ in range(2):
            assert accounts.login(app.test_client(), username, "wrong password").status_code == 401
        keys = redis.Redis.from_url("redis://127.0.0.1:6379/0").keys(f"*account:{username}*")
        assert len(keys) == 1
        response = app.test_client().post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        assert response.status_code == 429


def test_tokens_are_listed_created_with_expiry_and_revoked_through_the_api(client, accounts):
    user = accounts.create()
    headers = accounts.headers(user)
    made = client.post("/api/v1/tokens", headers=headers, json={"name": "nightly backup", "expires_in_days": 7})
    assert made.status_code == 201
    body = made.get_json()
    assert body["token"].startswith("lk_") and body["name"] == "nightly backup" and body["expires_at"].endswith("Z")
    listed = client.get("/api/v1/tokens", headers=headers).get_json()["items"]
    assert {"tests", "nightly backup"} == {item["name"] for item in listed}
    assert all("token" not in item for item in listed)
    new_headers = {"Authorization": f"Bearer {body['token']}"}
    assert client.get("/api/v1/me", headers=new_headers).status_code == 200
    assert [item["last_used_at"] is not None for item in client.get("/api/v1/tokens", headers=headers)
            .get_json()["items"] if item["id"] == body["id"]] == [True]
    assert client.delete(f"/api/v1/tokens/{body['id']}", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=new_headers).status_code == 401
    remaining = next(item["id"] for item in listed if item["name"] == "tests")
    other = accounts.headers(accounts.create())
    assert client.delete(f"/api/v1/tokens/{remaining}", headers=other).status_code == 404
    assert client.get("/api/v1/me", headers=headers).status_code == 200


@pytest.mark.parametrize("days", [0, 5000, "7", True])
def test_bad_token_lifetimes_are_refused(client, accounts, days):
    headers = accounts.headers(accounts.create())
    response = client.post("/api/v1/tokens", headers=headers, json={"name": "x", "expires_in_days": days})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_expires_in_days"


def test_account_page_tokens_can_expire(app, accounts):
    from app.models import ApiToken
    client, _ = accounts.signed_in_client()
    client.post("/account", data={"csrf_token": form_token(client, "/account"), "name": "laptop",
                                  "expires_in_days": "30"})
    token = db.session.execute(db.select(ApiToken)).scalar_one()
    assert timedelta(days=29) < token.expires_at - utcnow() <= timedelta(days=30)
    html = client.get("/account").get_data(as_text=True)
    assert '<label for="expires_in_days">Expires</label>' in html


def test_the_sign_in_page_asks_to_log_in_once_however_many_pages_sent_there(client):
    """Background requests of a page whose session ended (its list refresh) also land on sign-in."""
    for path in ("/files", "/files?fragment=regions", "/files"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=%2Ffiles")
    page = client.get("/login?next=%2Ffiles").get_data(as_text=True)
    assert page.count("Log in to see that page.") == 1
    assert "Log in to see that page." not in client.get("/login").get_data(as_text=True)
