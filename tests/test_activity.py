"""The activity log: what is recorded, who may see it, paging, retention, and that it never holds secrets."""
import json
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from app.extensions import db
from app.models import AuditEvent, File, utcnow
from app.services import audit
from tests.conftest import PASSWORD, Accounts
from tests.helpers import delete_for_good, path, send, share, upload, visit_and_download, walk_pages
from tests.live_support import Live, local_live  # noqa: F401  (fixtures)
# The CLI runner is the CLI tests' own fixture.
from tests.test_cli_tool import dirs, one_error_line, run  # noqa: F401

DATA = b"minutes of the meeting\n" * 40
OWNER_ADDRESS = "203.0.113.7"
VISITOR_ADDRESS = "198.51.100.9"
EVENT_KEYS = {"id", "created_at", "action", "label", "actor", "actor_name", "who", "owner", "file_id", "file_name",
              "share_id", "file_request_id", "address", "detail"}


def from_address(client, address):
    """Requests from this client come from `address`, as a server sees a connection's peer."""
    client.environ_base["REMOTE_ADDR"] = address
    return client


def events(**filters):
    """Audit rows, oldest first, read fresh from the database."""
    db.session.rollback()
    return db.session.execute(db.select(AuditEvent).filter_by(**filters).order_by(AuditEvent.id)).scalars().all()


def activity(client, headers, **query):
    response = client.get("/api/v1/activity", headers=headers, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def assert_recent(event):
    assert utcnow() - timedelta(minutes=1) < event.created_at <= utcnow()


@pytest.fixture
def api(client):
    return from_address(client, OWNER_ADDRESS)


@pytest.fixture
def people(local_app):
    """Accounts on one backend, for tests where storage plays no part."""
    return Accounts()


def test_sign_ins_and_failures_are_recorded_without_the_password(local_app, people):
    user = people.create("ingrid")
    client = from_address(local_app.test_client(), OWNER_ADDRESS)
    assert people.login(client, "ingrid", "hunter2-wrong").status_code == 401
    assert people.login(client, "nobody-here").status_code == 401
    assert people.login(client, "Ingrid").status_code == 302
    api_sign_in = client.post("/api/v1/auth/token", json={"username": "ingrid", "password": PASSWORD})
    assert api_sign_in.status_code == 201

    failed_known, failed_unknown, signed_in, by_api = events()
    assert (failed_known.action, failed_known.owner_id, failed_known.actor_id, failed_known.actor_name) == \
        ("sign_in_failed", user.id, None, "ingrid")
    assert (failed_unknown.action, failed_unknown.owner_id, failed_unknown.actor_name) == \
        ("sign_in_failed", None, "nobody-here")
    for event in (signed_in, by_api):
        assert (event.action, event.owner_id, event.actor_id, event.actor_name) == ("sign_in", user.id, user.id, "ingrid")
    for event in (failed_known, failed_unknown, signed_in, by_api):
        assert event.address == OWNER_ADDRESS and event.file_id is None
        assert_recent(event)

    mine = activity(client, people.headers(user))["items"]
    assert [item["action"] for item in mine] == ["sign_in", "sign_in", "sign_in_failed"]
    assert mine[2]["actor"] is None and mine[2]["actor_name"] == "ingrid" and mine[2]["who"] == "ingrid"
    assert mine[0]["actor"] == "ingrid" and mine[0]["address"] == OWNER_ADDRESS


def test_a_sign_in_name_that_is_not_plain_text_is_not_stored_as_typed(local_app, people):
    client = local_app.test_client()
    people.login(client, "evil\u202euser")
    assert events()[0].actor_name is None


def test_uploads_downloads_and_deletes_are_recorded(app, api, accounts, owner, headers):
    file = upload(api, headers, "minutes.txt", DATA, "text/plain")
    assert api.get(f"/api/v1/files/{file['id']}/download", headers=headers).status_code == 302
    browser, _ = accounts.signed_in_client(owner)
    from_address(browser, "192.0.2.44")
    assert browser.get(f"/files/{file['id']}/download").status_code == 302
    delete_for_good(api, headers, file["id"])

    recorded = [event for event in events() if event.action != "sign_in"]
    assert [event.action for event in recorded] == ["upload", "download", "download", "trash", "purge"]
    for event in recorded:
        assert (event.owner_id, event.actor_id, event.actor_name, event.file_name) == \
            (owner.id, owner.id, owner.username, "minutes.txt")
        assert_recent(event)
    assert [event.address for event in recorded] == [OWNER_ADDRESS, OWNER_ADDRESS, "192.0.2.44", OWNER_ADDRESS,
                                                     OWNER_ADDRESS]
    # The file is gone, so no event points at its id any more (SQLite may give that id to a new file).
    assert all(event.file_id is None for event in recorded)

    items = activity(api, headers, action="upload")["items"]
    assert len(items) == 1 and items[0]["file_name"] == "minutes.txt" and items[0]["file_id"] is None


def test_an_upload_is_recorded_under_the_name_it_was_given(app, api, headers):
    first = upload(api, headers, "minutes.txt", DATA, "text/plain")
    second = upload(api, headers, "minutes.txt", DATA, "text/plain")
    assert second["name"] == "minutes (1).txt"
    items = activity(api, headers, action="upload")["items"]
    assert [(item["file_id"], item["file_name"]) for item in items] == [
        (second["id"], "minutes (1).txt"), (first["id"], "minutes.txt")]
    assert items[0]["label"] == audit.ACTIONS["upload"]


def test_a_download_of_an_everyone_visible_file_is_its_owners_activity(app, api, accounts, owner, headers):
    file = upload(api, headers, "open.txt", DATA, "text/plain")
    db.session.execute(db.update(File).where(File.public_id == file["id"]).values(visible_to_everyone=True))
    db.session.commit()
    reader = accounts.create()
    reader_headers = accounts.headers(reader)
    assert api.get(f"/api/v1/files/{file['id']}/download", headers=reader_headers).status_code == 302

    [download] = events(action="download")
    assert (download.owner_id, download.actor_id) == (owner.id, reader.id)
    assert activity(api, headers, action="download")["items"][0]["who"] == reader.username
    assert activity(api, reader_headers)["items"] == []


def test_links_are_recorded_and_their_downloads_show_in_the_owners_activity(app, api, owner, headers):
    file = upload(api, headers, "minutes.txt", DATA, "text/plain")
    link = share(api, headers, file)
    visitor = from_address(app.test_client(), VISITOR_ADDRESS)
    _, download = visit_and_download(app, path(link), visitor)
    assert download.status_code == 302
    assert send(visitor, "GET", download.headers["Location"])[2] == DATA
    assert api.delete(f"/api/v1/shares/{link['id']}", headers=headers).status_code == 204
    assert api.delete(f"/api/v1/shares/{link['id']}", headers=headers).status_code == 204

    created, downloaded, revoked = [event for event in events() if event.action.startswith("share")]
    assert [created.action, downloaded.action, revoked.action] == ["share_created", "share_download", "share_revoked"]
    assert len({created.share_id, downloaded.share_id, revoked.share_id}) == 1
    assert (downloaded.owner_id, downloaded.actor_id, downloaded.address) == (owner.id, None, VISITOR_ADDRESS)
    assert (created.actor_id, revoked.actor_id) == (owner.id, owner.id)
    assert all(event.file_name == "minutes.txt" and event.file_id is not None for event in (created, downloaded, revoked))
    assert_recent(downloaded)

    items = activity(api, headers)["items"]
    assert [item["action"] for item in items[:3]] == ["share_revoked", "share_download", "share_created"]
    through_link = items[1]
    assert through_link["who"] == "someone with the link" and through_link["actor"] is None
    assert through_link["share_id"] == link["id"] and through_link["address"] == VISITOR_ADDRESS


def test_the_page_shows_time_who_what_file_and_address(app, api, accounts, owner, headers):
    file = upload(api, headers, "agenda & notes.txt", DATA, "text/plain")
    link = share(api, headers, file)
    visit_and_download(app, path(link), from_address(app.test_client(), VISITOR_ADDRESS))
    browser, _ = accounts.signed_in_client(owner)

    html = browser.get("/activity").get_data(as_text=True)
    assert '<a href="/activity">Activity</a>' in html
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">', html)
    assert "someone with the link" in html and "downloaded through a link" in html and VISITOR_ADDRESS in html
    assert "agenda &amp; notes.txt" in html
    assert f'href="/activity?file={file["id"]}"' in html
    assert "<caption" in html and '<th scope="col">From</th>' in html
    assert "Everyone's activity</a>" not in html

    files_page = browser.get("/files").get_data(as_text=True)
    assert f'href="/activity?file={file["id"]}" aria-label="Activity: agenda &amp; notes.txt"' in files_page
    only_this = browser.get(f"/activity?file={file['id']}&action=share_download").get_data(as_text=True)
    assert only_this.count("<tr>") == 2  # the heading row and the one download


def test_owners_see_only_their_own_activity(app, accounts):
    alice, bob = accounts.create("alice"), accounts.create("bob")
    alice_headers, bob_headers = accounts.headers(alice), accounts.headers(bob)
    client = app.test_client()
    upload(client, alice_headers, "alice-only.txt", DATA)
    bob_file = upload(client, bob_headers, "bob-secret.txt", DATA)
    client.get(f"/api/v1/files/{bob_file['id']}/download", headers=bob_headers)

    alice_items = activity(client, alice_headers)["items"]
    assert alice_items and all(item["owner"] == "alice" for item in alice_items)
    assert "bob" not in str(alice_items)
    browser, _ = accounts.signed_in_client(alice)
    html = browser.get("/activity").get_data(as_text=True)
    assert "alice-only.txt" in html and "bob-secret.txt" not in html and ">bob<" not in html

    assert client.get("/api/v1/activity", headers=alice_headers,
                      query_string={"file": bob_file["id"]}).status_code == 404
    assert browser.get(f"/activity?file={bob_file['id']}").status_code == 404
    refused = client.get("/api/v1/activity?scope=all", headers=alice_headers)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    assert browser.get("/activity?scope=all").status_code == 403


def test_admins_see_everything_with_scope_all(app, accounts):
    admin = accounts.create("root", is_admin=True)
    carol = accounts.create("carol")
    client = app.test_client()
    carol_file = upload(client, accounts.headers(carol), "carol.txt", DATA)
    accounts.login(client, "ghost-user")
    admin_headers = accounts.headers(admin)

    assert activity(client, admin_headers)["items"] == []
    everything = activity(client, admin_headers, scope="all")["items"]
    assert {(item["action"], item["owner"]) for item in everything} == {("upload", "carol"), ("sign_in_failed", None)}
    by_file = activity(client, admin_headers, scope="all", file=carol_file["id"])["items"]
    assert [item["file_id"] for item in by_file] == [carol_file["id"]]

    browser, _ = accounts.signed_in_client(admin)
    html = browser.get("/activity?scope=all").get_data(as_text=True)
    assert "carol.txt" in html and "ghost-user" in html and '<th scope="col">Whose</th>' in html
    assert 'aria-current="page">Everyone\'s activity</a>' in html


def test_paging_walks_every_event_once_newest_first(local_app, people):
    user = people.create()
    for number in range(7):
        audit.record("download", owner_id=user.id, actor=user, detail=f"event {number}")
    db.session.commit()
    client, headers = local_app.test_client(), people.headers(user)

    seen = [item["detail"] for item in walk_pages(client, headers, "/api/v1/activity", limit=3)]
    assert seen == [f"event {number}" for number in reversed(range(7))]

    browser, _ = people.signed_in_client(user)
    local_app.config["FILES_PER_PAGE"] = 3
    first = browser.get("/activity?action=download").get_data(as_text=True)
    older_href = re.search(r'href="([^"]+)" rel="next">Older', first).group(1).replace("&amp;", "&")
    assert "action=download" in older_href
    second = browser.get(older_href).get_data(as_text=True)
    newer_href = re.search(r'href="([^"]+)" rel="prev">← Newer', second).group(1).replace("&amp;", "&")
    assert browser.get(newer_href).get_data(as_text=True).count("event 6") == 1


@pytest.mark.parametrize("query,code", [
    ({"cursor": "not-a-cursor"}, "invalid_cursor"),
    ({"cursor": "eyJpIjoiMSJ9"}, "invalid_cursor"),  # {"i":"1"}
    ({"action": "explode"}, "invalid_action"),
    ({"scope": "theirs"}, "invalid_scope"),
    ({"limit": 0}, "invalid_limit"),
])
def test_bad_queries_are_refused_with_400(local_app, people, query, code):
    user = people.create()
    client = local_app.test_client()
    response = client.get("/api/v1/activity", headers=people.headers(user), query_string=query)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == code
    if "limit" not in query:
        browser, _ = people.signed_in_client(user)
        assert browser.get("/activity", query_string=query).status_code == 400


def test_no_password_or_token_ever_reaches_the_log(app, api, accounts, owner, headers):
    accounts.login(from_address(app.test_client(), VISITOR_ADDRESS), owner.username, "hunter2-secret")
    file = upload(api, headers, "minutes.txt", DATA, "text/plain")
    link = api.post("/api/v1/shares", headers=headers,
                    json={"file_id": file["id"], "password": "s3cret-share-pw"}).get_json()
    share_token = urlsplit(link["url"]).path.rsplit("/", 1)[1]
    new_token = api.post("/api/v1/tokens", headers=headers, json={"name": "backup"}).get_json()["token"]
    api_sign_in = api.post("/api/v1/auth/token", json={"username": owner.username, "password": PASSWORD})
    signed_in_token = api_sign_in.get_json()["token"]
    browser, _ = accounts.signed_in_client(owner)
    session_cookie = browser.get_cookie("session").value

    secrets = ["hunter2-secret", "s3cret-share-pw", PASSWORD, share_token, new_token, signed_in_token,
               headers["Authorization"].split()[1], session_cookie]
    rows = db.session.execute(db.select(AuditEvent.__table__)).all()
    assert {row.action for row in rows} >= {"sign_in_failed", "sign_in", "upload", "share_created"}
    for row in rows:
        for column, value in row._mapping.items():
            for secret in secrets:
                assert secret not in str(value), (column, row.action)


def test_old_events_are_pruned_by_sweep_when_retention_is_set(make_app):
    app = make_app(STORAGE_BACKEND="local", AUDIT_RETENTION_DAYS=30)
    with app.app_context():
        user = Accounts().create()
        for age in (40, 31, 29, 0):
            event = audit.record("download", owner_id=user.id, actor=user, detail=f"{age} days old")
            event.created_at = utcnow() - timedelta(days=age)
        db.session.commit()
        result = app.test_cli_runner().invoke(args=["locker", "sweep"])
        assert result.exit_code == 0, result.output
        assert "Activity events older than AUDIT_RETENTION_DAYS removed: 2" in result.output
        assert [event.detail for event in events()] == ["29 days old", "0 days old"]
        assert audit.prune(0, now=utcnow() + timedelta(days=999)) == 0
        assert len(events()) == 2


def test_the_cli_lists_activity(local_live: Live, run, dirs) -> None:
    username, token = local_live.user()
    path = dirs["work"] / "plan.txt"
    path.write_bytes(b"the plan")
    file = json.loads(run("upload", str(path), "--json", url=local_live.url, token=token).stdout)[0]
    assert run("download", file["id"], "-o", str(dirs["work"] / "copy.txt"), url=local_live.url,
               token=token).exit_code == 0

    listed = run("activity", "--json", url=local_live.url, token=token)
    assert listed.exit_code == 0, listed.output
    events_seen = json.loads(listed.stdout)
    assert [(event["action"], event["actor"], event["file_id"]) for event in events_seen] == [
        ("download", username, file["id"]), ("upload", username, file["id"])]
    assert set(events_seen[0]) == EVENT_KEYS and events_seen[0]["address"] == "127.0.0.1"

    lines = run("activity", "--file", "plan.txt", "--action", "upload", url=local_live.url, token=token).stdout
    [line] = lines.splitlines()
    assert line.split("\t")[1:] == [username, "uploaded", "plan.txt", "127.0.0.1"]
    assert len(json.loads(run("activity", "-n", "1", "--json", url=local_live.url, token=token).stdout)) == 1
    assert one_error_line(run("activity", "--all", url=local_live.url, token=token)) == \
        "locker: Only admins can see everyone's activity."
