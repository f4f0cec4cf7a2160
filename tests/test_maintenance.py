"""`flask locker sweep` and `flask locker verify`: cleanup that never touches what is ready."""
import random
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import File, FileStatus, User, utcnow
from app.services import maintenance
from tests.conftest import MULTIPART_SETTINGS, PART_SIZE
from tests.helpers import (at_once, download, send, send_parts, sha256, start_multipart, start_upload, upload,
                           upload_multipart, write_directly)

DATA = random.Random(5).randbytes(2 * PART_SIZE + 100)


@pytest.fixture
def app_settings():
    return MULTIPART_SETTINGS


def age(public_id, hours):
    db.session.execute(db.update(File).where(File.public_id == public_id)
                       .values(created_at=utcnow() - timedelta(hours=hours)))
    db.session.commit()


def row(public_id):
    return db.session.execute(db.select(File).filter_by(public_id=public_id)).scalar_one_or_none()


def used(user_id):
    db.session.expire_all()
    return db.session.get(User, user_id).used_bytes


def test_sweep_cancels_expired_uploads_and_nothing_else(app, client, headers, owner):
    storage = app.extensions["locker.storage"]
    ready = upload(client, headers, "keep.txt", b"ready bytes")
    old_single = start_upload(client, headers, "old.txt", b"abc").get_json()
    old_multi = start_multipart(client, headers, "old.bin", DATA)
    send_parts(client, headers, old_multi, DATA, [1])
    fresh_multi = start_multipart(client, headers, "fresh.bin", DATA)
    send_parts(client, headers, fresh_multi, DATA, [1])
    old_key, old_upload_id = row(old_multi["id"]).storage_key, row(old_multi["id"]).upload_id
    age(old_single["id"], 25)
    age(old_multi["id"], 25)
    assert used(owner.id) == len(b"ready bytes") + 3 + 2 * len(DATA)

    report = maintenance.sweep()

    assert sorted(report.expired_uploads) == sorted([old_single["id"], old_multi["id"]])
    assert row(old_single["id"]) is None and row(old_multi["id"]) is None
    assert storage.list_parts(old_key, old_upload_id) is None
    assert used(owner.id) == len(b"ready bytes") + len(DATA)
    # The fresh upload and the ready file are untouched.
    assert [p["number"] for p in client.get(f"/api/v1/uploads/{fresh_multi['id']}/parts",
                                            headers=headers).get_json()["parts"]] == [1]
    assert download(client, headers, ready["id"])[2] == b"ready bytes"
    assert report.orphan_objects == [] and report.missing_objects == []
    # Running it again finds nothing more to do.
    assert maintenance.sweep().expired_uploads == []


def test_sweep_reports_orphans_and_deletes_them_only_after_the_grace_period(app, client, headers, owner):
    storage = app.extensions["locker.storage"]
    ready = upload(client, headers, "keep.txt", b"ready")
    orphan_key = f"u/{owner.id}/{'a' * 32}"
    write_directly(app, orphan_key, b"nobody knows me")
    orphan_upload = storage.create_multipart(f"u/{owner.id}/{'b' * 32}", "application/octet-stream")

    # Real stores report when the upload started; moto says 2010-11-10 for every one, so there
    # it is past the grace already.
    initiated = {item.upload_id: item.initiated for item in storage.iter_multipart_uploads("u/")}
    young_upload_removed = [orphan_upload] if initiated[orphan_upload] < utcnow() - timedelta(days=365) else []

    report = maintenance.sweep(delete_orphans=True)  # all younger than ORPHAN_GRACE
    assert report.orphan_objects == [orphan_key] and report.orphan_uploads == [orphan_upload]
    assert report.deleted_orphans == young_upload_removed and storage.stat(orphan_key) is not None

    report = maintenance.sweep(delete_orphans=False, now=utcnow() + timedelta(hours=2))
    assert report.deleted_orphans == [] and storage.stat(orphan_key) is not None

    report = maintenance.sweep(delete_orphans=True, now=utcnow() + timedelta(hours=2))
    assert sorted(report.deleted_orphans + young_upload_removed) == sorted([orphan_key, orphan_upload])
    assert storage.stat(orphan_key) is None
    assert storage.list_parts(f"u/{owner.id}/{'b' * 32}", orphan_upload) is None
    assert download(app.test_client(), headers, ready["id"])[2] == b"ready"


def test_sweep_reports_files_whose_bytes_are_gone(app, client, headers):
    file = upload(client, headers, "vanished.txt", b"x")
    app.extensions["locker.storage"].delete(row(file["id"]).storage_key)
    assert maintenance.sweep().missing_objects == [file["id"]]
    assert row(file["id"]).status == FileStatus.READY  # reported, not changed


def test_concurrent_sweeps_cancel_each_upload_once(app, client, headers, owner):
    stale = [start_upload(client, headers, f"old{n}.txt", b"abc").get_json()["id"] for n in range(6)]
    for public_id in stale:
        age(public_id, 30)
    errors = []

    def run(number, start):
        with app.test_request_context():
            try:
                start.wait()
                return maintenance.sweep()
            except Exception as error:  # must surface in the assertion, not vanish in a thread
                errors.append(repr(error))
            finally:
                db.session.remove()

    reports = at_once(2, run)
    assert errors == []
    cancelled = [public_id for report in reports for public_id in report.expired_uploads]
    assert sorted(cancelled) == sorted(stale)
    assert used(owner.id) == 0


def test_sweep_command_prints_what_it_found(app, client, headers):
    old = start_upload(client, headers, "old.txt", b"abc").get_json()
    age(old["id"], 48)
    result = app.test_cli_runner().invoke(args=["locker", "sweep"])
    assert result.exit_code == 0 and "Expired uploads cancelled: 1" in result.output
    assert "Files whose bytes are missing: 0" in result.output


def test_verify_confirms_good_files_and_reports_changed_bytes(app, client, headers):
    good = upload_multipart(client, headers, "good.bin", DATA, sha256=sha256(DATA))
    bad = upload_declaring_sha256(client, headers, "bad.txt", b"original")
    write_directly_over(app, row(bad["id"]).storage_key, b"tampered")
    runner = app.test_cli_runner()

    result = runner.invoke(args=["locker", "verify", good["id"]])
    assert result.exit_code == 0 and result.output.startswith("ok")
    assert row(good["id"]).sha256_verified is True

    result = runner.invoke(args=["locker", "verify", "--all"])
    assert result.exit_code == 1
    assert f"mismatch  {bad['id']}" in result.output and "Checked 2; 1 with problems." in result.output
    assert row(bad["id"]).status == FileStatus.READY


def upload_declaring_sha256(client, headers, name, data):
    started = start_upload(client, headers, name, data, sha256=sha256(data)).get_json()
    send(client, started["method"], started["url"], started["headers"], data)
    return client.post(f"/api/v1/uploads/{started['id']}/complete", headers=headers).get_json()


def test_verify_records_a_digest_for_files_that_had_none(app, client, headers):
    file = upload(client, headers, "plain.txt", b"no digest declared")
    db.session.execute(db.update(File).where(File.public_id == file["id"]).values(sha256=None, sha256_verified=False))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["locker", "verify", file["id"]])
    assert result.exit_code == 0 and result.output.startswith("recorded")
    assert (row(file["id"]).sha256, row(file["id"]).sha256_verified) == (sha256(b"no digest declared"), True)


def write_directly_over(app, key, data):
    storage = app.extensions["locker.storage"]
    storage.delete(key)
    write_directly(app, key, data)


def test_verify_needs_a_choice(app):
    result = app.test_cli_runner().invoke(args=["locker", "verify"])
    assert result.exit_code != 0 and "--all" in result.output
