"""Deleting accounts: every object and row goes, in batches, resumably; others keep all they have."""
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from flask import render_template
from sqlalchemy.engine import make_url

from app.errors import LockerError
from app.extensions import db
from app.models import (ApiToken, AuditEvent, File, FileRequest, FileStatus, Folder, LoginSession, RecoveryCode,
                        Share, User, UserIdentity, utcnow)
from app.services import audit, deletion, folders, maintenance
from app.storage import StorageError
from tests.conftest import MULTIPART_SETTINGS, csrf_from
from tests.helpers import at_once, path, send_parts, share, start_multipart, upload, visit_and_download, write_directly

ROOT = Path(__file__).resolve().parent.parent
MANY = 1000


def make_files(app, user, count, status=FileStatus.READY, size=7):
    """`count` files of `user` straight into storage and the database (as uploads would leave them, fast)."""
    root = folders.root_folder(user.id)
    rows = []
    for number in range(count):
        key = f"u/{user.id}/{uuid.uuid4().hex}"
        write_directly(app, key, b"x" * size)
        name = f"{status}-{number}-{uuid.uuid4().hex[:6]}.txt"
        rows.append(dict(public_id=uuid.uuid4().hex, owner_id=user.id, name=name, search_name=name, size=size,
                         content_type="text/plain", storage_key=key, status=status, folder_id=root.id,
                         created_at=utcnow(), delete_attempts=0,
                         trashed_at=utcnow() if status == FileStatus.TRASHED else None))
    db.session.execute(db.insert(File), rows)
    db.session.execute(db.update(User).where(User.id == user.id).values(used_bytes=User.used_bytes + count * size))
    db.session.commit()


def stored_keys(app, prefix):
    return [item.key for item in app.extensions["locker.storage"].iter_objects(prefix)]


def stored_uploads(app, prefix):
    return [item.upload_id for item in app.extensions["locker.storage"].iter_multipart_uploads(prefix)]


def rows_of(user_id):
    """How many rows of each kind still name the account."""
    counts = {model.__name__: db.session.execute(db.select(db.func.count()).select_from(model).filter(
        model.owner_id == user_id)).scalar_one() for model in (File, Folder, Share, FileRequest)}
    counts.update({model.__name__: db.session.execute(db.select(db.func.count()).select_from(model).filter(
        model.user_id == user_id)).scalar_one() for model in (LoginSession, ApiToken, RecoveryCode, UserIdentity)})
    counts["User"] = db.session.execute(db.select(db.func.count()).select_from(User).filter(
        User.id == user_id)).scalar_one()
    return {name: count for name, count in counts.items() if count}


def used(user_id):
    db.session.expire_all()
    return db.session.get(User, user_id).used_bytes


@pytest.fixture
def app_settings():
    return {**MULTIPART_SETTINGS, "DELETION_BATCH_SIZE": 300}


def furnish(app, accounts, user):
    """A bit of everything an account can have, made the ordinary ways, plus many files; returns the API headers."""
    client, headers = app.test_client(), accounts.headers(user)
    mine = upload(client, headers, "mine.txt", b"my own bytes")
    share(client, headers, mine)
    assert client.post("/api/v1/folders", headers=headers, json={"name": "Reports"}).status_code == 201
    assert client.post("/api/v1/requests", headers=headers, json={"title": "Send me"}).status_code == 201
    data = os.urandom(2 * MULTIPART_SETTINGS["MULTIPART_PART_SIZE"] + 10)
    started = start_multipart(client, headers, "unfinished.bin", data)
    send_parts(client, headers, started, data, [1])
    trashed = upload(client, headers, "old.txt", b"old bytes")
    assert client.delete(f"/api/v1/files/{trashed['id']}", headers=headers).status_code == 204
    db.session.add(RecoveryCode(user_id=user.id, code_hash="0" * 64))
    db.session.add(UserIdentity(user_id=user.id, provider="test", subject=uuid.uuid4().hex))
    db.session.commit()
    return headers


def test_deleting_a_user_with_a_thousand_files_removes_every_object_and_row(app, accounts):
    admin = accounts.create(is_admin=True)
    doomed = accounts.create()
    other = accounts.create()
    other_client, other_headers = app.test_client(), accounts.headers(other)
    kept = upload(other_client, other_headers, "kept.txt", b"somebody else's")
    kept_link = share(other_client, other_headers, kept)
    other_used = used(other.id)
    furnish(app, accounts, doomed)
    make_files(app, doomed, MANY)
    make_files(app, doomed, 20, status=FileStatus.TRASHED)
    prefix = f"u/{doomed.id}/"
    assert len(stored_keys(app, prefix)) == MANY + 20 + 2 and len(stored_uploads(app, prefix)) == 1
    doomed_id, name = doomed.id, doomed.username

    outcome = deletion.delete_account(doomed, admin)

    assert outcome.finished and outcome.username == name
    assert stored_keys(app, prefix) == [] and stored_uploads(app, prefix) == []
    assert rows_of(doomed_id) == {}
    assert db.session.execute(db.select(db.func.count()).select_from(AuditEvent).filter(
        AuditEvent.owner_id == doomed_id)).scalar_one() == 0
    report = maintenance.sweep()
    assert report.orphan_objects == [] and report.orphan_uploads == [] and report.missing_objects == []
    assert report.finished_deletions == 0
    # Nobody else lost anything: their space, their file, their link.
    assert used(other.id) == other_used
    page, download = visit_and_download(app, path(kept_link))
    assert page.status_code == 200 and download.status_code in (200, 302)
    # The admin's activity keeps who deleted whom.
    events = audit.list_events(admin, action="account_deleted").items
    assert [(event.who, event.file_name) for event in events] == [(admin.username, name)]
    assert f"{MANY + 20 + 2 + 1:,} files" in events[0].detail


def test_a_storage_outage_mid_deletion_leaves_what_the_next_sweep_finishes(app, accounts, monkeypatch):
    admin = accounts.create(is_admin=True)
    doomed = accounts.create()
    headers = furnish(app, accounts, doomed)
    make_files(app, doomed, 700)
    storage = app.extensions["locker.storage"]
    real_delete, calls = storage.delete, []

    def failing_delete(key):
        calls.append(key)
        if len(calls) > 350:
            raise StorageError("storage is down")
        real_delete(key)

    monkeypatch.setattr(storage, "delete", failing_delete)
    doomed_id, prefix = doomed.id, f"u/{doomed.id}/"

    assert deletion.delete_account(doomed, admin).finished is False

    db.session.expire_all()
    left = db.session.get(User, doomed_id)
    assert left is not None and left.deleting_at is not None and not left.is_active
    assert 0 < len(stored_keys(app, prefix)) < 700
    # Its space counts exactly the files not yet claimed: every claimed batch gave its bytes back.
    assert used(doomed_id) == db.session.execute(db.select(db.func.coalesce(db.func.sum(File.size), 0)).filter(
        File.owner_id == doomed_id, File.status != FileStatus.DELETING)).scalar_one()
    # The account is unusable meanwhile: its token and password no longer work.
    client = app.test_client()
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    refused = accounts.login(client, left.username)
    assert refused.status_code == 403 and "This account is being deleted." in refused.get_data(as_text=True)
    # Only one event records the deletion, however many runs it takes.
    monkeypatch.setattr(storage, "delete", real_delete)
    report = maintenance.sweep()
    assert report.finished_deletions == 1 and report.unfinished_deletions == 0
    assert stored_keys(app, prefix) == [] and stored_uploads(app, prefix) == [] and rows_of(doomed_id) == {}
    assert report.orphan_objects == [] and report.orphan_uploads == []
    assert db.session.execute(db.select(db.func.count()).select_from(AuditEvent).filter(
        AuditEvent.action == "account_deleted")).scalar_one() == 1


def subprocess_env(app, **settings):
    """The environment a `flask locker` command needs to reach this test's database and storage."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("connect_args", {}).get("options")
    if options:  # the PostgreSQL scratch schema's search_path
        url = url.update_query_dict({"options": options})
    return {**os.environ, "LOCKER_ENV": "development", "DATABASE_URL": url.render_as_string(hide_password=False),
            "STORAGE_BACKEND": "local", "STORAGE_DIR": app.config["STORAGE_DIR"], "SECRET_KEY": "testing",
            "S3_BUCKET": "", "REDIS_URL": "", "PUBLIC_URL": "", **settings}


def test_a_deletion_killed_half_way_is_finished_by_the_next_run(local_app, accounts):
    app = local_app
    doomed = accounts.create()
    make_files(app, doomed, MANY)
    doomed_id, name = doomed.id, doomed.username
    folder = Path(app.config["STORAGE_DIR"]) / "u" / str(doomed_id)
    db.session.commit()
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "locker", "delete-user", name, "--yes"]
    process = subprocess.Popen(command, cwd=ROOT, env=subprocess_env(app, DELETION_BATCH_SIZE="10"),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        # Killed as soon as the first batch's bytes are gone: well before the last of 100 batches.
        deadline = time.monotonic() + 60
        while sum(1 for _ in folder.iterdir()) == MANY and time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read().decode()
            time.sleep(0.002)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    left = sum(1 for _ in folder.iterdir())
    db.session.expire_all()
    assert 0 < left < MANY, left
    assert db.session.get(User, doomed_id).deleting_at is not None

    assert deletion.finish_deletions() == (1, 0)

    assert sum(1 for _ in folder.iterdir()) == 0 and rows_of(doomed_id) == {}
    report = maintenance.sweep()
    assert report.orphan_objects == [] and report.finished_deletions == 0


def admin_page_post(client, user_id, typed):
    page = client.get(f"/admin/users/{user_id}/delete")
    return client.post(f"/admin/users/{user_id}/delete",
                       data={"csrf_token": csrf_from(page.get_data(as_text=True)), "confirm": typed})


def test_the_admin_page_says_what_goes_and_deletes_once_the_username_is_typed(local_app, accounts):
    client, admin = accounts.signed_in_client(accounts.create(is_admin=True))
    doomed = accounts.create()
    make_files(local_app, doomed, 3, size=1000)
    doomed_id, name = doomed.id, doomed.username

    with local_app.test_request_context():
        danger = render_template("admin/_user_danger.html", user=doomed)
    assert f'href="/admin/users/{doomed_id}/delete"' in danger and f"Delete {name}…" in danger
    page = client.get(f"/admin/users/{doomed_id}/delete").get_data(as_text=True)
    assert f"Delete the account {name}?" in page and "3 files (2.9 KiB)" in page
    assert 'aria-label="Admin area"' in page

    mistyped = admin_page_post(client, doomed_id, "someone")
    assert mistyped.status_code == 400 and f"Type the username, {name}, to confirm." in mistyped.get_data(
        as_text=True)
    assert db.session.get(User, doomed_id).deleting_at is None

    done = admin_page_post(client, doomed_id, name)

    assert done.status_code == 302
    assert done.headers["Location"].endswith("/admin/users")
    followed = client.get(done.headers["Location"]).get_data(as_text=True)
    assert f"Deleted {name} with 3 files" in followed
    assert "deleted the account" in client.get("/activity").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, doomed_id) is None
    assert stored_keys(local_app, f"u/{doomed_id}/") == []


def test_the_admin_page_refuses_your_own_account_strangers_and_missing_users(local_app, accounts):
    client, admin = accounts.signed_in_client(accounts.create(is_admin=True))
    own = client.get(f"/admin/users/{admin.id}/delete").get_data(as_text=True)
    assert "use your Account page" in own and 'name="confirm"' not in own
    assert admin_page_post(client, admin.id, admin.username).status_code == 403
    assert db.session.get(User, admin.id).deleting_at is None
    assert client.get("/admin/users/99999999/delete").status_code == 404
    stranger_client, stranger = accounts.signed_in_client()
    assert stranger_client.get(f"/admin/users/{admin.id}/delete").status_code == 403
    token = csrf_from(stranger_client.get("/account").get_data(as_text=True))
    refused = stranger_client.post(f"/admin/users/{admin.id}/delete",
                                   data={"csrf_token": token, "confirm": admin.username}, follow_redirects=True)
    assert "Only administrators can do that." in refused.get_data(as_text=True)
    assert db.session.get(User, admin.id).deleting_at is None


def test_the_admin_api_deletes_others_and_refuses_the_rest(local_app, accounts):
    admin, doomed, stranger = accounts.create(is_admin=True), accounts.create(), accounts.create()
    client, headers = local_app.test_client(), accounts.headers(admin)
    make_files(local_app, doomed, 5)
    doomed_id, name = doomed.id, doomed.username

    refused = client.delete(f"/api/v1/admin/users/{doomed_id}", headers=accounts.headers(stranger))
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "not_admin"
    own = client.delete(f"/api/v1/admin/users/{admin.id}", headers=headers)
    assert own.status_code == 403 and own.get_json()["error"]["code"] == "own_account"
    assert client.delete("/api/v1/admin/users/99999999", headers=headers).get_json()["error"]["code"] == \
        "no_such_user"

    done = client.delete(f"/api/v1/admin/users/{doomed_id}", headers=headers)

    assert done.status_code == 202 and done.get_json() == {"username": name, "finished": True}
    assert rows_of(doomed_id) == {} and stored_keys(local_app, f"u/{doomed_id}/") == []
    assert [event.file_name for event in audit.list_events(admin, action="account_deleted").items] == [name]


def test_delete_user_on_the_command_line(local_app, accounts):
    doomed, admin = accounts.create(), accounts.create(is_admin=True)
    make_files(local_app, doomed, 4)
    doomed_id, name = doomed.id, doomed.username
    runner = local_app.test_cli_runner()

    asked = runner.invoke(args=["locker", "delete-user", name], input="n\n")
    assert asked.exit_code == 1 and "Delete " + name + " with 4 files" in asked.output
    assert db.session.get(User, doomed_id).deleting_at is None
    missing = runner.invoke(args=["locker", "delete-user", "nobody-here", "--yes"])
    assert missing.exit_code == 1 and "No account named nobody-here." in missing.output
    last = runner.invoke(args=["locker", "delete-user", admin.username, "--yes"])
    assert last.exit_code == 1 and "only administrator" in last.output

    done = runner.invoke(args=["locker", "delete-user", name.upper(), "--yes"])

    assert done.exit_code == 0, done.output
    assert f"Deleted {name} with 4 files" in done.output
    assert rows_of(doomed_id) == {} and stored_keys(local_app, f"u/{doomed_id}/") == []
    event = db.session.execute(db.select(AuditEvent).filter_by(action="account_deleted")).scalar_one()
    assert event.actor_name == deletion.OPERATOR and event.owner_id is None


def test_sweep_reports_the_deletions_it_finished(local_app, accounts):
    doomed = accounts.create()
    make_files(local_app, doomed, 3)
    doomed_id = doomed.id
    deletion.begin(doomed, None)
    result = local_app.test_cli_runner().invoke(args=["locker", "sweep"])
    assert result.exit_code == 0 and "Account deletions finished: 1" in result.output
    assert rows_of(doomed_id) == {} and stored_keys(local_app, f"u/{doomed_id}/") == []


def test_two_admins_deleting_each_other_at_once_leave_one(local_app, accounts):
    first, second = accounts.create(is_admin=True), accounts.create(is_admin=True)
    ids = [first.id, second.id]

    def delete_the_other(number, start):
        with local_app.app_context():
            me, them = db.session.get(User, ids[number]), db.session.get(User, ids[1 - number])
            start.wait()
            try:
                return deletion.delete_by_admin(me, them).finished
            except LockerError as error:
                return error.code

    results = at_once(2, delete_the_other)

    assert sorted(results, key=str) == sorted([True, "last_admin"], key=str)
    db.session.expire_all()
    assert db.session.execute(db.select(db.func.count()).select_from(User)).scalar_one() == 1
