"""Deleting accounts: every object and row goes, in batches, resumably; others keep all they have."""
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from app.extensions import db
from app.models import (ApiToken, AuditEvent, File, FileRequest, FileStatus, Folder, LoginSession, RecoveryCode,
                        Share, User, UserIdentity, utcnow)
from app.services import audit, deletion, folders, maintenance
from app.storage import StorageError
from tests.conftest import MULTIPART_SETTINGS, PASSWORD
from tests.helpers import path, send_parts, share, start_multipart, upload, visit_and_download, write_directly

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
    # The account is unusable meanwhile: its token and password no longer work.
    client = app.test_client()
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert accounts.login(client, left.username).status_code == 401
    # Only one event records the deletion, however many runs it takes.
    monkeypatch.setattr(storage, "delete", real_delete)
    report = maintenance.sweep()
    assert report.finished_deletions == 1 and report.unfinished_deletions == 0
    assert stored_keys(app, prefix) == [] and stored_uploads(app, prefix) == [] and rows_of(doomed_id) == {}
    assert report.orphan_objects == [] and report.orphan_uploads == []
    assert db.session.execute(db.select(db.func.count()).select_from(AuditEvent).filter(
        AuditEvent.action == "account_deleted")).scalar_one() == 1
