"""Single sign-on (OpenID Connect) against a real provider process on a free port (oidc-provider-mock).

Each test drives the whole authorization-code flow: Locker's button redirects to the provider, the
test signs in (or refuses) on the provider's page over HTTP, and the Flask test client follows the
provider's redirect to Locker's callback, whose token request goes back to the provider over HTTP.
"""
import base64
import hashlib
import socket
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest

from app.extensions import db
from app.models import AuditEvent, User, UserIdentity
from app.services import oidc, users
from tests.conftest import PASSWORD, csrf_from
from tests.helpers import at_once
from tests.live_support import HOST
from tests.oidc_support import Provider, closed_port, oidc_provider, path_and_query, query  # noqa: F401


@pytest.fixture
def sso(make_app, oidc_provider):
    """Build an app signing in with the test provider (local storage), in its context."""
    contexts = []

    def build(**overrides):
        app = make_app(STORAGE_BACKEND="local", **oidc_provider.settings(**overrides))
        context = app.app_context()
        context.push()
        contexts.append(context)
        return app

    yield build
    for context in reversed(contexts):
        context.pop()


def subject():
    return f"sub-{uuid.uuid4().hex[:12]}"


def start(client, path="/login/sso"):
    """Follow "Sign in with ..." on the sign-in page: the provider's authorization URL."""
    assert 'href="/login/sso' in client.get("/login").get_data(as_text=True)
    response = client.get(path)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def sign_in(client, provider, sub, path="/login/sso"):
    """The whole flow as `sub`; Locker's answer to the callback."""
    callback = provider.authorize(start(client, path), sub)
    return client.get(path_and_query(callback))


def users_named(prefix):
    return db.session.execute(db.select(User).where(User.username.startswith(prefix))).scalars().all()


def user_count():
    return db.session.execute(db.select(db.func.count(User.id))).scalar_one()


def page_text(response):
    return response.get_data(as_text=True).replace("&#34;", '"').replace("&#39;", "'")


def test_first_sign_in_makes_an_account_without_a_password(sso, oidc_provider):
    app = sso()
    sub = subject()
    oidc_provider.set_user(sub, preferred_username="Zoë Example", email="Zoe@Example.org", email_verified=True)
    client = app.test_client()
    authorize_url = start(client)
    sent = query(authorize_url)
    # PKCE with S256, a nonce and a state, for this client and this callback.
    assert sent["code_challenge_method"] == "S256" and len(sent["code_challenge"]) >= 43
    assert sent["nonce"] and sent["state"] and sent["client_id"] == "locker-tests"
    assert sent["scope"] == "openid email profile" and sent["response_type"] == "code"
    assert sent["redirect_uri"] == "http://localhost/login/sso/callback"

    response = client.get(path_and_query(oidc_provider.authorize(authorize_url, sub)))
    assert response.status_code == 302 and response.headers["Location"] == "/files"
    # The code went back with the verifier whose S256 digest was the challenge.
    exchange = next(form for form in oidc_provider.token_requests if form.get("code") == query(
        oidc_provider.last_callback)["code"])
    digest = hashlib.sha256(exchange["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == sent["code_challenge"]
    assert exchange["grant_type"] == "authorization_code"
    assert exchange["redirect_uri"] == "http://localhost/login/sso/callback"
    assert client.get("/files").status_code == 200
    user = db.session.execute(db.select(User).filter_by(username="zoe-example")).scalar_one()
    assert user.password_hash is None and user.email == "zoe@example.org" and not user.is_admin
    identity = db.session.execute(db.select(UserIdentity).filter_by(user_id=user.id)).scalar_one()
    assert (identity.provider, identity.subject) == (oidc_provider.url, sub)
    assert identity.last_used_at is not None and identity.email == "zoe@example.org"
    event = db.session.execute(db.select(AuditEvent).filter_by(owner_id=user.id, action="sign_in")).scalar_one()
    assert "Test SSO" in event.detail
    # No password signs in to it, and trying is an ordinary refusal.
    stranger = app.test_client()
    token = csrf_from(stranger.get("/login").get_data(as_text=True))
    refused = stranger.post("/login", data={"csrf_token": token, "username": user.username, "password": PASSWORD})
    assert refused.status_code == 401 and "Wrong username or password." in page_text(refused)


def test_the_same_subject_signs_in_to_the_same_account(sso, oidc_provider):
    app = sso()
    sub = subject()
    oidc_provider.set_user(sub, preferred_username=f"same{sub[-6:]}", email=f"{sub}@example.org",
                           email_verified=True)
    assert sign_in(app.test_client(), oidc_provider, sub).status_code == 302
    before = user_count()
    # Even after the provider changes the username and address it reports.
    oidc_provider.set_user(sub, preferred_username="someone-else", email="other@example.org", email_verified=True)
    second = app.test_client()
    assert sign_in(second, oidc_provider, sub).status_code == 302
    assert user_count() == before
    assert second.get("/account").status_code == 200
    assert f"same{sub[-6:]}" in second.get("/account").get_data(as_text=True)
    assert db.session.execute(db.select(db.func.count(UserIdentity.id)).filter_by(subject=sub)).scalar_one() == 1


def test_a_taken_username_gets_digits_and_an_unverified_email_is_not_kept(sso, oidc_provider, accounts):
    app = sso()
    accounts.create("robin")
    sub = subject()
    oidc_provider.set_user(sub, email="robin@example.org", email_verified=False)
    assert sign_in(app.test_client(), oidc_provider, sub).status_code == 302
    made = db.session.execute(db.select(User).filter_by(username="robin2")).scalar_one()
    assert made.email is None and made.password_hash is None


@pytest.mark.parametrize("claimed, made", [("a", "a-user"), ("", "user"), ("-.x_y", "x_y"),
                                           ("Ünïcödé name!", "unicode-name"), ("Zoë Example", "zoe-example"),
                                           ("x" * 40, "x" * 32), ("first.last@corp.example", "first.last")])
def test_usernames_are_made_valid(claimed, made):
    assert oidc.username_base({"preferred_username": claimed}) == made
    assert users.USERNAME_PATTERN.match(made)


def test_link_by_verified_email_signs_in_to_the_existing_account(sso, oidc_provider, accounts):
    app = sso(OIDC_LINK_BY_EMAIL=True)
    existing = accounts.create()
    existing.email = f"{existing.username}@example.org"
    db.session.commit()
    sub = subject()
    oidc_provider.set_user(sub, email=existing.email.upper(), email_verified=True)
    before = user_count()
    client = app.test_client()
    assert sign_in(client, oidc_provider, sub).status_code == 302
    assert user_count() == before
    assert existing.username in client.get("/account").get_data(as_text=True)
    identity = db.session.execute(db.select(UserIdentity).filter_by(subject=sub)).scalar_one()
    assert identity.user_id == existing.id
    # The password still works too.
    assert accounts.login(app.test_client(), existing.username).status_code == 302


def test_without_link_by_email_a_matching_email_makes_a_separate_account(sso, oidc_provider, accounts):
    app = sso()  # OIDC_LINK_BY_EMAIL is off by default
    existing = accounts.create()
    existing.email = f"{existing.username}@example.org"
    db.session.commit()
    sub = subject()
    oidc_provider.set_user(sub, preferred_username=f"sep{sub[-6:]}", email=existing.email, email_verified=True)
    assert sign_in(app.test_client(), oidc_provider, sub).status_code == 302
    made = db.session.execute(db.select(User).filter_by(username=f"sep{sub[-6:]}")).scalar_one()
    assert made.id != existing.id and made.email is None  # the address belongs to the other account


@pytest.mark.parametrize("verified", [False, None, "false"])
def test_an_unverified_email_never_links(sso, oidc_provider, accounts, verified):
    app = sso(OIDC_LINK_BY_EMAIL=True, OIDC_CREATE_USERS=False)
    existing = accounts.create()
    existing.email = f"{existing.username}@example.org"
    db.session.commit()
    sub = subject()
    claims = {"email": existing.email} if verified is None else {"email": existing.email, "email_verified": verified}
    oidc_provider.set_user(sub, **claims)
    before = user_count()
    client = app.test_client()
    response = sign_in(client, oidc_provider, sub)
    assert response.status_code == 403
    assert "No Locker account is linked to your Test SSO account" in page_text(response)
    assert user_count() == before
    assert db.session.execute(db.select(UserIdentity).filter_by(subject=sub)).first() is None
    assert client.get("/files").status_code == 302  # not signed in


def test_an_unverified_email_makes_a_new_account_when_creating_is_on(sso, oidc_provider, accounts):
    app = sso(OIDC_LINK_BY_EMAIL=True)
    existing = accounts.create()
    existing.email = f"{existing.username}@example.org"
    db.session.commit()
    sub = subject()
    oidc_provider.set_user(sub, preferred_username=f"unv{sub[-6:]}", email=existing.email, email_verified=False)
    assert sign_in(app.test_client(), oidc_provider, sub).status_code == 302
    identity = db.session.execute(db.select(UserIdentity).filter_by(subject=sub)).scalar_one()
    assert identity.user_id != existing.id and identity.user.email is None and identity.email is None


def test_registration_closed_does_not_stop_sso_accounts(sso, oidc_provider):
    app = sso(REGISTRATION="closed")
    sub = subject()
    oidc_provider.set_user(sub, preferred_username=f"closed{sub[-6:]}")
    assert sign_in(app.test_client(), oidc_provider, sub).status_code == 302
    assert users_named(f"closed{sub[-6:]}")


def test_without_creating_users_an_unknown_identity_is_refused(sso, oidc_provider):
    app = sso(OIDC_CREATE_USERS=False)
    sub = subject()
    before = user_count()
    response = sign_in(app.test_client(), oidc_provider, sub)
    assert response.status_code == 403 and "Ask an administrator" in page_text(response)
    assert user_count() == before


def test_a_tampered_state_is_refused(sso, oidc_provider):
    app = sso()
    sub = subject()
    before = user_count()
    client = app.test_client()
    callback = oidc_provider.authorize(start(client), sub)
    state = query(callback)["state"]
    response = client.get(path_and_query(callback).replace(state, state[:-2] + "xx"))
    assert response.status_code == 400
    assert "was not started from this browser" in page_text(response)
    assert 'role="alert"' in response.get_data(as_text=True)
    assert user_count() == before
    assert client.get("/files").status_code == 302
    # Without any state, and from a browser that never started it (another client's callback).
    assert client.get(path_and_query(callback).split("&state=")[0]).status_code == 400
    assert app.test_client().get(path_and_query(callback)).status_code == 400
    assert user_count() == before


def test_a_replayed_callback_is_refused(sso, oidc_provider):
    app = sso()
    sub = subject()
    client = app.test_client()
    callback = path_and_query(oidc_provider.authorize(start(client), sub))
    assert client.get(callback).status_code == 302
    token = csrf_from(client.get("/account").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    replay = client.get(callback)
    assert replay.status_code == 400
    assert client.get("/files").status_code == 302


def test_starting_again_and_again_keeps_only_the_latest_attempt(sso, oidc_provider):
    app = sso()
    client = app.test_client()
    first = start(client)
    for _ in range(30):
        latest = start(client)
    cookie = client.get_cookie("session")
    assert len(cookie.value) < 1500  # one pending attempt, not thirty
    sub = subject()
    stale = client.get(path_and_query(oidc_provider.authorize(first, sub)))
    assert stale.status_code == 400 and "Start again" in page_text(stale)
    assert client.get(path_and_query(oidc_provider.authorize(latest, sub))).status_code == 302
    assert client.get("/files").status_code == 200


def test_a_refused_login_at_the_provider_is_shown(sso, oidc_provider):
    app = sso()
    before = user_count()
    client = app.test_client()
    callback = oidc_provider.deny(start(client))
    assert query(callback)["error"] == "access_denied"
    response = client.get(path_and_query(callback))
    assert response.status_code == 401
    assert "Signing in with Test SSO was cancelled or refused" in page_text(response)
    assert user_count() == before
    assert client.get("/files").status_code == 302


def test_a_disabled_user_is_told_so_as_a_right_password_is_told(sso, oidc_provider, accounts):
    app = sso(OIDC_LINK_BY_EMAIL=True)
    sub = subject()
    oidc_provider.set_user(sub, preferred_username=f"dis{sub[-6:]}")
    assert sign_in(app.test_client(), oidc_provider, sub).status_code == 302
    user = users_named(f"dis{sub[-6:]}")[0]
    user.is_active_account = False
    db.session.commit()
    client = app.test_client()
    response = sign_in(client, oidc_provider, sub)
    assert response.status_code == 403
    assert "This account is disabled." in page_text(response)
    assert client.get("/files").status_code == 302
    # Nor does linking by email reach a disabled account.
    disabled = accounts.create()
    disabled.email, disabled.is_active_account = f"{disabled.username}@example.org", False
    db.session.commit()
    other = subject()
    oidc_provider.set_user(other, email=disabled.email, email_verified=True)
    assert sign_in(app.test_client(), oidc_provider, other).status_code == 403
    assert db.session.execute(db.select(UserIdentity).filter_by(subject=other)).first() is None


def test_while_an_admin_requires_two_factor_single_sign_on_asks_for_the_code_too(sso, oidc_provider):
    from app.services import two_factor
    from tests.test_two_factor import code_for, enrol

    app = sso()
    sub = subject()
    name = f"tf{sub[-6:]}"
    oidc_provider.set_user(sub, preferred_username=name)
    assert sign_in(app.test_client(), oidc_provider, sub).status_code == 302
    user = users_named(name)[0]
    secret, _ = enrol(user)
    # Not required: the provider's word is enough.
    assert sign_in(app.test_client(), oidc_provider, sub).headers["Location"].endswith("/files")
    two_factor.set_required(True)
    client = app.test_client()
    asked = sign_in(client, oidc_provider, sub)
    assert asked.status_code == 302 and asked.headers["Location"].endswith("/login/two-factor")
    assert client.get("/files").status_code == 302  # no session before the code
    page = client.get("/login/two-factor")
    done = client.post("/login/two-factor", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                                   "code": code_for(secret)})
    assert done.status_code == 302 and client.get("/files").status_code == 200


def test_sign_in_returns_to_the_page_asked_for(sso, oidc_provider):
    app = sso()
    response = sign_in(app.test_client(), oidc_provider, subject(), path="/login/sso?next=/account")
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    elsewhere = sign_in(app.test_client(), oidc_provider, subject(), path="/login/sso?next=//evil.example/")
    assert elsewhere.headers["Location"] == "/files"


def test_sso_accounts_use_the_account_page_and_make_api_tokens(sso, oidc_provider):
    app = sso()
    client = app.test_client()
    assert sign_in(client, oidc_provider, subject()).status_code == 302
    page = client.get("/account")
    assert page.status_code == 200
    made = client.post("/account", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                         "name": "laptop", "expires_in_days": "30"})
    assert made.status_code == 302
    secret = client.get("/account").get_data(as_text=True).split('id="new-token" type="text" readonly value="')[1]
    secret = secret.split('"')[0]
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200


def test_the_button_is_a_link_to_start_signing_in(sso):
    app = sso()
    page = app.test_client().get("/login").get_data(as_text=True)
    assert '<a class="button" href="/login/sso">Sign in with Test SSO</a>' in page
    assert 'name="password"' in page  # local login is still on
    assert '<a class="button" href="/login/sso?next=/account">' in app.test_client().get(
        "/login?next=/account").get_data(as_text=True)


def test_no_button_without_sso(make_app):
    app = make_app(STORAGE_BACKEND="local")
    page = app.test_client().get("/login").get_data(as_text=True)
    assert "Sign in with" not in page and 'name="password"' in page
    assert app.test_client().get("/login/sso").status_code == 403


def test_an_id_token_from_another_issuer_is_refused(sso, oidc_provider, monkeypatch):
    # Metadata that names another issuer (which Authlib then checks the token against) signs nobody in.
    app = sso()
    client = app.test_client()
    callback = path_and_query(oidc_provider.authorize(start(client), subject()))
    original = oidc.client().authorize_access_token

    def from_elsewhere(**kwargs):
        token = original(**kwargs)
        token["userinfo"]["iss"] = "https://elsewhere.example"
        return token

    monkeypatch.setattr(oidc.client(), "authorize_access_token", from_elsewhere)
    before = user_count()
    response = client.get(callback)
    assert response.status_code == 401 and "could not be verified" in page_text(response)
    assert user_count() == before


def test_local_login_off_refuses_passwords_on_the_page_and_the_api(sso, oidc_provider, accounts):
    app = sso(LOCAL_LOGIN=False)
    user = accounts.create()
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert "Sign in with Test SSO" in page and 'name="password"' not in page and "Create an account" not in page
    token = csrf_from(page)
    response = client.post("/login", data={"csrf_token": token, "username": user.username, "password": PASSWORD})
    assert response.status_code == 403
    assert "Signing in with a password is turned off here" in page_text(response)
    assert client.get("/files").status_code == 302
    api = client.post("/api/v1/auth/token", json={"username": user.username, "password": PASSWORD})
    assert api.status_code == 403 and api.get_json()["error"]["code"] == "local_login_disabled"
    assert client.get("/register").status_code == 403
    # Single sign-on still signs in, and the setup of a first admin is not a password sign-in.
    assert sign_in(client, oidc_provider, subject()).status_code == 302


def test_local_login_off_closes_every_other_way_to_set_a_password(make_app, oidc_provider, accounts,
                                                                   smtp_server):
    from app.errors import Forbidden
    from app.services import accounts as own_account, invitations, password_resets

    app = make_app(STORAGE_BACKEND="local", **smtp_server.settings, **oidc_provider.settings(LOCAL_LOGIN=False))
    with app.app_context(), app.test_request_context():
        boss, user = accounts.create(is_admin=True), accounts.create()
        _, invitation_url, _ = invitations.create(boss)
        reset_url, _ = password_resets.issue(user, created_by=boss, send_mail=False)
        client = app.test_client()
        for path in (urlsplit(invitation_url).path, urlsplit(reset_url).path, "/forgot"):
            page = client.get(path)
            assert page.status_code == 403, path
            assert "Signing in with a password is turned off here" in page_text(page)
        with pytest.raises(Forbidden):
            invitations.accept(urlsplit(invitation_url).path.rsplit("/", 1)[1], "newcomer", "purple elephant 42 jam")
        with pytest.raises(Forbidden):
            own_account.change_password(user, None, "purple elephant 42 jam")
        with pytest.raises(Forbidden):
            password_resets.create_for_user(boss, user.id)
        db.session.expire_all()
        assert db.session.get(User, user.id).check_password(PASSWORD)
        assert not users_named("newcomer")


def test_local_login_off_keeps_the_first_admin_setup_link(make_app, oidc_provider):
    app = make_app(STORAGE_BACKEND="local", **oidc_provider.settings(LOCAL_LOGIN=False))
    with app.app_context():
        token = users.issue_setup_token()
    client = app.test_client()
    form = csrf_from(client.get(f"/setup/{token}").get_data(as_text=True))
    response = client.post(f"/setup/{token}", data={"csrf_token": form, "username": "firstadmin",
                                                    "password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 302 and client.get("/files").status_code == 200


@pytest.mark.parametrize("settings, message", [
    ({"LOCAL_LOGIN": False}, "LOCAL_LOGIN is off but single sign-on is not configured"),
    ({"OIDC_ISSUER": "https://id.example.org"}, "Set both OIDC_ISSUER and OIDC_CLIENT_ID"),
    ({"OIDC_CLIENT_ID": "locker"}, "Set both OIDC_ISSUER and OIDC_CLIENT_ID"),
    ({"OIDC_ISSUER": "id.example.org", "OIDC_CLIENT_ID": "locker"}, "OIDC_ISSUER must be"),
    ({"OIDC_ISSUER": "https://id.example.org", "OIDC_CLIENT_ID": "locker", "OIDC_SCOPES": "email"},
     "OIDC_SCOPES must include openid"),
])
def test_settings_that_cannot_work_stop_start_up(make_app, settings, message):
    with pytest.raises(RuntimeError, match=message):
        make_app(STORAGE_BACKEND="local", **settings)


def test_a_provider_that_is_down_does_not_stop_locker_and_answers_503(make_app):
    # Nothing listens on the port: Locker still starts, and only the button fails, at once and plainly.
    app = make_app(STORAGE_BACKEND="local", OIDC_ISSUER=f"http://{HOST}:{closed_port()}", OIDC_CLIENT_ID="x",
                   OIDC_PROVIDER_NAME="Down SSO", OIDC_TIMEOUT=2)
    client = app.test_client()
    started = time.monotonic()
    response = client.get("/login/sso")
    assert response.status_code == 503 and time.monotonic() - started < 2
    assert "Down SSO is not answering" in page_text(response)
    assert client.get("/login").status_code == 200


def test_a_provider_that_hangs_answers_503_after_the_timeout(make_app):
    # A socket that accepts connections but never answers: the request gives up after OIDC_TIMEOUT.
    with socket.socket() as silent:
        silent.bind((HOST, 0))
        silent.listen(8)
        app = make_app(STORAGE_BACKEND="local", OIDC_ISSUER=f"http://{HOST}:{silent.getsockname()[1]}",
                       OIDC_CLIENT_ID="x", OIDC_TIMEOUT=0.5)
        client = app.test_client()
        started = time.monotonic()
        response = client.get("/login/sso")
        assert response.status_code == 503 and time.monotonic() - started < 3


def test_a_provider_that_comes_back_is_used_without_a_restart(make_app):
    # A failed metadata load is not kept: once the provider answers, the same app signs people in.
    port = closed_port()
    provider = Provider(port)
    provider.server.server_close()  # the port is reserved in name only: nothing answers yet
    app = make_app(STORAGE_BACKEND="local", **provider.settings())
    client = app.test_client()
    assert client.get("/login/sso").status_code == 503
    provider = Provider(port)
    provider.start()
    try:
        sub = subject()
        with app.app_context():
            assert sign_in(client, provider, sub).status_code == 302
            assert db.session.execute(db.select(UserIdentity).filter_by(subject=sub)).scalar_one()
    finally:
        provider.stop()


def test_two_first_sign_ins_at_once_make_one_account(sso, oidc_provider):
    app = sso()
    sub = subject()
    claims = {"iss": oidc_provider.url, "sub": sub, "preferred_username": f"race{sub[-6:]}",
              "email": f"{sub}@example.org", "email_verified": True}
    lock = threading.Lock()
    made = []

    def attempt(_number, barrier):
        with app.test_request_context():
            try:
                barrier.wait()
                user = oidc.sign_in_user(dict(claims))
                with lock:
                    made.append(user.id)
                return "ok"
            except Exception as error:
                return repr(error)
            finally:
                db.session.remove()

    results = at_once(4, attempt)
    assert results == ["ok"] * 4, results
    assert len(set(made)) == 1
    assert len(users_named(f"race{sub[-6:]}")) == 1


def test_check_sso_reports_the_provider_and_the_redirect_uri(make_app, oidc_provider):
    app = make_app(STORAGE_BACKEND="local", PUBLIC_URL="https://files.example.org", **oidc_provider.settings())
    result = app.test_cli_runner().invoke(args=["locker", "check-sso"])
    assert result.exit_code == 0, result.output
    assert "Redirect URI to register at the provider: https://files.example.org/login/sso/callback" in result.output
    assert "ok    issuer" in result.output and "ok    keys" in result.output and "FAIL" not in result.output
    assert "Test SSO answers as Locker needs." in result.output


def test_check_sso_fails_when_the_provider_is_down_or_not_configured(make_app):
    down = make_app(STORAGE_BACKEND="local", OIDC_ISSUER=f"http://{HOST}:{closed_port()}", OIDC_CLIENT_ID="x")
    result = down.test_cli_runner().invoke(args=["locker", "check-sso"])
    assert result.exit_code == 1 and "FAIL  metadata" in result.output
    unset = make_app(STORAGE_BACKEND="local").test_cli_runner().invoke(args=["locker", "check-sso"])
    assert unset.exit_code == 1 and "not configured" in unset.output


def test_a_public_client_sends_no_secret_and_a_refused_token_request_is_shown(sso, oidc_provider):
    # Without OIDC_CLIENT_SECRET Locker is a public client: client_id and the PKCE verifier, no secret.
    # oidc-provider-mock takes only confidential clients, so its token endpoint refuses; that refusal
    # (any provider error at the token step) is shown on the sign-in page and signs nobody in.
    app = sso(OIDC_CLIENT_SECRET=None)
    client = app.test_client()
    before = user_count()
    response = sign_in(client, oidc_provider, subject())
    exchange = oidc_provider.token_requests[-1]
    assert exchange["client_id"] == "locker-tests" and "client_secret" not in exchange and exchange["code_verifier"]
    assert response.status_code == 401 and "Test SSO did not sign you in (invalid_client)" in page_text(response)
    assert user_count() == before and client.get("/files").status_code == 302


def test_a_long_issuer_is_stored_as_a_stable_key_that_fits():
    short = "https://id.example.org"
    long_issuer = "https://login.example.com/" + "0123456789abcdef" * 4 + "/v2.0"
    assert oidc.provider_key(short) == short
    key = oidc.provider_key(long_issuer)
    assert len(key) <= UserIdentity.provider.type.length and key == oidc.provider_key(long_issuer)
    assert key != oidc.provider_key(long_issuer + "/")
