"""Invitations: admins make single-use, expiring sign-up links; two sign-ups with one link make one account."""
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from app.extensions import db
from app.models import AuditEvent, Invitation, User, utcnow
from app.errors import Forbidden
from app.services import invitations, users
from tests.conftest import csrf_from
from tests.helpers import admission_race
from tests.mail_support import body_of, link_in

NEW_PASSWORD = "violet tangerine orbit"



@pytest.fixture
def backend():
    """Nothing here touches storage: one backend is enough."""
    return {"STORAGE_BACKEND": "local"}

@pytest.fixture
def admin_api(app, accounts):
    admin = accounts.create(is_admin=True)
    return admin, accounts.headers(admin)


def invite(client, headers, **body):
    response = client.post("/api/v1/admin/invitations", headers=headers, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def sign_up(client, path, username, password=NEW_PASSWORD):
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_from(page.get_data(as_text=True)), "username": username,
                                   "password": password, "confirm": password})


def user_named(name):
    return db.session.execute(db.select(User).filter_by(username=name)).scalar_one_or_none()


def test_an_invitation_makes_one_account_with_its_quota_and_role_and_then_ends(app, client, admin_api):
    admin, headers = admin_api
    made = invite(client, headers, expires_in="2d", quota_bytes=5 * 1024 ** 3, is_admin=True, note="for Dana")
    assert made["state"] == "active" and made["emailed"] is False and made["created_by"] == admin.username
    path = urlsplit(made["url"]).path
    assert path.startswith("/invite/")
    page = client.get(path).get_data(as_text=True)
    assert "administrator role" in page and "5.0 GiB" in page

    browser = app.test_client()
    response = sign_up(browser, path, "dana")
    assert response.status_code == 302 and response.headers["Location"].endswith("/files")
    assert browser.get("/files").status_code == 200  # signed in as the new account
    dana = user_named("dana")
    assert dana.is_admin and dana.quota_bytes == 5 * 1024 ** 3 and dana.check_password(NEW_PASSWORD)

    again = sign_up(app.test_client(), path, "eve") if client.get(path).status_code == 200 else client.get(path)
    assert again.status_code == 410 and "already been used" in again.get_data(as_text=True)
    assert user_named("eve") is None
    [listed] = client.get("/api/v1/admin/invitations", headers=headers).get_json()["items"]
    assert listed["state"] == "used" and listed["used_by"] == "dana" and listed["url"] is None
    actions = db.session.execute(db.select(AuditEvent.action).filter_by(owner_id=admin.id)).scalars().all()
    assert {"invitation_created", "invitation_used"} <= set(actions)


@pytest.mark.parametrize("mode", ["open", "invite", "closed"])
def test_invitation_links_work_in_every_registration_mode(make_app, accounts, mode):
    app = make_app(REGISTRATION=mode)
    with app.app_context():
        admin = accounts.create(is_admin=True)
        _, url, _ = invitations.create(admin)
        client = app.test_client()
        register = client.get("/register")
        if mode == "open":
            assert register.status_code == 200
        else:
            assert register.status_code == 403
            text = register.get_data(as_text=True)
            assert ("by invitation" in text) == (mode == "invite")
        assert sign_up(client, urlsplit(url).path, f"new{mode}").status_code == 302
        assert user_named(f"new{mode}") is not None


def test_with_invite_mode_self_service_sign_up_is_refused_in_its_own_words(make_app):
    app = make_app(REGISTRATION="invite")
    with app.app_context():
        client = app.test_client()
        assert "Create an account" not in client.get("/login").get_data(as_text=True)
        with pytest.raises(Forbidden, match="by invitation only"):
            users.register("walker", NEW_PASSWORD)
        assert user_named("walker") is None


def test_two_sign_ups_with_one_link_at_once_make_exactly_one_account(app, admin_api):
    admin, _ = admin_api
    _, url, _ = invitations.create(admin)
    token = urlsplit(url).path.rsplit("/", 1)[1]
    db.session.commit()

    outcomes = admission_race(app, 6, lambda: None,
                              lambda _, number: invitations.accept(token, f"racer{number}", NEW_PASSWORD),
                              invitations.InvitationEnded)
    assert sorted(outcomes) == ["ok"] + ["refused"] * 5, outcomes
    db.session.expire_all()
    racers = db.session.execute(db.select(User.username).filter(User.username.like("racer%"))).scalars().all()
    assert len(racers) == 1
    invitation = db.session.execute(db.select(Invitation)).scalar_one()
    assert invitation.used_by.username == racers[0]


def test_revoked_and_expired_invitations_say_so_and_make_nothing(app, client, admin_api):
    admin, headers = admin_api
    revoked = invite(client, headers)
    assert client.delete(f"/api/v1/admin/invitations/{revoked['id']}", headers=headers).status_code == 204
    assert client.delete(f"/api/v1/admin/invitations/{revoked['id']}", headers=headers).status_code == 204
    page = client.get(urlsplit(revoked["url"]).path)
    assert page.status_code == 410 and "withdrawn" in page.get_data(as_text=True)

    expired = invite(client, headers, expires_in="1h")
    db.session.execute(db.update(Invitation).filter_by(public_id=expired["id"]).values(
        expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert client.get(urlsplit(expired["url"]).path).status_code == 410
    with pytest.raises(invitations.InvitationEnded):
        invitations.accept(urlsplit(expired["url"]).path.rsplit("/", 1)[1], "late", NEW_PASSWORD)
    assert client.get("/invite/not-a-real-token").status_code == 404
    states = {item["id"]: item["state"] for item in
              client.get("/api/v1/admin/invitations", headers=headers).get_json()["items"]}
    assert states == {revoked["id"]: "revoked", expired["id"]: "expired"}
    assert user_named("late") is None


def test_a_weak_password_or_taken_name_leaves_the_invitation_usable(app, client, admin_api, accounts):
    admin, headers = admin_api
    path = urlsplit(invite(client, headers)["url"]).path
    browser = app.test_client()
    weak = sign_up(browser, path, "frank", "password1")
    assert weak.status_code == 400 and "too easy" in weak.get_data(as_text=True)
    taken = sign_up(browser, path, admin.username)
    assert taken.status_code == 409 and "taken" in taken.get_data(as_text=True)
    assert sign_up(browser, path, "frank").status_code == 302


def test_only_admins_reach_invitations(app, client, accounts):
    user = accounts.create()
    headers = accounts.headers(user)
    for method, path in (("get", "/api/v1/admin/invitations"), ("post", "/api/v1/admin/invitations"),
                         ("delete", "/api/v1/admin/invitations/" + "0" * 32)):
        response = getattr(client, method)(path, headers=headers, json={} if method == "post" else None)
        assert response.status_code == 403 and response.get_json()["error"]["code"] == "not_admin", path
    browser, _ = accounts.signed_in_client(user)
    assert browser.get("/admin/invitations").status_code == 403
    assert db.session.execute(db.select(db.func.count(Invitation.id))).scalar() == 0


@pytest.mark.parametrize("body, code", [
    ({"expires_in": "0d"}, "invalid_expiry"), ({"expires_in": "forever"}, "invalid_expires_in"),
    ({"email": "not-an-address"}, "invalid_email"), ({"quota_bytes": -1}, "invalid_quota_bytes"),
    ({"note": "x" * 201}, "invalid_note")])
def test_bad_input_is_refused_and_makes_no_invitation(client, admin_api, body, code):
    _, headers = admin_api
    response = client.post("/api/v1/admin/invitations", headers=headers, json=body)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == code
    assert db.session.execute(db.select(db.func.count(Invitation.id))).scalar() == 0


def test_the_admin_page_makes_lists_copies_and_revokes(app, accounts):
    admin = accounts.create(is_admin=True)
    browser, _ = accounts.signed_in_client(admin)
    page = browser.get("/admin/invitations").get_data(as_text=True)
    assert "No invitations yet" in page and 'aria-current="page">Invitations<' in page
    made = browser.post("/admin/invitations", data={"csrf_token": csrf_from(page), "expires_in": "7d",
                                                    "quota": "2 GiB", "email": "Gina@Example.org", "note": "Gina"})
    assert made.status_code == 302
    listed = browser.get("/admin/invitations").get_data(as_text=True)
    assert "Copy its link below" in listed and "not emailed" in listed and "gina@example.org" in listed
    url = re.search(r'id="invitation-url-[0-9a-f]{32}" type="text" readonly value="([^"]+)"', listed).group(1)
    invitation = db.session.execute(db.select(Invitation)).scalar_one()
    assert invitation.quota_bytes == 2 * 1024 ** 3 and invitation.email == "gina@example.org"
    bad = browser.post("/admin/invitations", data={"csrf_token": csrf_from(listed), "expires_in": "7d",
                                                   "quota": "lots"})
    assert bad.status_code == 400 and "Write a size" in bad.get_data(as_text=True)
    revoked = browser.post(f"/admin/invitations/{invitation.public_id}/revoke", data={"csrf_token": csrf_from(listed)})
    assert revoked.status_code == 302
    assert "Withdrawn" in browser.get("/admin/invitations").get_data(as_text=True)
    assert app.test_client().get(urlsplit(url).path).status_code == 410


def test_an_invitation_with_an_address_is_emailed_and_its_link_works(make_app, smtp_server, accounts):
    app = make_app(**smtp_server.settings)
    with app.app_context():
        admin = accounts.create(is_admin=True)
        client = app.test_client()
        made = invite(client, accounts.headers(admin), email="hal@example.test", note="Welcome aboard")
        assert made["emailed"] is True
        [message] = smtp_server.inbox.wait_for(1)
        assert message["To"] == "hal@example.test" and "Welcome aboard" in body_of(message)
        path = link_in(message, "/invite/")
        assert path == urlsplit(made["url"]).path
        assert sign_up(app.test_client(), path, "hal").status_code == 302


def test_the_command_prints_a_working_link(make_app, accounts):
    app = make_app(PUBLIC_URL="https://files.example.org")
    with app.app_context():
        # The first admin made is disabled: the invitation is made by the active one.
        first = accounts.create(is_admin=True)
        first.is_active_account = False
        active = accounts.create(is_admin=True)
        db.session.commit()
        result = app.test_cli_runner().invoke(args=["locker", "invite", "--expires", "3d",
                                                                    "--quota", "1GiB"])
        assert result.exit_code == 0, result.output
        url = result.stdout.strip()
        assert url.startswith("https://files.example.org/invite/")
        invitation = db.session.execute(db.select(Invitation)).scalar_one()
        assert invitation.quota_bytes == 1024 ** 3 and invitation.created_by_id == active.id
        assert sign_up(app.test_client(), urlsplit(url).path, "ivy").status_code == 302
        refused = app.test_cli_runner().invoke(args=["locker", "invite", "--expires", "never"])
        assert refused.exit_code != 0 and "expires_in" in refused.output


def test_the_document_states_the_email_rule_the_service_checks(client):
    document = client.get("/api/v1/openapi.json").get_json()
    request = document["components"]["schemas"]["InvitationRequest"]["properties"]
    from app.services.account_email import EMAIL_PATTERN

    assert request["email"]["pattern"] == EMAIL_PATTERN.pattern
    paths = document["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/admin/invitations"])
    assert "403" in paths["/api/v1/admin/users/{user_id}/password-reset"]["post"]["responses"]
