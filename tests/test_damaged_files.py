"""Files whose stored bytes `sweep` finds missing or `verify` finds changed are marked so, everywhere.

They are not offered for download or sharing as if they were fine, their
owners are told in their activity, and the mark goes once the bytes are back.
"""
import hashlib

import pytest

from app.extensions import db
from app.models import AuditEvent, File
from app.services import maintenance
from app.storage import StorageError
from tests.helpers import share, upload, write_directly


def row(public_id):
    db.session.expire_all()
    return db.session.execute(db.select(File).filter_by(public_id=public_id)).scalar_one()


def events(action):
    return db.session.execute(db.select(AuditEvent).filter_by(action=action)).scalars().all()


@pytest.fixture
def file(client, headers):
    return upload(client, headers, "report.pdf", b"%PDF-1.4 the real bytes", "application/pdf")


def remove_bytes(app, public_id):
    app.extensions["locker.storage"].delete(row(public_id).storage_key)


def test_sweep_marks_a_file_whose_bytes_are_gone_and_tells_its_owner_once(app, client, headers, file):
    remove_bytes(app, file["id"])

    assert maintenance.sweep().missing_objects == [file["id"]]
    maintenance.sweep()

    assert row(file["id"]).problem == "missing"
    assert client.get(f"/api/v1/files/{file['id']}", headers=headers).get_json()["problem"] == "missing"
    assert len(events("bytes_missing")) == 1
    activity = client.get("/api/v1/activity", headers=headers).get_json()["items"]
    assert activity[0]["action"] == "bytes_missing" and activity[0]["file_name"] == "report.pdf"
    assert activity[0]["who"] == "Locker"


def test_a_missing_file_is_neither_downloaded_nor_shared(app, client, headers, signed_in, file):
    link = share(client, headers, file)
    remove_bytes(app, file["id"])
    maintenance.sweep()

    refused = client.get(f"/api/v1/files/{file['id']}/download", headers=headers)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "bytes_missing"
    assert "no longer holds" in refused.get_json()["error"]["message"]
    new_link = client.post("/api/v1/shares", headers=headers, json={"file_id": file["id"]})
    assert new_link.status_code == 409
    visit = app.test_client().get(link["url"].split("localhost", 1)[-1])
    assert visit.status_code == 410 and "no longer holds it intact" in visit.get_data(as_text=True)


def test_the_pages_show_the_mark_and_offer_no_download(app, accounts, file_of_signed_in):
    browser, file = file_of_signed_in
    remove_bytes(app, file["id"])
    maintenance.sweep()

    listing = browser.get("/files").get_data(as_text=True)
    assert "bytes missing" in listing
    assert f'/files/{file["id"]}/download' not in listing and f'/files/{file["id"]}/share' not in listing
    page = browser.get(f"/files/{file['id']}/view").get_data(as_text=True)
    assert "Storage no longer holds this file" in page and "can&#39;t be downloaded or shared" in page
    assert f'/files/{file["id"]}/download' not in page
    assert browser.get(f"/files/{file['id']}/download").status_code == 409


@pytest.fixture
def file_of_signed_in(signed_in):
    browser, _, api_headers = signed_in
    return browser, upload(browser, api_headers, "report.pdf", b"%PDF-1.4 the real bytes", "application/pdf")


def test_bytes_put_back_clear_the_mark(app, client, headers, file):
    key = row(file["id"]).storage_key
    original = b"%PDF-1.4 the real bytes"
    remove_bytes(app, file["id"])
    maintenance.sweep()
    write_directly(app, key, original)

    maintenance.sweep()

    assert row(file["id"]).problem is None
    assert client.get(f"/api/v1/files/{file['id']}/download", headers=headers).status_code == 302


def test_verify_marks_changed_bytes_and_clears_the_mark_when_they_match_again(app, client, headers):
    original = b"the bytes as uploaded"
    file = upload(client, headers, "notes.txt", original, sha256=hashlib.sha256(original).hexdigest())
    key = row(file["id"]).storage_key
    write_directly(app, key, b"the bytes as tampered")
    runner = app.test_cli_runner()

    result = runner.invoke(args=["locker", "verify", "--all"])

    assert result.exit_code == 1 and f"mismatch  {file['id']}" in result.output
    assert row(file["id"]).problem == "changed" and len(events("bytes_changed")) == 1
    refused = client.get(f"/api/v1/files/{file['id']}/download", headers=headers)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "bytes_changed"

    write_directly(app, key, original)
    assert runner.invoke(args=["locker", "verify", "--all"]).exit_code == 0
    assert row(file["id"]).problem is None


def test_verify_while_storage_is_down_marks_nothing(app, client, headers, file, monkeypatch):
    storage = app.extensions["locker.storage"].patient()

    def down(*args, **kwargs):
        raise StorageError("connection refused")

    monkeypatch.setattr(storage, "open_read", down)
    monkeypatch.setattr(storage, "stat", down)
    result = app.test_cli_runner().invoke(args=["locker", "verify", "--all"])

    assert result.exit_code == 1 and f"unreadable {file['id']}" in result.output
    assert row(file["id"]).problem is None
