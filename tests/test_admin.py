"""The admin area's service and API: the users list, new accounts, quotas, disabling, admin rights, the overview."""
import time

import pytest

from app.extensions import db
from app.models import AuditEvent, File, FileStatus, User
from app.services import admin
from app.storage import StorageError
from app.version import locker_version
from tests.helpers import at_once, recorded_sql, start_upload, upload, walk_pages

STRONG = "mauve lantern orbit 42"


@pytest.fixture
def boss(local_app, accounts):
    return accounts.create("boss", is_admin=True)


@pytest.fixture
def boss_headers(accounts, boss):
    return accounts.headers(boss)


@pytest.fixture
def api(local_app):
    return local_app.test_client()


def error_code(response):
    return response.get_json()["error"]["code"]


def events(action):
    return db.session.execute(db.select(AuditEvent).filter_by(action=action).order_by(AuditEvent.id)).scalars().all()


def reload(user):
    db.session.expire_all()
    return db.session.get(User, user.id)


# --- Who may ---------------------------------------------------------------------------------------

def test_every_admin_operation_refuses_a_non_admin_before_reading_the_body(app, api, accounts):
    someone = accounts.headers(accounts.create("someone"))
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/admin/")]
    assert len(rules) >= 8
    for rule in rules:
        url = rule.rule.replace("<int:user_id>", "1").replace("<invitation_id>", "x" * 32)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = api.open(url, method=method, headers=someone, json={"not a field": [1]})
            assert response.status_code == 403 and error_code(response) == "not_admin", (method, url)


ADMIN_CALLS = [("get", "/api/v1/admin/users", None), ("post", "/api/v1/admin/users",
                                                       {"username": "newbie", "password": STRONG}),
               ("get", "/api/v1/admin/users/1", None), ("patch", "/api/v1/admin/users/1", {"is_admin": True}),
               ("get", "/api/v1/admin/overview", None)]


@pytest.mark.parametrize("method, url, body", ADMIN_CALLS)
def test_only_admins_reach_the_admin_api(api, accounts, boss, method, url, body):
    someone = accounts.create("someone")
    response = getattr(api, method)(url, headers=accounts.headers(someone), json=body)
    assert response.status_code == 403 and error_code(response) == "not_admin"
    assert getattr(api, method)(url, json=body).status_code == 401
    assert db.session.execute(db.select(User).filter_by(username="newbie")).first() is None
    assert not reload(someone).is_admin


# --- The users list ----------------------------------------------------------------------------------

def test_the_users_list_pages_by_username_with_each_accounts_figures(api, accounts, boss, boss_headers):
    for name in ("dora", "alice", "carol", "bob", "eve"):
        accounts.create(name)
    alice = db.session.execute(db.select(User).filter_by(username="alice")).scalar_one()
    upload(api, accounts.headers(alice), "a.txt", b"hello")
    upload(api, accounts.headers(alice), "b.txt", b"world!")
    start_upload(api, accounts.headers(alice), "c.txt", b"pending")

    items = walk_pages(api, boss_headers, "/api/v1/admin/users", limit=2)
    assert [item["username"] for item in items] == ["alice", "bob", "boss", "carol", "dora", "eve"]
    first = items[0]
    assert first["files"] == 2 and first["used_bytes"] == 5 + 6 + 7
    assert first["state"] == "active" and first["is_admin"] is False and first["is_active"] is True
    assert first["quota_bytes"] is None and first["last_sign_in_at"] is None
    assert items[2]["is_admin"] is True


def test_search_matches_username_or_email_and_takes_wildcards_literally(api, accounts, boss, boss_headers):
    admin.create_user(boss, "frank", STRONG, email="Frank@Example.org")
    admin.create_user(boss, "grace", STRONG, email="grace@mail.test")
    admin.create_user(boss, "hank_1", STRONG)

    def found(q):
        response = api.get("/api/v1/admin/users", headers=boss_headers, query_string={"q": q})
        assert response.status_code == 200, response.get_json()
        return [item["username"] for item in response.get_json()["items"]]

    assert found("RAN") == ["frank"]
    assert found("example.ORG") == ["frank"]
    assert found("mail") == ["grace"]
    assert found("_") == ["hank_1"]
    assert found("%") == []


def test_a_cursor_keeps_its_search(api, accounts, boss, boss_headers):
    for name in ("ann1", "ann2", "ann3", "zed"):
        accounts.create(name)
    page = api.get("/api/v1/admin/users", headers=boss_headers, query_string={"q": "ann", "limit": 2}).get_json()
    assert [item["username"] for item in page["items"]] == ["ann1", "ann2"]
    rest = api.get("/api/v1/admin/users", headers=boss_headers,
                   query_string={"q": "ann", "limit": 2, "cursor": page["next_cursor"]}).get_json()
    assert [item["username"] for item in rest["items"]] == ["ann3"] and rest["next_cursor"] is None
    other = api.get("/api/v1/admin/users", headers=boss_headers, query_string={"cursor": page["next_cursor"]})
    assert other.status_code == 400 and error_code(other) == "invalid_cursor"
    forged = api.get("/api/v1/admin/users", headers=boss_headers, query_string={"cursor": "eyJ1IjoxfQ"})
    assert forged.status_code == 400 and error_code(forged) == "invalid_cursor"


def test_a_page_costs_the_same_few_queries_however_many_users(local_app, accounts, boss):
    def queries_for_a_page():
        db.session.expire_all()
        with recorded_sql() as executed:
            page = admin.list_users(limit=50)
        return len(executed), len(page.items)

    for number in range(3):
        accounts.create(f"few{number}")
    few, shown_few = queries_for_a_page()
    for number in range(30):
        accounts.create(f"many{number:02}")
    many, shown_many = queries_for_a_page()
    assert shown_many == shown_few + 30
    assert many == few <= 2


# --- New accounts --------------------------------------------------------------------------------------

def test_an_admin_creates_an_account_with_email_quota_and_role(api, boss, boss_headers):
    response = api.post("/api/v1/admin/users", headers=boss_headers, json={
        "username": "Ivy", "password": STRONG, "email": " Ivy@Example.ORG ", "quota_bytes": 1024, "is_admin": True})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["username"] == "ivy" and body["email"] == "ivy@example.org" and body["is_admin"] is True
    assert body["quota_bytes"] == body["effective_quota_bytes"] == 1024 and body["files"] == 0
    assert "password" not in body
    user = db.session.get(User, body["id"])
    assert user.check_password(STRONG)
    event, = events("user_created")
    assert event.actor_id == boss.id and event.owner_id == user.id and "administrator" in event.detail


@pytest.mark.parametrize("changes, code, status", [
    ({"username": "x"}, "invalid_username", 400),
    ({"password": "password1"}, "weak_password", 400),
    ({"email": "not-an-address"}, "invalid_email", 400),
    ({"username": "taken"}, "username_taken", 409),
    ({"email": "taken@example.org"}, "email_taken", 409),
    ({"quota_bytes": -1}, "invalid_quota_bytes", 400),
])
def test_a_refused_new_account_changes_nothing(api, boss, boss_headers, changes, code, status):
    admin.create_user(boss, "taken", STRONG, email="taken@example.org")
    before = db.session.execute(db.select(db.func.count(User.id))).scalar_one()
    response = api.post("/api/v1/admin/users", headers=boss_headers,
                        json={"username": "fresh", "password": STRONG, **changes})
    assert response.status_code == status and error_code(response) == code
    assert db.session.execute(db.select(db.func.count(User.id))).scalar_one() == before
    assert len(events("user_created")) == 1


def test_an_unknown_user_is_404(api, boss_headers):
    for user_id in (999999, 2 ** 31, 2 ** 40):
        response = api.get(f"/api/v1/admin/users/{user_id}", headers=boss_headers)
        assert response.status_code == 404 and error_code(response) == "no_such_user"
        response = api.patch(f"/api/v1/admin/users/{user_id}", headers=boss_headers, json={"is_admin": True})
        assert response.status_code == 404 and error_code(response) == "no_such_user"


# --- Quotas ---------------------------------------------------------------------------------------------

def test_a_quota_holds_from_the_next_upload_and_clearing_it_restores_the_default(make_app, accounts):
    app = make_app(STORAGE_BACKEND="local", DEFAULT_QUOTA=100)
    with app.app_context():
        boss = accounts.create("boss", is_admin=True)
        boss_headers, api = accounts.headers(boss), app.test_client()
        user = accounts.create("kim")
        headers = accounts.headers(user)
        upload(api, headers, "a.bin", b"x" * 30)

        response = api.patch(f"/api/v1/admin/users/{user.id}", headers=boss_headers, json={"quota_bytes": 20})
        assert response.status_code == 200 and response.get_json()["effective_quota_bytes"] == 20
        refused = api.post("/api/v1/uploads", headers=headers, json={"name": "b.bin", "size": 1})
        assert refused.status_code == 413 and error_code(refused) == "quota_exceeded"
        # Lowered below what is used: nothing is deleted.
        assert db.session.execute(db.select(db.func.count(File.id)).filter_by(
            owner_id=user.id, status=FileStatus.READY)).scalar_one() == 1

        response = api.patch(f"/api/v1/admin/users/{user.id}", headers=boss_headers, json={"quota_bytes": 0})
        assert response.get_json()["effective_quota_bytes"] is None  # 0: no limit
        upload(api, headers, "big.bin", b"y" * 500)

        response = api.patch(f"/api/v1/admin/users/{user.id}", headers=boss_headers, json={"quota_bytes": None})
        body = response.get_json()
        assert body["quota_bytes"] is None and body["effective_quota_bytes"] == 100
        assert [event.detail for event in events("quota_changed")] == ["20 bytes", "no limit", "the default quota"]
        assert all(event.actor_id == boss.id and event.owner_id == user.id for event in events("quota_changed"))


@pytest.mark.parametrize("text, expected", [("10 GiB", 10 * 1024 ** 3), ("500M", 500 * 1024 ** 2), ("0", 0),
                                            ("", None), ("  ", None), ("none", None), ("default", None),
                                            ("1048576", 1048576)])
def test_quota_text(text, expected):
    assert admin.parse_quota(text) == expected


@pytest.mark.parametrize("text", ["lots", "-5", "inf", "nan", "1e30", "5 parsecs", "10 GB extra"])
def test_quota_text_that_is_not_a_size(text):
    with pytest.raises(admin.InvalidInput) as refused:
        admin.parse_quota(text)
    assert refused.value.code == "invalid_quota"


# --- Admin rights and disabling --------------------------------------------------------------------------

def test_the_last_active_admin_can_be_neither_demoted_nor_disabled(api, accounts, boss, boss_headers):
    helper = accounts.create("helper", is_admin=True)
    disabled_admin = accounts.create("sleeper", is_admin=True)
    admin.set_active(boss, disabled_admin, False)  # a disabled admin does not count

    response = api.patch(f"/api/v1/admin/users/{helper.id}", headers=boss_headers, json={"is_admin": False})
    assert response.status_code == 200 and response.get_json()["is_admin"] is False
    for change in ({"is_admin": False}, {"is_active": False}):
        response = api.patch(f"/api/v1/admin/users/{boss.id}", headers=boss_headers, json=change)
        assert response.status_code in (403, 409)
    with pytest.raises(admin.Conflict) as refused:
        admin.set_admin(None, reload(boss), False)
    assert refused.value.code == "last_admin"
    with pytest.raises(admin.Conflict):
        admin.set_active(None, reload(boss), False)
    boss = reload(boss)
    assert boss.is_admin and boss.is_active
    assert [event.owner_id for event in events("admin_revoked")] == [helper.id]


def test_a_refused_change_changes_nothing_else_in_the_same_request(api, boss, boss_headers):
    response = api.patch(f"/api/v1/admin/users/{boss.id}", headers=boss_headers,
                         json={"quota_bytes": 5, "email": "boss@example.org", "is_admin": False})
    assert response.status_code == 409 and error_code(response) == "last_admin"
    boss = reload(boss)
    assert boss.quota_bytes is None and boss.email is None and boss.is_admin
    assert events("quota_changed") == [] and events("email_changed") == []


def test_nobody_disables_themself(api, accounts, boss, boss_headers):
    accounts.create("other", is_admin=True)
    response = api.patch(f"/api/v1/admin/users/{boss.id}", headers=boss_headers, json={"is_active": False})
    assert response.status_code == 403 and error_code(response) == "cannot_disable_self"
    assert reload(boss).is_active


def test_making_and_removing_an_admin_is_logged_with_who_did_it(api, accounts, boss, boss_headers):
    user = accounts.create("lee")
    assert api.patch(f"/api/v1/admin/users/{user.id}", headers=boss_headers,
                     json={"is_admin": True}).get_json()["is_admin"] is True
    assert reload(user).is_admin
    api.patch(f"/api/v1/admin/users/{user.id}", headers=boss_headers, json={"is_admin": False})
    assert not reload(user).is_admin
    # Asking for what already is changes and logs nothing.
    api.patch(f"/api/v1/admin/users/{user.id}", headers=boss_headers, json={"is_admin": False})
    granted, revoked = events("admin_granted"), events("admin_revoked")
    assert len(granted) == len(revoked) == 1
    assert granted[0].actor_id == revoked[0].actor_id == boss.id and granted[0].owner_id == user.id


def test_disabling_and_enabling_shows_in_state(api, accounts, boss, boss_headers):
    user = accounts.create("mia")
    body = api.patch(f"/api/v1/admin/users/{user.id}", headers=boss_headers, json={"is_active": False}).get_json()
    assert body["is_active"] is False and body["state"] == "disabled"
    body = api.patch(f"/api/v1/admin/users/{user.id}", headers=boss_headers, json={"is_active": True}).get_json()
    assert body["is_active"] is True and body["state"] == "active"
    assert [e.action for e in db.session.execute(db.select(AuditEvent).filter_by(owner_id=user.id)
                                                 .order_by(AuditEvent.id)).scalars()] == ["user_disabled",
                                                                                           "user_enabled"]


def test_email_is_set_cleaned_unique_and_removable(api, accounts, boss, boss_headers):
    user = accounts.create("noor")
    admin.create_user(boss, "owner2", STRONG, email="used@example.org")
    body = api.patch(f"/api/v1/admin/users/{user.id}", headers=boss_headers, json={"email": "Noor@Example.org"})
    assert body.get_json()["email"] == "noor@example.org"
    taken = api.patch(f"/api/v1/admin/users/{user.id}", headers=boss_headers, json={"email": "USED@example.org"})
    assert taken.status_code == 409 and error_code(taken) == "email_taken"
    bad = api.patch(f"/api/v1/admin/users/{user.id}", headers=boss_headers, json={"email": "two@@example.org"})
    assert bad.status_code == 400 and error_code(bad) == "invalid_email"
    assert reload(user).email == "noor@example.org"
    assert api.patch(f"/api/v1/admin/users/{user.id}", headers=boss_headers,
                     json={"email": None}).get_json()["email"] is None
    empty = api.patch(f"/api/v1/admin/users/{user.id}", headers=boss_headers, json={})
    assert empty.status_code == 400


# --- Concurrency: two admins at once ------------------------------------------------------------------------

def race(app, count, act):
    """act(number) in `count` threads at once, each in its own app context; "ok", "last_admin" or the error."""
    def attempt(number, start):
        with app.test_request_context():
            try:
                start.wait()
                act(number)
                return "ok"
            except admin.Conflict as error:
                return error.code
            except Exception as error:  # noqa: BLE001 - shown in the assertion, not lost with the thread
                return repr(error)
            finally:
                db.session.remove()

    return at_once(count, attempt)


@pytest.mark.parametrize("change", ["demote", "disable"])
@pytest.mark.parametrize("attempt", range(3))
def test_two_admins_acting_on_each_other_at_once_leave_one_admin(local_app, accounts, change, attempt):
    first = accounts.create("first", is_admin=True)
    second = accounts.create("second", is_admin=True)
    ids = [first.id, second.id]
    db.session.commit()

    def act(number):
        actor, target = db.session.get(User, ids[number]), db.session.get(User, ids[1 - number])
        if change == "demote":
            admin.set_admin(actor, target, False)
        else:
            admin.set_active(actor, target, False)

    outcomes = sorted(race(local_app, 2, act))
    assert outcomes == ["last_admin", "ok"], outcomes
    db.session.expire_all()
    active_admins = db.session.execute(db.select(db.func.count(User.id)).where(*admin.active_admin(User))).scalar_one()
    assert active_admins == 1


def test_many_admins_demoting_at_once_keep_one(local_app, accounts):
    ids = [accounts.create(f"admin{number}", is_admin=True).id for number in range(5)]
    db.session.commit()

    def act(number):
        # Each demotes itself: every one of them counts the same five admins.
        target = db.session.get(User, ids[number])
        admin.set_admin(None, target, False)

    outcomes = race(local_app, 5, act)
    assert sorted(outcomes) == ["last_admin"] + ["ok"] * 4, outcomes
    db.session.expire_all()
    assert db.session.execute(db.select(db.func.count(User.id)).where(*admin.active_admin(User))).scalar_one() == 1


# --- The overview -------------------------------------------------------------------------------------------

def test_the_overview_counts_users_files_space_trash_and_unfinished_uploads(make_app, accounts):
    app = make_app(STORAGE_BACKEND="local", DEFAULT_QUOTA=1024 ** 3, REGISTRATION="closed")
    with app.app_context():
        boss = accounts.create("boss", is_admin=True)
        api, headers = app.test_client(), accounts.headers(boss)
        user = accounts.create("olga")
        admin.set_active(boss, user, False)
        upload(api, headers, "kept.txt", b"12345")
        binned = upload(api, headers, "binned.txt", b"1234567")
        assert api.delete(f"/api/v1/files/{binned['id']}", headers=headers).status_code == 204
        start_upload(api, headers, "half.txt", b"123")

        body = api.get("/api/v1/admin/overview", headers=headers).get_json()
        assert body["users"] == 2 and body["active_users"] == 1 and body["admins"] == 1
        assert body["files"] == 1 and body["stored_bytes"] == 5
        assert body["trash_files"] == 1 and body["trash_bytes"] == 7
        assert body["pending_uploads"] == 1 and body["reserved_bytes"] == 3
        assert body["storage"] == body["database"] == "ok"
        assert body["registration"] == "closed" and body["default_quota"] == 1024 ** 3
        assert body["version"] == locker_version() != "unknown"


def test_storage_that_does_not_answer_shows_as_down_without_failing_the_overview(local_app, api, boss_headers,
                                                                                monkeypatch):
    def down():
        raise StorageError("bucket gone")

    monkeypatch.setattr(local_app.extensions["locker.storage"], "health", down)
    started = time.monotonic()
    response = api.get("/api/v1/admin/overview", headers=boss_headers)
    assert response.status_code == 200 and time.monotonic() - started < 5
    body = response.get_json()
    assert body["storage"] == "down" and body["database"] == "ok"


def test_the_version_is_pyprojects():
    import tomllib
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert locker_version() == tomllib.loads(text)["project"]["version"]


# --- The document, fuzzed as an admin (tests/test_openapi.py fuzzes every operation as a user, who gets 403) ---

@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_the_admin_operations_answer_as_documented_for_an_admin(local_app, accounts, boss, mode):
    import schemathesis
    from hypothesis import given
    from schemathesis import GenerationMode
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    from app.services import tokens
    from tests.test_openapi import FUZZ_SETTINGS

    accounts.create("target")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", local_app)
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    operations = [result.ok() for result in schema.get_all_operations() if "/admin/" in result.ok().label]
    assert {"GET /api/v1/admin/users", "POST /api/v1/admin/users", "GET /api/v1/admin/users/{user_id}",
            "PATCH /api/v1/admin/users/{user_id}", "GET /api/v1/admin/overview"} <= {op.label for op in operations}
    # Refusals no schema can state: a cursor only the server can read, a password too easy to guess,
    # a name or email already taken, an invitation expiring more than 100 years from now.
    beyond = {"GET /api/v1/admin/users", "POST /api/v1/admin/users", "PATCH /api/v1/admin/users/{user_id}",
              "POST /api/v1/admin/invitations"}
    generation = GenerationMode.POSITIVE if mode == "positive" else GenerationMode.NEGATIVE
    for operation in operations:
        excluded = [positive_data_acceptance] if operation.label in beyond else []

        @FUZZ_SETTINGS
        @given(case=operation.as_strategy(generation_mode=generation))
        def answers_as_documented(case):
            headers = dict(case.headers or {})
            if headers.get("Authorization", "").startswith("Bearer "):
                headers["Authorization"] = f"Bearer {tokens.create_token(boss, 'fuzz')[1]}"
            case.call_and_validate(headers=headers, excluded_checks=excluded)

        answers_as_documented()
    # Whatever the fuzzing did, an active admin remains.
    db.session.expire_all()
    assert db.session.execute(db.select(db.func.count(User.id)).where(*admin.active_admin(User))).scalar_one() >= 1
