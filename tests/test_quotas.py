"""Quotas and type rules: refused before any byte is sent, never overshot under concurrency."""
from collections import Counter

import pytest

from app.extensions import db
from app.models import File, FileStatus, User
from app.services import uploads
from app.services.quotas import QuotaExceeded
from tests.helpers import admission_race, upload, write_directly

KIB = 1024


@pytest.fixture
def app_settings():
    return {"DEFAULT_QUOTA": 10 * KIB}


def me(client, headers):
    return client.get("/api/v1/me", headers=headers).get_json()


def test_usage_and_remaining_space_are_reported(client, headers):
    assert me(client, headers)["quota_bytes"] == 10 * KIB and me(client, headers)["remaining_bytes"] == 10 * KIB
    upload(client, headers, "a.bin", b"x" * 3 * KIB)
    assert (me(client, headers)["used_bytes"], me(client, headers)["remaining_bytes"]) == (3 * KIB, 7 * KIB)


def test_uploads_over_the_quota_are_refused_before_sending(client, headers):
    upload(client, headers, "a.bin", b"x" * 8 * KIB)
    response = client.post("/api/v1/uploads", headers=headers, json={"name": "b.bin", "size": 3 * KIB})
    error = response.get_json()["error"]
    assert response.status_code == 413 and error["code"] == "quota_exceeded"
    assert "2.0 KiB left" in error["message"]
    assert db.session.execute(db.select(File).filter_by(name="b.bin")).first() is None


def test_pending_uploads_hold_their_space_and_cancelling_returns_it(client, headers):
    started = client.post("/api/v1/uploads", headers=headers, json={"name": "a.bin", "size": 6 * KIB}).get_json()
    assert me(client, headers)["used_bytes"] == 6 * KIB
    assert client.post("/api/v1/uploads", headers=headers, json={"name": "b.bin", "size": 5 * KIB}).status_code == 413
    client.delete(f"/api/v1/uploads/{started['id']}", headers=headers)
    assert me(client, headers)["used_bytes"] == 0


def test_the_trash_keeps_a_files_space_until_it_is_deleted_for_good(client, headers):
    file = upload(client, headers, "a.bin", b"x" * 9 * KIB)
    client.delete(f"/api/v1/files/{file['id']}", headers=headers)
    assert me(client, headers)["used_bytes"] == 9 * KIB, "a file in the trash still counts"
    refused = client.post("/api/v1/uploads", headers=headers, json={"name": "b.bin", "size": 9 * KIB})
    assert refused.status_code == 413 and refused.get_json()["error"]["code"] == "quota_exceeded"
    assert client.get("/api/v1/trash", headers=headers).get_json()["bytes"] == 9 * KIB
    assert client.post("/api/v1/trash/purge", headers=headers, json={"files": [file["id"]]}).status_code == 204
    assert me(client, headers)["used_bytes"] == 0
    upload(client, headers, "b.bin", b"x" * 9 * KIB)


def test_a_discarded_upload_frees_its_space(client, headers, app):
    started = client.post("/api/v1/uploads", headers=headers, json={"name": "a.bin", "size": 5 * KIB}).get_json()
    key = db.session.execute(db.select(File.storage_key).filter_by(public_id=started["id"])).scalar_one()
    write_directly(app, key, b"x" * 6 * KIB)
    response = client.post(f"/api/v1/uploads/{started['id']}/complete", headers=headers)
    assert response.get_json()["error"]["code"] == "size_mismatch"
    assert me(client, headers)["used_bytes"] == 0


def test_a_users_own_quota_beats_the_default(client, headers, owner):
    db.session.get(User, owner.id).quota_bytes = 20 * KIB
    db.session.commit()
    assert client.post("/api/v1/uploads", headers=headers, json={"name": "a.bin", "size": 15 * KIB}).status_code == 201


def test_no_default_quota_means_no_limit(make_app, backend, accounts):
    app = make_app(**backend, DEFAULT_QUOTA=0)
    with app.app_context():
        headers = accounts.headers(accounts.create())
        body = app.test_client().get("/api/v1/me", headers=headers).get_json()
        assert body["quota_bytes"] is None and body["remaining_bytes"] is None


def test_twenty_concurrent_uploads_never_exceed_the_quota(app, owner):
    """Real threads, each with its own connection, all starting at once: only what fits is admitted."""
    size, attempts = 2 * KIB, 20  # five fit in 10 KiB
    user_id = owner.id  # read here: the threads must not touch this thread's session
    outcomes = admission_race(app, attempts, lambda: db.session.get(User, user_id),
                              lambda user, number: uploads.start_upload(user, f"race-{number}.bin", size),
                              QuotaExceeded)
    assert Counter(outcomes) == {"ok": 5, "refused": 15}
    db.session.expire_all()
    assert db.session.get(User, user_id).used_bytes == 5 * size
    assert len(db.session.execute(db.select(File).filter_by(status=FileStatus.PENDING)).all()) == 5


@pytest.mark.parametrize("setting,value,name,content_type,allowed", [
    ("BLOCKED_TYPES", [".exe", "text/html"], "setup.EXE", "application/octet-stream", False),
    ("BLOCKED_TYPES", [".exe", "text/html"], "page.htm", "text/html", False),
    ("BLOCKED_TYPES", [".exe", "text/html"], "notes.txt", "text/plain", True),
    ("ALLOWED_TYPES", ["image/*", ".pdf"], "photo.jpg", "image/jpeg", True),
    ("ALLOWED_TYPES", ["image/*", ".pdf"], "paper.PDF", "application/octet-stream", True),
    ("ALLOWED_TYPES", ["image/*", ".pdf"], "song.mp3", "audio/mpeg", False),
])
def test_type_rules_are_applied_before_upload(make_app, backend, accounts, setting, value, name, content_type, allowed):
    app = make_app(**backend, **{setting: value})
    with app.app_context():
        headers = accounts.headers(accounts.create())
        response = app.test_client().post("/api/v1/uploads", headers=headers,
                                          json={"name": name, "size": 10, "content_type": content_type})
        if allowed:
            assert response.status_code == 201
        else:
            assert response.status_code == 400 and response.get_json()["error"]["code"] == "type_not_allowed"
            assert db.session.execute(db.select(File)).first() is None
