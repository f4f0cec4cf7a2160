"""The admin area's pages: /admin, /admin/users and a user's page, their forms, flashes and refusals."""
import re

import pytest

from app.extensions import db
from app.models import AuditEvent, User
from app.services import admin
from app.version import locker_version
from tests.conftest import csrf_from

STRONG = "mauve lantern orbit 42"


@pytest.fixture
def boss_client(local_app, accounts):
    client, boss = accounts.signed_in_client(accounts.create("boss", is_admin=True))
    return client, boss


def page(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def post(client, url, data, from_url):
    token = csrf_from(page(client, from_url))
    return client.post(url, data={"csrf_token": token, **data}, headers={"Referer": f"http://localhost{from_url}"})


def reload(user):
    db.session.expire_all()
    return db.session.get(User, user.id)


def flashes(html):
    return re.findall(r'<p class="flash flash-(\w+)"[^>]*>([^<]*)</p>', html)


@pytest.mark.parametrize("url", ["/admin", "/admin/users", "/admin/users/1"])
def test_the_admin_pages_are_for_admins_only(local_app, accounts, url):
    client, _ = accounts.signed_in_client()
    assert client.get(url).status_code == 403
    stranger = local_app.test_client()
    response = stranger.get(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_only_admins_see_the_admin_link(local_app, accounts, boss_client):
    client, _ = boss_client
    assert 'href="/admin"' in page(client, "/files")
    someone, _ = accounts.signed_in_client()
    assert 'href="/admin"' not in page(someone, "/files")


def test_posting_to_the_admin_pages_as_a_user_changes_nothing(local_app, accounts):
    client, user = accounts.signed_in_client()
    token = csrf_from(page(client, "/files"))
    for url in (f"/admin/users/{user.id}/make-admin", f"/admin/users/{user.id}/quota"):
        # A refused form goes back where it came from with the reason, as every form in Locker does.
        response = client.post(url, data={"csrf_token": token, "quota": "1 GiB"},
                               headers={"Referer": "http://localhost/files"})
        assert response.status_code == 302 and response.headers["Location"].endswith("/files")
        assert ("error", admin.NOT_ADMIN) in flashes(page(client, "/files"))
    user = reload(user)
    assert not user.is_admin and user.quota_bytes is None


def test_the_overview_shows_the_figures_health_version_and_registration(local_app, boss_client):
    client, _ = boss_client
    html = page(client, "/admin")
    assert 'aria-current="page">Overview' in html
    for text in ("Users", "Files", "In the trash", "Unfinished uploads", "Registration", "Default quota",
                 f"Locker version</dt><dd>{locker_version()}", "answering", "REGISTRATION=open"):
        assert text in html, text


def test_the_overview_says_when_storage_is_not_answering(local_app, boss_client, monkeypatch):
    from app.storage import StorageError

    def down():
        raise StorageError("gone")

    monkeypatch.setattr(local_app.extensions["locker.storage"], "health", down)
    client, _ = boss_client
    assert "not answering" in page(client, "/admin")


def test_the_users_page_lists_searches_and_pages(local_app, accounts, boss_client):
    client, boss = boss_client
    for number in range(55):
        accounts.create(f"person{number:02}")
    admin.create_user(boss, "zoe", STRONG, email="zoe@example.org")
    html = page(client, "/admin/users")
    assert "person00" in html and "never" in html and 'rel="next"' in html and "zoe" not in html
    next_url = re.search(r'href="([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
    second = page(client, next_url)
    assert "zoe" in second and "person00" not in second and 'rel="prev"' in second
    found = page(client, "/admin/users?q=EXAMPLE.org")
    assert "zoe" in found and "person01" not in found
    assert "No account matches" in page(client, "/admin/users?q=nobody-here")


def test_a_bad_search_is_a_clear_400(local_app, boss_client):
    client, _ = boss_client
    assert client.get("/admin/users?q=" + "x" * 101).status_code == 400
    assert client.get("/admin/users?cursor=not!a!cursor").status_code == 400


def test_making_a_user_from_the_users_page(local_app, boss_client):
    client, boss = boss_client
    response = post(client, "/admin/users", {"username": "Quinn", "password": STRONG, "email": "q@example.org",
                                              "quota": "2 GiB"}, "/admin/users")
    assert response.status_code == 302
    user = db.session.execute(db.select(User).filter_by(username="quinn")).scalar_one()
    assert response.headers["Location"].endswith(f"/admin/users/{user.id}")
    assert user.email == "q@example.org" and user.quota_bytes == 2 * 1024 ** 3 and not user.is_admin
    html = page(client, response.headers["Location"])
    assert ("info", "Created quinn.") in flashes(html)
    assert 'value="2 GiB"' in html


@pytest.mark.parametrize("data, message", [
    ({"username": "rex", "password": STRONG, "quota": "plenty"}, "is not a size"),
    ({"username": "rex", "password": "password"}, "too easy to guess"),
    ({"username": "boss", "password": STRONG}, "That username is taken."),
    ({"username": "rex", "password": STRONG, "email": "nope"}, "not an email address"),
    ({"username": "", "password": STRONG}, "This field is required."),
])
def test_a_refused_new_user_is_shown_beside_the_form_and_makes_nothing(local_app, boss_client, data, message):
    client, _ = boss_client
    count = db.session.execute(db.select(db.func.count(User.id))).scalar_one()
    response = post(client, "/admin/users", data, "/admin/users")
    assert response.status_code in (400, 409)
    html = response.get_data(as_text=True)
    assert message in html and 'class="field-errors"' in html
    assert db.session.execute(db.select(db.func.count(User.id))).scalar_one() == count


def test_the_user_page_shows_the_accounts_figures(local_app, accounts, boss_client):
    client, _ = boss_client
    user = accounts.create("sam")
    html = page(client, f"/admin/users/{user.id}")
    assert "<h1>sam</h1>" in html and "never" in html and "(the default)" in html
    # The actions other parts of the admin area add: a reset link and the way to deletion.
    assert 'aria-label="Reset password of sam"' in html
    assert f'href="/admin/users/{user.id}/delete"' in html


def test_an_unknown_user_page_is_404(local_app, boss_client):
    client, _ = boss_client
    assert client.get("/admin/users/999999").status_code == 404
    assert client.get("/admin/users/99999999999").status_code == 404
    token = csrf_from(page(client, "/admin"))
    assert client.post("/admin/users/999999/disable", data={"csrf_token": token}).status_code == 404


def test_setting_and_clearing_a_quota(local_app, accounts, boss_client):
    client, boss = boss_client
    user = accounts.create("tess")
    url = f"/admin/users/{user.id}"
    response = post(client, f"{url}/quota", {"quota": "10 GiB"}, url)
    assert response.status_code == 302 and response.headers["Location"].endswith(url)
    assert reload(user).quota_bytes == 10 * 1024 ** 3
    assert ("info", "tess now has a quota of 10.0 GiB.") in flashes(page(client, url))
    post(client, f"{url}/quota", {"quota": ""}, url)
    assert reload(user).quota_bytes is None
    assert ("info", "tess now has the default quota.") in flashes(page(client, url))


@pytest.mark.parametrize("quota", ["lots", "-1 GiB", "inf", "1e40", "x" * 41])
def test_bad_quota_input_changes_nothing(local_app, accounts, boss_client, quota):
    client, _ = boss_client
    user = accounts.create("uma")
    admin.set_quota(None, user, 1024)
    url = f"/admin/users/{user.id}"
    response = post(client, f"{url}/quota", {"quota": quota}, url)
    assert response.status_code == 302
    assert reload(user).quota_bytes == 1024
    assert any(category == "error" for category, _ in flashes(page(client, url)))
    assert db.session.execute(db.select(db.func.count(AuditEvent.id)).filter_by(action="quota_changed")).scalar_one() == 1


def test_a_form_without_its_csrf_token_changes_nothing(local_app, accounts, boss_client):
    client, _ = boss_client
    user = accounts.create("vic")
    for action, data in (("quota", {"quota": "1 GiB"}), ("disable", {}), ("make-admin", {}),
                         ("email", {"email": "v@example.org"})):
        client.post(f"/admin/users/{user.id}/{action}", data=data)
    assert client.post("/admin/users", data={"username": "wes", "password": STRONG}).status_code == 302
    user = reload(user)
    assert user.quota_bytes is None and user.is_active and not user.is_admin and user.email is None
    assert db.session.execute(db.select(User).filter_by(username="wes")).first() is None


def test_disabling_enabling_and_admin_rights_from_the_user_page(local_app, accounts, boss_client):
    client, boss = boss_client
    user = accounts.create("xena")
    url = f"/admin/users/{user.id}"
    post(client, f"{url}/disable", {}, url)
    assert not reload(user).is_active
    html = page(client, url)
    assert "Disabled xena" in html and "Enable account" in html
    post(client, f"{url}/enable", {}, url)
    assert reload(user).is_active
    post(client, f"{url}/make-admin", {}, url)
    assert reload(user).is_admin
    assert "xena is now an administrator." in page(client, url)
    post(client, f"{url}/remove-admin", {}, url)
    assert not reload(user).is_admin
    actions = db.session.execute(db.select(AuditEvent.action, AuditEvent.actor_id).filter_by(owner_id=user.id)
                                 .order_by(AuditEvent.id)).all()
    assert actions == [("user_disabled", boss.id), ("user_enabled", boss.id), ("admin_granted", boss.id),
                       ("admin_revoked", boss.id)]


def test_the_last_admin_is_told_why_they_stay_one(local_app, boss_client):
    client, boss = boss_client
    url = f"/admin/users/{boss.id}"
    response = post(client, f"{url}/remove-admin", {}, url)
    assert response.status_code == 302
    assert reload(boss).is_admin
    assert any("at least one active administrator" in message for _, message in flashes(page(client, url)))
    post(client, f"{url}/disable", {}, url)
    assert reload(boss).is_active
    assert "You can&#39;t disable your own account" in page(client, url)


def test_an_admin_who_gives_up_their_rights_leaves_the_area(local_app, accounts, boss_client):
    client, boss = boss_client
    accounts.create("deputy", is_admin=True)
    url = f"/admin/users/{boss.id}"
    response = post(client, f"{url}/remove-admin", {}, url)
    assert response.status_code == 302 and response.headers["Location"].endswith("/files")
    assert not reload(boss).is_admin
    assert client.get("/admin").status_code == 403


def test_setting_and_removing_an_email(local_app, accounts, boss_client):
    client, boss = boss_client
    user = accounts.create("yan")
    admin.create_user(boss, "other", STRONG, email="taken@example.org")
    url = f"/admin/users/{user.id}"
    post(client, f"{url}/email", {"email": "Yan@Example.org"}, url)
    assert reload(user).email == "yan@example.org"
    post(client, f"{url}/email", {"email": "taken@example.org"}, url)
    assert reload(user).email == "yan@example.org"
    assert "Another account has that email address." in page(client, url)
    post(client, f"{url}/email", {"email": ""}, url)
    assert reload(user).email is None
