"""Two-factor sign-in: enrolment, codes (TOTP and recovery), the sign-in's second step, password-made API
tokens, rate limits and races, and the admin's requirement."""
import json
import re
import threading
import time

import pyotp
import pytest

from app.errors import Conflict, InvalidInput, Unauthorized
from app.extensions import db
from app.models import AuditEvent, RecoveryCode, SiteSetting, User
from app.services import two_factor
from tests.conftest import PASSWORD, csrf_from
from tests.helpers import admission_race, at_once


@pytest.fixture
def app(make_app, app_settings):
    """Storage plays no part here: one backend is enough."""
    app = make_app(STORAGE_BACKEND="local", **app_settings)
    with app.app_context():
        yield app


def steady():
    """Wait out the last second of a 30-second step, so a code computed now is checked in the same step."""
    remaining = 30 - time.time() % 30
    if remaining < 1.5:
        time.sleep(remaining + 0.1)


def code_for(secret, steps=0):
    """The TOTP code of the step `steps` away from now."""
    steady()
    return pyotp.TOTP(secret).at(time.time() + steps * 30)


def enrol(user):
    """Turn two-factor on with the previous step's code, leaving this step's and the next one's unused.
    Returns (secret, recovery codes)."""
    secret = two_factor.begin_enrolment(user)
    codes = two_factor.confirm_enrolment(user, code_for(secret, -1))
    return secret, codes


def reload(user):
    db.session.expire_all()
    return db.session.get(User, user.id)


def form_post(client, page, path=None, **data):
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(path or page, data={"csrf_token": token, **data})


def password_step(accounts, client, username, remember=False, next_path=None):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    data = {"csrf_token": token, "username": username, "password": PASSWORD, **({"remember": "y"} if remember else {})}
    return client.post("/login" + (f"?next={next_path}" if next_path else ""), data=data)


def code_step(client, code):
    return form_post(client, "/login/two-factor", code=code)


def events(action, user):
    return db.session.execute(db.select(AuditEvent).filter_by(action=action, owner_id=user.id)).scalars().all()


# -- the service ---------------------------------------------------------------------------------------------------


def test_the_secret_is_kept_encrypted_bound_to_its_user_and_the_same_until_confirmed(app, accounts):
    user, other = accounts.create(), accounts.create()
    secret = two_factor.begin_enrolment(user)
    assert two_factor.begin_enrolment(reload(user)) == secret  # a reload does not void a scanned QR code
    stored = reload(user).totp_secret_encrypted
    assert secret not in stored and not reload(user).two_factor_enabled
    other.totp_secret_encrypted = stored
    db.session.commit()
    assert two_factor.secret_of(reload(other)) is None
    assert two_factor.secret_of(reload(user)) == secret
    uri = two_factor.provisioning_uri(user, secret)
    assert uri.startswith("otpauth://totp/Locker:") and f"secret={secret}" in uri and "issuer=Locker" in uri


def test_a_wrong_first_code_changes_nothing_and_a_right_one_makes_ten_hashed_recovery_codes(app, accounts):
    user = accounts.create()
    secret = two_factor.begin_enrolment(user)
    wrong = "000000" if code_for(secret) != "000000" else "111111"
    with pytest.raises(Unauthorized) as refused:
        two_factor.confirm_enrolment(user, wrong)
    assert refused.value.code == "invalid_code" and not reload(user).two_factor_enabled
    assert db.session.execute(db.select(RecoveryCode)).first() is None
    codes = two_factor.confirm_enrolment(user, code_for(secret))
    assert reload(user).two_factor_enabled and len(codes) == len(set(codes)) == 10
    hashes = db.session.execute(db.select(RecoveryCode.code_hash).filter_by(user_id=user.id)).scalars().all()
    assert len(hashes) == 10 and not set(codes) & set(hashes)
    assert all(re.fullmatch(r"[2-9a-z]{5}-[2-9a-z]{5}", code) for code in codes)
    with pytest.raises(Conflict):
        two_factor.begin_enrolment(reload(user))
    assert len(events("two_factor_on", user)) == 1


def test_confirming_without_a_set_up_under_way_is_refused(app, accounts):
    with pytest.raises(InvalidInput) as refused:
        two_factor.confirm_enrolment(accounts.create(), "123456")
    assert refused.value.code == "no_enrolment"


def test_a_totp_code_is_accepted_once_and_only_near_now(app, accounts):
    user = accounts.create()
    secret, _ = enrol(user)
    assert not two_factor.verify(reload(user), code_for(secret, -1))  # the step enrolment used
    assert not two_factor.verify(reload(user), code_for(secret, -3))
    assert not two_factor.verify(reload(user), code_for(secret, 3))
    current = code_for(secret)
    assert two_factor.verify(reload(user), f" {current[:3]} {current[3:]} ")  # spaces as apps show them
    assert not two_factor.verify(reload(user), current)  # replayed
    assert two_factor.verify(reload(user), code_for(secret, 1))  # the next step, typed early
    assert not two_factor.verify(reload(user), code_for(secret))  # an earlier step after a later one
    assert not two_factor.verify(reload(user), "")
    assert not two_factor.verify(reload(user), None)
    assert not two_factor.verify(reload(user), "1" * 1000)


def test_a_recovery_code_works_once_and_only_for_its_account(app, accounts):
    user, other = accounts.create(), accounts.create()
    _, codes = enrol(user)
    _, other_codes = enrol(other)
    assert not two_factor.verify(reload(user), other_codes[0])
    assert two_factor.verify(reload(user), codes[0].upper().replace("-", ""))  # as someone might type it
    assert not two_factor.verify(reload(user), codes[0])
    assert two_factor.remaining_recovery_codes(reload(user)) == 9
    assert not two_factor.verify(accounts.create(), codes[1])  # no two-factor: never a pass


def test_one_recovery_code_sent_twice_at_once_passes_once(app, accounts):
    user = accounts.create()
    _, codes = enrol(user)
    outcomes = admission_race(app, 2, lambda: db.session.get(User, user.id),
                              lambda found, _: two_factor.require_code(found, codes[0]), Unauthorized)
    assert sorted(outcomes) == ["ok", "refused"]
    assert two_factor.remaining_recovery_codes(reload(user)) == 9


def test_one_totp_code_sent_twice_at_once_passes_once(app, accounts):
    user = accounts.create()
    secret, _ = enrol(user)
    current = code_for(secret)
    outcomes = admission_race(app, 2, lambda: db.session.get(User, user.id),
                              lambda found, _: two_factor.require_code(found, current), Unauthorized)
    assert sorted(outcomes) == ["ok", "refused"]


def test_new_recovery_codes_need_a_code_and_replace_the_old_ones(app, accounts):
    user = accounts.create()
    secret, old = enrol(user)
    with pytest.raises(Unauthorized):
        two_factor.regenerate_recovery_codes(reload(user), "not a code")
    assert two_factor.remaining_recovery_codes(reload(user)) == 10
    new = two_factor.regenerate_recovery_codes(reload(user), code_for(secret))
    assert not set(new) & set(old)
    assert not two_factor.verify(reload(user), old[1])
    assert two_factor.verify(reload(user), new[1])


def test_turning_off_needs_a_code_and_deletes_the_secret_and_codes(app, accounts):
    user = accounts.create()
    _, codes = enrol(user)
    with pytest.raises(Unauthorized):
        two_factor.turn_off(reload(user), "123 456" if codes[0] != "123456" else "654321")
    assert reload(user).two_factor_enabled
    two_factor.turn_off(reload(user), codes[0])
    user = reload(user)
    assert not user.two_factor_enabled and user.totp_secret_encrypted is None and user.totp_last_step is None
    assert db.session.execute(db.select(RecoveryCode).filter_by(user_id=user.id)).first() is None
    assert len(events("two_factor_off", user)) == 1
    with pytest.raises(Conflict):
        two_factor.turn_off(user, codes[1])


def test_the_requirement_is_one_row_and_turning_off_is_refused_while_it_holds(app, accounts):
    assert not two_factor.is_required()
    two_factor.set_required(True)
    two_factor.set_required(True)
    assert two_factor.is_required()
    assert db.session.execute(db.select(db.func.count()).select_from(SiteSetting)).scalar_one() == 1
    user = accounts.create()
    _, codes = enrol(user)
    with pytest.raises(Conflict) as refused:
        two_factor.turn_off(reload(user), codes[0])
    assert refused.value.code == "two_factor_required"
    assert two_factor.remaining_recovery_codes(reload(user)) == 10  # the code was not used up
    with pytest.raises(InvalidInput):
        two_factor.set_required("yes")
    two_factor.set_required(False)
    assert not two_factor.is_required()


# -- pages ---------------------------------------------------------------------------------------------------------


def test_setting_up_on_the_account_pages_shows_a_qr_code_then_the_recovery_codes_once(app, accounts):
    client, user = accounts.signed_in_client()
    account = client.get("/account").get_data(as_text=True)
    assert "Two-factor sign-in" in account and 'href="/account/two-factor"' in account
    page = client.get("/account/two-factor")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and '<svg role="img" aria-label="QR code to scan' in html
    secret = re.search(r'id="two-factor-secret"[^>]*value="([A-Z2-7]+)"', html).group(1)
    assert two_factor.secret_of(reload(user)) == secret
    wrong = form_post(client, "/account/two-factor", code="12345")
    assert wrong.headers["Location"] == "/account/two-factor" and not reload(user).two_factor_enabled
    done = form_post(client, "/account/two-factor", code=code_for(secret))
    assert done.status_code == 302 and done.headers["Location"] == "/account/two-factor/recovery-codes"
    assert reload(user).two_factor_enabled
    shown = client.get("/account/two-factor/recovery-codes").get_data(as_text=True)
    codes = re.findall(r"<li><code>([^<]+)</code></li>", shown)
    assert len(codes) == 10 and all(two_factor.recovery_hash(user.id, code) in
                                    db.session.execute(db.select(RecoveryCode.code_hash)).scalars().all()
                                    for code in codes)
    # Once only, and never in a URL.
    assert client.get("/account/two-factor/recovery-codes").headers["Location"] == "/account"
    assert client.get("/account/two-factor").headers["Location"] == "/account"
    assert "10 unused recovery codes" in client.get("/account").get_data(as_text=True)


def test_the_account_page_makes_new_recovery_codes_and_turns_off_with_a_code(app, accounts):
    client, user = accounts.signed_in_client()
    secret, codes = enrol(user)
    refused = form_post(client, "/account", "/account/two-factor/recovery-codes", **{"renew-code": "nope"})
    assert refused.headers["Location"] == "/account"
    assert "That code is not right" in client.get("/account").get_data(as_text=True)
    renewed = form_post(client, "/account", "/account/two-factor/recovery-codes",
                        **{"renew-code": code_for(secret)})
    assert renewed.headers["Location"] == "/account/two-factor/recovery-codes"
    new = re.findall(r"<li><code>([^<]+)</code></li>",
                     client.get("/account/two-factor/recovery-codes").get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(codes)
    form_post(client, "/account", "/account/two-factor/off", **{"off-code": codes[0]})
    assert reload(user).two_factor_enabled  # an old code no longer counts
    form_post(client, "/account", "/account/two-factor/off", **{"off-code": new[0]})
    assert not reload(user).two_factor_enabled


def test_sign_in_asks_for_a_code_before_making_a_session(app, accounts):
    user = accounts.create()
    secret, _ = enrol(user)
    client = app.test_client()
    first = password_step(accounts, client, user.username, next_path="/account")
    assert first.status_code == 302 and first.headers["Location"] == "/login/two-factor"
    assert client.get("/files").status_code == 302  # no session yet
    assert events("sign_in", user) == []
    page = client.get("/login/two-factor").get_data(as_text=True)
    assert 'autocomplete="one-time-code"' in page and "recovery code" in page
    wrong = code_step(client, "000000" if code_for(secret) != "000000" else "111111")
    assert wrong.status_code == 401 and "That code is not right" in wrong.get_data(as_text=True)
    assert client.get("/files").status_code == 302
    assert [event.detail for event in events("sign_in_failed", user)] == ["wrong two-factor code"]
    right = code_step(client, code_for(secret))
    assert right.status_code == 302 and right.headers["Location"] == "/account"
    assert client.get("/files").status_code == 200 and len(events("sign_in", user)) == 1
    # The pending sign-in is gone: the step cannot be used again.
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/files").get_data(as_text=True))})
    assert client.get("/login/two-factor").headers["Location"] == "/login"


def test_a_recovery_code_signs_in_once(app, accounts):
    user = accounts.create()
    _, codes = enrol(user)
    client = app.test_client()
    password_step(accounts, client, user.username)
    assert code_step(client, codes[3]).headers["Location"] == "/files"
    again = app.test_client()
    password_step(accounts, again, user.username)
    assert code_step(again, codes[3]).status_code == 401


def test_remember_me_is_carried_through_the_second_step(app, accounts):
    user = accounts.create()
    secret, _ = enrol(user)
    client = app.test_client()
    password_step(accounts, client, user.username, remember=True)
    assert client.get_cookie("remember_token") is None
    code_step(client, code_for(secret))
    assert client.get_cookie("remember_token") is not None


def test_no_session_without_a_password_step_and_none_after_it_expires_or_the_password_changes(app, accounts):
    user = accounts.create()
    secret, codes = enrol(user)
    client = app.test_client()
    assert client.get("/login/two-factor").headers["Location"] == "/login"
    password_step(accounts, client, user.username)
    with client.session_transaction() as session:
        session["two_factor_pending"] = {**session["two_factor_pending"], "expires": int(time.time()) - 1}
    assert code_step_without_page(client, codes[0]).headers["Location"] == "/login"
    assert client.get("/files").status_code == 302

    password_step(accounts, client, user.username)
    changed = reload(user)
    changed.set_password("another long passphrase")
    db.session.commit()
    assert code_step_without_page(client, codes[0]).headers["Location"] == "/login"
    assert client.get("/files").status_code == 302
    assert two_factor.remaining_recovery_codes(reload(user)) == 10


def code_step_without_page(client, code):
    """Post the code with the login page's CSRF token (the code page itself refuses to show)."""
    return client.post("/login/two-factor", data={"csrf_token": csrf_from(client.get("/login").get_data(as_text=True)),
                                                  "code": code})


def test_a_burst_of_code_guesses_is_held_to_the_sign_in_budget(make_app, accounts, monkeypatch):
    app = make_app(STORAGE_BACKEND="local", LOGIN_LIMIT_PER_ACCOUNT="3 per minute",
                   LOGIN_LIMIT_PER_ADDRESS="100 per minute")
    with app.app_context():
        user = accounts.create()
        secret, _ = enrol(user)
        burst = 8
        clients = []
        for _ in range(burst):
            client = app.test_client()
            assert password_step(accounts, client, user.username).headers["Location"] == "/login/two-factor"
            clients.append((client, csrf_from(client.get("/login/two-factor").get_data(as_text=True))))
        checked, lock = [], threading.Lock()
        real_verify = two_factor.verify

        def counted_verify(*args):
            with lock:
                checked.append(args[1])
            return real_verify(*args)

        monkeypatch.setattr(two_factor, "verify", counted_verify)
        wrong = "000000" if code_for(secret) != "000000" else "111111"

        def guess(number, start):
            client, token = clients[number]
            start.wait()
            return client.post("/login/two-factor", data={"csrf_token": token, "code": wrong}).status_code

        statuses = sorted(at_once(burst, guess))
        assert len(checked) == 3 and statuses == [302] * 5 + [401] * 3  # 302: back to the form, "Too many attempts"
        # Now even the right code waits, and so does the password for a token: one budget.
        client, token = clients[0]
        refused = client.post("/login/two-factor", data={"csrf_token": token, "code": code_for(secret)})
        assert refused.status_code == 302 and client.get("/files").status_code == 302
        assert "Too many attempts" in client.get("/login/two-factor").get_data(as_text=True)
        api = app.test_client().post("/api/v1/auth/token", json={"username": user.username, "password": PASSWORD,
                                                                  "code": code_for(secret)})
        assert api.status_code == 429 and len(checked) == 3


def test_api_code_guesses_share_the_sign_in_budget(make_app, accounts):
    app = make_app(STORAGE_BACKEND="local", LOGIN_LIMIT_PER_ACCOUNT="3 per minute",
                   LOGIN_LIMIT_PER_ADDRESS="100 per minute")
    with app.app_context():
        user = accounts.create()
        secret, _ = enrol(user)
        body = {"username": user.username, "password": PASSWORD}
        client = app.test_client()
        # Asking for the code is not a wrong guess: a client that learns it needs one has not used up anything.
        for _ in range(4):
            assert client.post("/api/v1/auth/token", json=body).get_json()["error"]["code"] == "two_factor_required"
        for _ in range(3):
            assert client.post("/api/v1/auth/token", json={**body, "code": "abcdef"}).status_code == 401
        assert client.post("/api/v1/auth/token", json={**body, "code": code_for(secret)}).status_code == 429
        web = app.test_client()
        assert password_step(accounts, web, user.username).status_code == 302
        assert web.get("/files").status_code == 302


# -- the API -------------------------------------------------------------------------------------------------------


def test_a_password_makes_a_token_only_with_a_code_and_a_session_or_token_needs_none(app, accounts):
    user = accounts.create()
    headers = accounts.headers(user)  # made before two-factor: keeps working
    secret, codes = enrol(user)
    client = app.test_client()
    body = {"username": user.username, "password": PASSWORD, "name": "laptop"}
    missing = client.post("/api/v1/auth/token", json=body)
    assert missing.status_code == 401 and missing.get_json()["error"]["code"] == "two_factor_required"
    wrong = client.post("/api/v1/auth/token", json={**body, "code": "999999" if code_for(secret) != "999999"
                                                     else "888888"})
    assert wrong.status_code == 401 and wrong.get_json()["error"]["code"] == "invalid_code"
    bad_password = client.post("/api/v1/auth/token", json={**body, "password": "wrong", "code": code_for(secret)})
    assert bad_password.get_json()["error"]["code"] == "invalid_credentials"
    made = client.post("/api/v1/auth/token", json={**body, "code": code_for(secret)})
    assert made.status_code == 201
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {made.get_json()['token']}"}).status_code == 200
    by_recovery = client.post("/api/v1/auth/token", json={**body, "code": codes[0]})
    assert by_recovery.status_code == 201
    assert client.post("/api/v1/auth/token", json={**body, "code": codes[0]}).status_code == 401
    assert client.post("/api/v1/tokens", headers=headers, json={"name": "script"}).status_code == 201
    signed_in = app.test_client()
    password_step(accounts, signed_in, user.username)
    code_step(signed_in, code_for(secret, 1))
    token = csrf_from(signed_in.get("/account").get_data(as_text=True))
    assert form_post(signed_in, "/account", name="from the page").status_code == 302
    assert signed_in.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRFToken": token}).status_code == 201
    assert len(events("sign_in", user)) == 3 and len(events("sign_in_failed", user)) == 3  # wrong code, password, reuse


def test_code_must_be_a_short_string(app, accounts):
    user = accounts.create()
    enrol(user)
    client = app.test_client()
    body = {"username": user.username, "password": PASSWORD}
    for code in (123456, "1" * 65, None):
        response = client.post("/api/v1/auth/token", json={**body, "code": code})
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_code"


def test_admins_require_two_factor_through_the_api_and_reset_a_lost_phone(app, accounts):
    admin, user = accounts.create(is_admin=True), accounts.create()
    admin_headers, user_headers = accounts.headers(admin), accounts.headers(user)
    client = app.test_client()
    refused = client.put("/api/v1/admin/security", headers=user_headers, json={"require_two_factor": True})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "not_admin"
    assert client.get("/api/v1/admin/security", headers=admin_headers).get_json() == {"require_two_factor": False}
    assert client.put("/api/v1/admin/security", headers=admin_headers,
                      json={"require_two_factor": "maybe"}).status_code == 400
    turned = client.put("/api/v1/admin/security", headers=admin_headers, json={"require_two_factor": True})
    assert turned.status_code == 200 and turned.get_json() == {"require_two_factor": True}
    [event] = events("two_factor_requirement", admin)
    assert event.actor_id == admin.id and event.detail == "required"
    # A password makes no token for an account without two-factor; tokens made before still work.
    setup_first = client.post("/api/v1/auth/token", json={"username": user.username, "password": PASSWORD})
    assert setup_first.status_code == 403 and setup_first.get_json()["error"]["code"] == "two_factor_setup_required"
    assert client.get("/api/v1/me", headers=user_headers).status_code == 200

    enrol(user)
    assert client.post("/api/v1/admin/users/999999/two-factor/reset", headers=admin_headers).status_code == 404
    assert client.post(f"/api/v1/admin/users/{user.id}/two-factor/reset", headers=user_headers).status_code == 403
    reset = client.post(f"/api/v1/admin/users/{user.id}/two-factor/reset", headers=admin_headers)
    assert reset.status_code == 200 and reset.get_json() == {"user_id": user.id, "username": user.username,
                                                              "was_enabled": True}
    assert not reload(user).two_factor_enabled
    assert db.session.execute(db.select(RecoveryCode).filter_by(user_id=user.id)).first() is None
    [event] = events("two_factor_reset", user)
    assert event.actor_id == admin.id and event.file_name == user.username


def test_while_required_a_signed_in_user_without_it_can_only_set_it_up(app, accounts):
    client, user = accounts.signed_in_client()
    two_factor.set_required(True)
    for path in ("/files", "/account", "/activity", "/admin/security"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"] == "/account/two-factor", path
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert "An administrator requires it" in page and "set it up to go on" in page
    assert client.get("/static/locker.css").status_code == 200
    api = client.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRFToken": csrf_from(page)})
    assert api.status_code == 403 and api.get_json()["error"]["code"] == "two_factor_setup_required"
    assert client.get("/api/v1/me", headers=accounts.headers(user)).status_code == 200  # a token is not a session
    secret = re.search(r'id="two-factor-secret"[^>]*value="([A-Z2-7]+)"', page).group(1)
    assert form_post(client, "/account/two-factor", code=code_for(secret)).status_code == 302
    assert client.get("/account/two-factor/recovery-codes").status_code == 200
    assert client.get("/files").status_code == 200
    assert "cannot be turned off" in client.get("/account").get_data(as_text=True)
    # Signing out still works for someone who has not set it up.
    other, _ = accounts.signed_in_client()
    out = other.post("/logout", data={"csrf_token": csrf_from(other.get("/account/two-factor").get_data(as_text=True))})
    assert out.headers["Location"] == "/login"


def test_the_admin_security_page_switches_the_requirement(app, accounts):
    admin = accounts.create(is_admin=True)
    client, _ = accounts.signed_in_client(admin)
    page = client.get("/admin/security")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'aria-current="page">Security</a>' in html and "0 of 1 active account" in html
    normal, _ = accounts.signed_in_client()
    assert normal.get("/admin/security").status_code == 403
    saved = form_post(client, "/admin/security", require_two_factor="y")
    assert saved.headers["Location"] == "/admin/security" and two_factor.is_required()
    # The admin without two-factor is the first to be sent to set it up.
    assert client.get("/admin/security").headers["Location"] == "/account/two-factor"
    two_factor.set_required(False)
    form_post(client, "/admin/security")
    assert not two_factor.is_required()


def test_the_commands_switch_the_requirement_and_reset_a_user(app, accounts):
    user = accounts.create()
    enrol(user)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["locker", "require-two-factor", "on"])
    assert result.exit_code == 0 and "required" in result.output and two_factor.is_required()
    assert runner.invoke(args=["locker", "require-two-factor", "maybe"]).exit_code != 0
    result = runner.invoke(args=["locker", "reset-two-factor", user.username.upper()])
    assert result.exit_code == 0 and "cleared" in result.output
    assert not reload(user).two_factor_enabled
    [event] = events("two_factor_reset", user)
    assert event.actor_id is None and event.actor_name == "flask locker reset-two-factor"
    result = runner.invoke(args=["locker", "reset-two-factor", "nobody-here"])
    assert result.exit_code == 1 and "No user" in result.output
    assert runner.invoke(args=["locker", "require-two-factor", "off"]).exit_code == 0 and not two_factor.is_required()


def test_its_events_are_in_the_activity_log_and_its_filter(app, accounts):
    user = accounts.create()
    headers = accounts.headers(user)
    enrol(user)
    client = app.test_client()
    response = client.get("/api/v1/activity", headers=headers, query_string={"action": "two_factor_on"})
    assert response.status_code == 200, response.get_json()
    assert [item["label"] for item in response.get_json()["items"]] == ["turned on two-factor sign-in"]
    document = client.get("/api/v1/openapi.json").get_json()
    assert "two_factor_reset" in json.dumps(document)
