"""`flask locker users / set-quota / disable / enable / set-admin`, and create-user's --email and --quota."""
import pytest

from app.extensions import db
from app.models import AuditEvent, User
from tests.conftest import PASSWORD

STRONG = "mauve lantern orbit 42"


@pytest.fixture
def run(local_app):
    runner = local_app.test_cli_runner()

    def invoke(*args):
        result = runner.invoke(args=["locker", *args])
        db.session.expire_all()
        return result

    return invoke


def user_named(name):
    return db.session.execute(db.select(User).filter_by(username=name)).scalar_one()


def test_create_user_with_email_and_quota(run):
    result = run("create-user", "Uli", "--email", "Uli@Example.org", "--quota", "5 GiB", "--password", STRONG)
    assert result.exit_code == 0, result.output
    user = user_named("uli")
    assert user.email == "uli@example.org" and user.quota_bytes == 5 * 1024 ** 3 and not user.is_admin
    event = db.session.execute(db.select(AuditEvent).filter_by(action="user_created")).scalar_one()
    assert event.owner_id == user.id and event.actor_id is None and event.actor_name == "command line"


@pytest.mark.parametrize("extra, message", [(["--quota", "heaps"], "is not a size"),
                                            (["--email", "nope"], "not an email address")])
def test_create_user_refuses_bad_options_and_makes_nothing(run, extra, message):
    result = run("create-user", "vera", *extra, "--password", STRONG)
    assert result.exit_code == 1 and message in result.output
    assert db.session.execute(db.select(User).filter_by(username="vera")).first() is None


def test_users_lists_every_account_across_pages_and_searches(run, accounts):
    for number in range(205):
        db.session.add(User(username=f"bulk{number:03}", password_hash="x"))
    db.session.commit()
    run("create-user", "wanda", "--email", "wanda@example.org", "--admin", "--password", STRONG)
    result = run("users")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["ID", "USERNAME", "STATE"]
    assert "206 accounts" in lines[-1]
    assert sum(" bulk" in line for line in lines) == 205
    wanda = next(line for line in lines if " wanda " in line)
    assert "admin" in wanda and "wanda@example.org" in wanda and "never" in wanda and "no limit*" in wanda
    found = run("users", "--search", "EXAMPLE")
    assert found.exit_code == 0 and "wanda" in found.output and "bulk" not in found.output
    assert "1 account;" in found.output


def test_set_quota_sets_and_clears(run, accounts):
    accounts.create("xia")
    assert run("set-quota", "xia", "10 GiB").exit_code == 0
    assert user_named("xia").quota_bytes == 10 * 1024 ** 3
    assert run("set-quota", "xia", "0").output.strip() == "xia: no limit."
    assert user_named("xia").quota_bytes == 0
    assert run("set-quota", "XIA", "none").exit_code == 0
    assert user_named("xia").quota_bytes is None
    bad = run("set-quota", "xia", "a lot")
    assert bad.exit_code == 1 and "is not a size" in bad.output and user_named("xia").quota_bytes is None
    missing = run("set-quota", "nobody", "1 GiB")
    assert missing.exit_code == 1 and "No user is called 'nobody'" in missing.output


def test_disable_and_enable(run, accounts, local_app):
    accounts.create("yusuf")
    assert run("disable", "yusuf").exit_code == 0
    assert not user_named("yusuf").is_active
    response = local_app.test_client().post("/api/v1/auth/token", json={"username": "yusuf", "password": PASSWORD})
    assert response.status_code == 403
    assert run("enable", "yusuf").exit_code == 0
    assert user_named("yusuf").is_active
    assert [event.action for event in db.session.execute(
        db.select(AuditEvent).filter_by(owner_id=user_named("yusuf").id).order_by(AuditEvent.id)).scalars()] == [
        "user_disabled", "sign_in_failed", "user_enabled"]


def test_set_admin_keeps_the_last_active_admin(run, accounts):
    accounts.create("zara", is_admin=True)
    accounts.create("abel")
    refused = run("set-admin", "zara", "--no")
    assert refused.exit_code == 1 and "at least one active administrator" in refused.output
    assert user_named("zara").is_admin
    refused = run("disable", "zara")
    assert refused.exit_code == 1 and user_named("zara").is_active
    assert run("set-admin", "abel", "--yes").exit_code == 0 and user_named("abel").is_admin
    assert run("set-admin", "zara", "--no").exit_code == 0 and not user_named("zara").is_admin
    assert run("set-admin", "abel").exit_code == 2  # --yes or --no must be said
