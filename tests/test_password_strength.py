"""Easily guessed passwords are refused, with the reason, wherever an account gets one."""
import html
import re

import pytest

from app.errors import InvalidInput
from app.extensions import db
from app.models import User
from app.services import users
from tests.conftest import PASSWORD, csrf_from

TOO_EASY = "This password is too easy to guess."
HAS_USERNAME = "A password may not contain your username."

WEAK = [
    ("password", "This is a top-10 common password."),
    ("12345678", "This is a top-10 common password."),
    ("aaaaaaaa", 'Repeats like "aaa" are easy to guess.'),
    ("qwertyuiop", "This is a top-100 common password."),
    ("iloveyou1", "This is a very common password."),
]


def post_account_form(client, path, username, password):
    token = csrf_from(client.get(path).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, "username": username, "password": password,
                                   "confirm": password})


def password_errors(response):
    """The messages listed under the password field."""
    match = re.search(r'<ul class="field-errors" id="password-errors">(.*?)</ul>', response.get_data(as_text=True), re.S)
    return html.unescape(match.group(1)) if match else ""


def no_users():
    return db.session.execute(db.select(User)).first() is None


@pytest.mark.parametrize("password,reason", WEAK)
def test_registration_refuses_a_weak_password_and_says_why(local_app, password, reason):
    response = post_account_form(local_app.test_client(), "/register", "walter", password)
    assert response.status_code == 400
    errors = password_errors(response)
    assert TOO_EASY in errors and reason in errors and "Add another word or two." in errors
    assert no_users()


@pytest.mark.parametrize("username,password", [
    ("bartholomew", "bartholomew"),
    ("bartholomew", "Bartholomew"),
    ("zoe", "zoe-quartz-lantern-fig"),
    ("max.power", "unicorn MAX.POWER orbit"),
])
def test_registration_refuses_a_password_containing_the_username(local_app, username, password):
    response = post_account_form(local_app.test_client(), "/register", username, password)
    assert response.status_code == 400 and HAS_USERNAME in password_errors(response)
    assert no_users()


def test_the_setup_page_refuses_a_weak_password_for_the_first_admin(local_app):
    token = users.issue_setup_token()
    client = local_app.test_client()
    response = post_account_form(client, f"/setup/{token}", "root", "password")
    assert response.status_code == 400 and TOO_EASY in password_errors(response)
    assert no_users()
    assert post_account_form(client, f"/setup/{token}", "root", PASSWORD).status_code == 302


@pytest.mark.parametrize("password", [PASSWORD, "blue-kettle-42", "Tr0ub4dor&3"])
def test_a_strong_password_is_accepted(local_app, password):
    response = post_account_form(local_app.test_client(), "/register", "walter", password)
    assert response.status_code == 302
    assert db.session.execute(db.select(User).filter_by(username="walter")).scalar_one().check_password(password)


@pytest.mark.parametrize("password,reason", WEAK + [("walter-walter", HAS_USERNAME)])
def test_create_user_command_refuses_a_weak_password(local_app, password, reason):
    result = local_app.test_cli_runner().invoke(args=["locker", "create-user", "walter", "--password", password])
    assert result.exit_code != 0 and reason in result.output
    assert no_users()


def test_admin_from_the_environment_needs_a_strong_password(make_app):
    app = make_app(STORAGE_BACKEND="local", LOCKER_ADMIN_USERNAME="boss", LOCKER_ADMIN_PASSWORD="12345678")
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["locker", "bootstrap"])
        assert result.exit_code != 0 and TOO_EASY in result.output
        assert no_users()


def test_the_service_applies_the_rule_to_every_caller(local_app):
    with pytest.raises(InvalidInput, match=HAS_USERNAME) as refused:
        users.create_user("Quentin", "quentin2026!")
    assert refused.value.code == "weak_password"
    with pytest.raises(InvalidInput, match=TOO_EASY):
        users.create_user("quentin", "letmein2024!")
    assert no_users()


def test_long_passwords_are_judged_without_failing(local_app):
    # The estimator refuses input over 72 characters; a long passphrase is still accepted, and a
    # long run of one character still refused, both with an answer rather than an error page.
    strong = "violet harbour " * 8
    assert post_account_form(local_app.test_client(), "/register", "walter", strong).status_code == 302
    response = post_account_form(local_app.test_client(), "/register", "wendy", "a" * 200)
    assert response.status_code == 400 and TOO_EASY in password_errors(response)
