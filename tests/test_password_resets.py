"""Password reset links: made by an admin (shown, or emailed when mail is configured) or asked for at /forgot;
one use, expiring, the newest only; using one ends every sign-in of the account."""
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from app.extensions import db
from app.models import AuditEvent, LoginSession, PasswordReset, User, utcnow
from app.services import account_email, password_resets
from tests.conftest import PASSWORD, csrf_from
from tests.helpers import admission_race
from tests.mail_support import body_of, free_port, link_in

NEW_PASSWORD = "violet tangerine orbit"


@pytest.fixture
def backend():
    """Nothing here touches storage: one backend is enough."""
    return {"STORAGE_BACKEND": "local"}


def set_new_password(client, path, password=NEW_PASSWORD, confirm=None):
    page = client.get(path)
    if page.status_code != 200:
        return page
    return client.post(path, data={"csrf_token": csrf_from(page.get_data(as_text=True)), "password": password,
                                   "confirm": confirm or password})


def reset_link(client, headers, user):
    response = client.post(f"/api/v1/admin/users/{user.id}/password-reset", headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_an_admins_link_sets_the_password_once_and_ends_every_sign_in(app, client, accounts):
    admin = accounts.create(is_admin=True)
    user = accounts.create()
    first_browser, _ = accounts.signed_in_client(user)
    second_browser, _ = accounts.signed_in_client(user)
    made = reset_link(client, accounts.headers(admin), user)
    assert made["emailed"] is False
    path = urlsplit(made["url"]).path
    assert path.startswith("/reset/")
    assert user.username in client.get(path).get_data(as_text=True)

    mismatch = set_new_password(app.test_client(), path, confirm="something else entirely")
    assert mismatch.status_code == 400 and "do not match" in mismatch.get_data(as_text=True)
    weak = set_new_password(app.test_client(), path, password="password1")
    assert weak.status_code == 400 and "too easy" in weak.get_data(as_text=True)

    done = set_new_password(app.test_client(), path)
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    db.session.expire_all()
    assert db.session.get(User, user.id).check_password(NEW_PASSWORD)
    assert db.session.execute(db.select(db.func.count(LoginSession.id)).filter_by(user_id=user.id)).scalar() == 0
    for browser in (first_browser, second_browser):
        assert browser.get("/files").status_code == 302  # signed out
    assert accounts.login(app.test_client(), user.username, NEW_PASSWORD).status_code == 302
    assert accounts.login(app.test_client(), user.username, PASSWORD).status_code == 401

    again = app.test_client().get(path)
    assert again.status_code == 410 and "already been used" in again.get_data(as_text=True)
    event = db.session.execute(db.select(AuditEvent).filter_by(action="password_reset")).scalar_one()
    assert event.owner_id == user.id and "2 sign-ins ended" in event.detail


def test_the_page_says_every_sign_in_ended(app, client, accounts):
    admin = accounts.create(is_admin=True)
    user = accounts.create()
    accounts.signed_in_client(user)
    browser = app.test_client()
    set_new_password(browser, urlsplit(reset_link(client, accounts.headers(admin), user)["url"]).path)
    assert "Every sign-in of" in browser.get("/login").get_data(as_text=True)


def test_a_newer_link_voids_older_ones_and_links_expire(app, accounts):
    admin = accounts.create(is_admin=True)
    user = accounts.create()
    _, old, _ = password_resets.create_for_user(admin, user.id)
    _, new, _ = password_resets.create_for_user(admin, user.id)
    client = app.test_client()
    assert client.get(urlsplit(old).path).status_code == 404
    db.session.execute(db.update(PasswordReset).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    expired = client.get(urlsplit(new).path)
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)
    with pytest.raises(password_resets.ResetEnded):
        password_resets.use(urlsplit(new).path.rsplit("/", 1)[1], NEW_PASSWORD)
    db.session.expire_all()
    assert db.session.get(User, user.id).check_password(PASSWORD)


def test_one_link_used_twice_at_once_sets_one_password(app, accounts):
    admin = accounts.create(is_admin=True)
    user = accounts.create()
    _, url, _ = password_resets.create_for_user(admin, user.id)
    token = urlsplit(url).path.rsplit("/", 1)[1]
    db.session.commit()
    passwords = [f"violet tangerine orbit {number}" for number in range(4)]
    outcomes = admission_race(app, 4, lambda: None,
                              lambda _, number: password_resets.use(token, passwords[number]),
                              password_resets.ResetEnded)
    assert sorted(outcomes) == ["ok", "refused", "refused", "refused"], outcomes
    db.session.expire_all()
    assert sum(db.session.get(User, user.id).check_password(p) for p in passwords) == 1


def test_an_account_disabled_while_its_reset_page_was_open_gets_no_new_password(app, accounts, monkeypatch):
    admin = accounts.create(is_admin=True)
    user = accounts.create()
    _, url, _ = password_resets.create_for_user(admin, user.id)
    token = urlsplit(url).path.rsplit("/", 1)[1]
    opened = password_resets.open_reset(token)  # the page, opened while the account was still active
    db.session.execute(db.update(User).where(User.id == user.id).values(is_active_account=False))
    db.session.commit()
    monkeypatch.setattr(password_resets, "open_reset", lambda _: opened)
    with pytest.raises(password_resets.ResetEnded):
        password_resets.use(token, "violet tangerine orbit 9")
    db.session.expire_all()
    assert db.session.get(User, user.id).check_password(PASSWORD)
    assert db.session.execute(db.select(PasswordReset.used_at)).scalar_one() is None


def test_only_admins_make_links_and_for_real_users(app, client, accounts):
    user = accounts.create()
    other = accounts.create()
    refused = client.post(f"/api/v1/admin/users/{other.id}/password-reset", headers=accounts.headers(user))
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "not_admin"
    admin = accounts.create(is_admin=True)
    missing = client.post("/api/v1/admin/users/999999/password-reset", headers=accounts.headers(admin))
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "no_such_user"
    assert db.session.execute(db.select(db.func.count(PasswordReset.id))).scalar() == 0


def test_the_admin_page_shows_the_link_once(app, accounts):
    admin = accounts.create(is_admin=True)
    user = accounts.create()
    browser, _ = accounts.signed_in_client(admin)
    page = browser.get(f"/admin/users/{user.id}/reset-password").get_data(as_text=True)
    assert "Reset password" in page
    made = browser.post(f"/admin/users/{user.id}/reset-password", data={"csrf_token": csrf_from(page)})
    assert made.status_code == 302
    shown = browser.get(made.headers["Location"]).get_data(as_text=True)
    url = re.search(r'id="reset-url" type="text" readonly value="([^"]+)"', shown).group(1)
    assert "shown only once" in shown
    assert 'id="reset-url"' not in browser.get(made.headers["Location"]).get_data(as_text=True)
    assert set_new_password(app.test_client(), urlsplit(url).path).status_code == 302
    signed_in_user, _ = accounts.signed_in_client(accounts.create())
    assert signed_in_user.get(f"/admin/users/{user.id}/reset-password").status_code == 403


def test_with_mail_the_link_goes_to_the_users_address_and_the_admin_is_told(make_app, smtp_server, accounts):
    app = make_app(**smtp_server.settings)
    with app.app_context():
        admin = accounts.create(is_admin=True)
        user = accounts.create()
        account_email.set_email(user, "Kim@Example.test")
        client = app.test_client()
        made = reset_link(client, accounts.headers(admin), user)
        assert made == {"url": None, "emailed": True}
        [message] = smtp_server.inbox.wait_for(1)
        assert message["To"] == "kim@example.test" and admin.username in body_of(message)
        assert set_new_password(app.test_client(), link_in(message, "/reset/")).status_code == 302
        # An account without an address gets a link shown to the admin, even with mail.
        bare = accounts.create()
        assert reset_link(client, accounts.headers(admin), bare)["emailed"] is False


def forgot(client, identifier):
    page = client.get("/forgot")
    assert page.status_code == 200
    return client.post("/forgot", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                        "identifier": identifier})


def test_a_forged_host_header_does_not_reach_the_link_in_the_mail(make_app, smtp_server, accounts):
    app = make_app(**{**smtp_server.settings, "PUBLIC_URL": "https://files.example.test"})
    with app.app_context():
        user = accounts.create()
        account_email.set_email(user, "lou@example.test")
        client = app.test_client()
        page = client.get("/forgot", headers={"Host": "evil.example"})
        answer = client.post("/forgot", headers={"Host": "evil.example"}, data={
            "csrf_token": csrf_from(page.get_data(as_text=True)), "identifier": user.username})
        assert answer.status_code == 302
        [message] = smtp_server.inbox.wait_for(1)
        assert "https://files.example.test/reset/" in body_of(message) and "evil.example" not in body_of(message)


def test_mail_without_public_url_is_refused_at_start(make_app, smtp_server):
    with pytest.raises(RuntimeError, match="Set PUBLIC_URL when MAIL_SERVER is set"):
        make_app(**{**smtp_server.settings, "PUBLIC_URL": None})


def test_forgot_sends_only_to_the_stored_address_and_always_answers_the_same(make_app, smtp_server, accounts):
    app = make_app(**smtp_server.settings)
    with app.app_context():
        user = accounts.create()
        account_email.set_email(user, "lee@example.test")
        no_address = accounts.create()
        client = app.test_client()
        assert "Forgot your password?" in client.get("/login").get_data(as_text=True)
        answers = []
        for identifier in (user.username, "nobody-here", no_address.username, "stranger@example.test",
                           "LEE@example.test"):
            response = forgot(client, identifier)
            assert response.status_code == 302
            answers.append(client.get(response.headers["Location"]).get_data(as_text=True).count(
                password_resets.FORGOT_ANSWER))
        assert answers == [1] * 5
        messages = smtp_server.inbox.wait_for(2)
        assert [message["To"] for message in messages] == ["lee@example.test"] * 2
        # The second request voided the first link; the newest works.
        assert app.test_client().get(link_in(messages[0], "/reset/")).status_code == 404
        assert set_new_password(app.test_client(), link_in(messages[1], "/reset/")).status_code == 302
        assert len(smtp_server.inbox.messages) == 2


def test_forgot_is_rate_limited_per_address_and_per_account(make_app, smtp_server, accounts):
    app = make_app(**smtp_server.settings, RESET_LIMIT_PER_ADDRESS="3 per hour", RESET_LIMIT_PER_ACCOUNT="1 per hour")
    with app.app_context():
        user = accounts.create()
        account_email.set_email(user, "mo@example.test")
        client = app.test_client()
        answers = [forgot(client, user.username) for _ in range(4)]
        assert [urlsplit(answer.headers["Location"]).path for answer in answers] == ["/login"] * 3 + ["/forgot"]
        assert "Too many attempts" in client.get("/forgot").get_data(as_text=True)
        smtp_server.inbox.wait_for(1)
        assert mail_settled(app)
        assert len(smtp_server.inbox.messages) == 1  # the account's budget held the other two back


def mail_settled(app):
    from app.services import mail

    return mail.wait_until_sent(10)


def test_without_mail_there_is_no_forgot_page(app, client):
    assert client.get("/forgot").status_code == 404
    assert "Forgot your password?" not in client.get("/login").get_data(as_text=True)


def test_a_mail_server_that_is_down_fails_no_reset_request(make_app, accounts):
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_SECURITY="none", PUBLIC_URL="http://localhost", MAIL_TIMEOUT=2)
    with app.app_context():
        user = accounts.create()
        account_email.set_email(user, "nia@example.test")
        client = app.test_client()
        assert forgot(client, user.username).status_code == 302
        admin = accounts.create(is_admin=True)
        assert reset_link(client, accounts.headers(admin), user)["emailed"] is True
        assert mail_settled(app)


def test_the_command_prints_a_link(make_app, accounts):
    app = make_app()
    with app.app_context():
        user = accounts.create()
        result = app.test_cli_runner().invoke(args=["locker", "reset-password", user.username])
        assert result.exit_code == 0, result.output
        url = result.stdout.strip()
        assert url.startswith("http://127.0.0.1:5000/reset/")
        event = db.session.execute(db.select(AuditEvent).filter_by(action="password_reset_created")).scalar_one()
        assert event.owner_id == user.id and event.detail.startswith("printed by flask locker reset-password")
        assert set_new_password(app.test_client(), urlsplit(url).path).status_code == 302
        missing = app.test_cli_runner().invoke(args=["locker", "reset-password", "nobody"])
        assert missing.exit_code != 0 and "No account" in missing.output
