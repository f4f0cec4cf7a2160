"""Two-factor from the Python client and `locker login`: a code is sent when the account needs one, asked for
when the server says so."""
import json

import pytest

from app.services import two_factor, users
from locker_client import AuthenticationError, Locker
from tests.conftest import PASSWORD
from tests.live_support import Live, local_live  # noqa: F401  (fixtures)
from tests.test_cli_tool import dirs, run  # noqa: F401  (fixtures)
from tests.test_two_factor import code_for


def with_two_factor(live: Live):
    """A new user of `live` with two-factor on: (username, secret, recovery codes)."""
    username, _ = live.user()
    with live.app.app_context():
        user = users.authenticate(username, PASSWORD)
        secret = two_factor.begin_enrolment(user)
        codes = two_factor.confirm_enrolment(user, code_for(secret, -1))
    return username, secret, codes


def test_the_client_sends_the_code(local_live: Live) -> None:
    username, secret, codes = with_two_factor(local_live)
    with pytest.raises(AuthenticationError) as refused:
        Locker(local_live.url, username=username, password=PASSWORD)
    assert refused.value.code == "two_factor_required" and refused.value.status == 401
    with pytest.raises(AuthenticationError) as wrong:
        Locker(local_live.url, username=username, password=PASSWORD, code="not-a-code")
    assert wrong.value.code == "invalid_code"
    with Locker(local_live.url, username=username, password=PASSWORD, code=code_for(secret)) as lk:
        assert lk.me().username == username
    with Locker.login(local_live.url, username, PASSWORD, code=codes[0]) as lk:
        assert lk.token and lk.me().username == username


def test_locker_login_asks_for_the_code_when_the_server_wants_one(local_live: Live, run, dirs) -> None:
    username, secret, codes = with_two_factor(local_live)
    result = run("login", local_live.url, "-u", username, input=f"{PASSWORD}\n{code_for(secret)}\n")
    assert result.exit_code == 0, result.output
    assert "Two-factor code (or a recovery code): " in result.stderr
    assert json.loads((dirs["config"] / "config.json").read_text())["username"] == username
    wrong = run("login", local_live.url, "-u", username, input=f"{PASSWORD}\nabcdef\n")
    assert wrong.exit_code == 1 and "locker: That code is not right." in wrong.stderr
    # An account without two-factor is never asked.
    plain, _ = local_live.user()
    result = run("login", local_live.url, "-u", plain, input=f"{PASSWORD}\n")
    assert result.exit_code == 0 and "Two-factor" not in result.stderr
