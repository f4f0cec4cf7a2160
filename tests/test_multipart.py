"""Large files: multipart uploads on both backends, resuming, aborting, integrity."""
import random

import pytest

from app.extensions import db
from app.models import File, UploadPart, User
from tests.conftest import MULTIPART_SETTINGS, PART_SIZE
from tests.helpers import (complete_parts, download, part_bytes, send, send_parts, sha256, start_multipart,
                           upload, upload_multipart)

DATA = random.Random(3).randbytes(3 * PART_SIZE + 1234)  # four parts, the last one short


@pytest.fixture
def app_settings():
    return MULTIPART_SETTINGS


def rows():
    return db.session.execute(db.select(File.name, File.status)).all()


def test_large_files_go_up_in_parts_and_come_back_intact(client, headers, app):
    upload_info = start_multipart(client, headers, "video.mkv", DATA, sha256=sha256(DATA))
    assert upload_info["multipart"] == {"part_size": PART_SIZE, "part_count": 4, "part_checksums": False}
    assert "url" not in upload_info
    etags = send_parts(client, headers, upload_info, DATA, [1, 2, 3, 4])
    file = complete_parts(client, headers, upload_info, etags).get_json()
    assert file["size"] == len(DATA) and file["sha256"] == sha256(DATA)
    # Local storage hashes the joined file itself; S3 only has the client's word for the whole file.
    assert file["sha256_verified"] is (app.config["STORAGE_BACKEND"] == "local")
    status, _, body = download(client, headers, file["id"])
    assert status == 200 and body == DATA


def test_small_files_still_use_one_put(client, headers):
    response = client.post("/api/v1/uploads", headers=headers, json={"name": "a.txt", "size": 2 * PART_SIZE})
    body = response.get_json()
    assert body["method"] == "PUT" and "multipart" not in body


def test_part_urls_are_signed_for_the_exact_part_size(client, headers):
    upload_info = start_multipart(client, headers, "big.bin", DATA)
    parts = client.post(f"/api/v1/uploads/{upload_info['id']}/parts", headers=headers,
                        json={"numbers": [4, 1, 1]}).get_json()["parts"]
    assert [(p["number"], p["size"]) for p in parts] == [(1, PART_SIZE), (4, 1234)]


def test_part_checksums_are_required_and_checked(client, headers, app):
    upload_info = start_multipart(client, headers, "checked.bin", DATA, part_checksums=True)
    refused = client.post(f"/api/v1/uploads/{upload_info['id']}/parts", headers=headers, json={"numbers": [1]})
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "part_checksum_required"
    etags = send_parts(client, headers, upload_info, DATA, [1, 2, 3, 4], checksums=True)
    assert complete_parts(client, headers, upload_info, etags).status_code == 200
    if app.config["STORAGE_BACKEND"] == "local":
        # Local storage refuses a part whose bytes differ from its signed checksum (so does S3; moto doesn't).
        other = start_multipart(client, headers, "tampered.bin", DATA, part_checksums=True)
        signed = client.post(f"/api/v1/uploads/{other['id']}/parts", headers=headers,
                             json={"numbers": [1], "checksums": {"1": sha256(part_bytes(DATA, PART_SIZE, 1))}})
        part = signed.get_json()["parts"][0]
        status, _, body = send(client, "PUT", part["url"], part["headers"], b"x" * PART_SIZE)
        assert status == 400 and b"checksum_mismatch" in body


def test_an_interrupted_upload_resumes_with_the_parts_already_stored(client, headers):
    upload_info = start_multipart(client, headers, "resume.iso", DATA)
    first = send_parts(client, headers, upload_info, DATA, [1, 3])
    listed = client.get(f"/api/v1/uploads/{upload_info['id']}/parts", headers=headers).get_json()
    assert [(p["number"], p["size"], p["etag"]) for p in listed["parts"]] == [
        (1, PART_SIZE, first[1]), (3, PART_SIZE, first[3])]
    assert listed["part_count"] == 4
    pending = client.get("/api/v1/uploads", headers=headers).get_json()["items"]
    assert [(u["id"], len(u["parts"])) for u in pending] == [(upload_info["id"], 2)]
    rest = send_parts(client, headers, upload_info, DATA, [2, 4])
    file = complete_parts(client, headers, upload_info, {**first, **rest}).get_json()
    assert download(client, headers, file["id"])[2] == DATA
    assert client.get("/api/v1/uploads", headers=headers).get_json()["items"] == []


def test_completing_with_a_part_missing_or_changed_is_refused(client, headers):
    upload_info = start_multipart(client, headers, "gappy.bin", DATA)
    etags = send_parts(client, headers, upload_info, DATA, [1, 2, 4])
    missing = complete_parts(client, headers, upload_info, {**etags, 3: "0" * 32})
    assert missing.status_code == 400 and missing.get_json()["error"]["code"] == "part_missing"
    etags.update(send_parts(client, headers, upload_info, DATA, [3]))
    changed = complete_parts(client, headers, upload_info, {**etags, 2: "f" * 32})
    assert changed.status_code == 400 and changed.get_json()["error"]["code"] == "part_mismatch"
    incomplete_list = client.post(f"/api/v1/uploads/{upload_info['id']}/complete", headers=headers,
                                  json={"parts": [{"number": 1, "etag": etags[1]}]})
    assert incomplete_list.status_code == 400 and incomplete_list.get_json()["error"]["code"] == "invalid_parts"
    assert client.get("/api/v1/files", headers=headers).get_json()["items"] == []
    # Nothing was lost: with the right list it completes.
    assert complete_parts(client, headers, upload_info, etags).status_code == 200


def test_a_part_of_the_wrong_size_never_becomes_part_of_a_file(client, headers):
    upload_info = start_multipart(client, headers, "liar.bin", DATA)
    etags = send_parts(client, headers, upload_info, DATA, [1, 2, 3])
    signed = client.post(f"/api/v1/uploads/{upload_info['id']}/parts", headers=headers,
                         json={"numbers": [4]}).get_json()["parts"][0]
    status, response_headers, _ = send(client, "PUT", signed["url"], signed["headers"], b"short")
    if status == 200:  # moto stores any size; Locker must still refuse the whole
        etags[4] = response_headers["ETag"].strip('"')
        refused = complete_parts(client, headers, upload_info, etags)
        assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "part_size_mismatch"
    else:
        assert status == 400
    assert client.get("/api/v1/files", headers=headers).get_json()["items"] == []


def test_abort_drops_the_parts_and_gives_the_space_back(client, headers, app):
    upload_info = start_multipart(client, headers, "cancel.bin", DATA)
    send_parts(client, headers, upload_info, DATA, [1, 2])
    file = db.session.execute(db.select(File).filter_by(public_id=upload_info["id"])).scalar_one()
    key, upload_id = file.storage_key, file.upload_id
    assert client.get("/api/v1/me", headers=headers).get_json()["used_bytes"] == len(DATA)
    assert client.delete(f"/api/v1/uploads/{upload_info['id']}", headers=headers).status_code == 204
    assert rows() == []
    assert client.get("/api/v1/me", headers=headers).get_json()["used_bytes"] == 0
    assert app.extensions["locker.storage"].list_parts(key, upload_id) is None
    assert client.get(f"/api/v1/uploads/{upload_info['id']}/parts", headers=headers).status_code == 404
    assert client.delete(f"/api/v1/uploads/{upload_info['id']}", headers=headers).status_code == 404


def test_a_completed_upload_cannot_be_aborted(client, headers):
    file = upload_multipart(client, headers, "done.bin", DATA)
    response = client.delete(f"/api/v1/uploads/{file['id']}", headers=headers)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "already_completed"


def test_a_wrong_whole_file_checksum_is_caught(client, headers, app):
    upload_info = start_multipart(client, headers, "wrong.bin", DATA, sha256="0" * 64)
    etags = send_parts(client, headers, upload_info, DATA, [1, 2, 3, 4])
    response = complete_parts(client, headers, upload_info, etags)
    if app.config["STORAGE_BACKEND"] == "local":
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "checksum_mismatch"
        assert rows() == []
    else:
        # S3 cannot hash a multipart object whole: the claim is kept, unverified, for `flask locker verify`.
        assert response.status_code == 200 and response.get_json()["sha256_verified"] is False


def test_sha256_can_be_declared_at_completion(client, headers, app):
    upload_info = start_multipart(client, headers, "late.bin", DATA)
    etags = send_parts(client, headers, upload_info, DATA, [1, 2, 3, 4])
    file = complete_parts(client, headers, upload_info, etags, sha256=sha256(DATA)).get_json()
    assert file["sha256"] == sha256(DATA)


@pytest.mark.parametrize("body,code", [
    ({"numbers": [0]}, "invalid_parts"), ({"numbers": [5]}, "invalid_parts"), ({"numbers": "1"}, "invalid_parts"),
    ({"numbers": []}, "invalid_parts"), ({"numbers": [True]}, "invalid_parts"),
    ({"numbers": list(range(1, 1002))}, "invalid_parts"), ({"numbers": [1], "checksums": {"1": "zz"}}, "invalid_sha256"),
])
def test_bad_part_requests_get_clear_errors(client, headers, body, code):
    upload_info = start_multipart(client, headers, "a.bin", DATA)
    response = client.post(f"/api/v1/uploads/{upload_info['id']}/parts", headers=headers, json=body)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == code


def test_parts_of_a_single_put_upload_are_refused(client, headers):
    started = client.post("/api/v1/uploads", headers=headers, json={"name": "a.txt", "size": 10}).get_json()
    response = client.post(f"/api/v1/uploads/{started['id']}/parts", headers=headers, json={"numbers": [1]})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "not_multipart"


def test_another_users_upload_is_404(client, headers, accounts):
    upload_info = start_multipart(client, headers, "mine.bin", DATA)
    intruder = accounts.headers(accounts.create())
    for method, path, body in [("POST", "parts", {"numbers": [1]}), ("GET", "parts", None),
                               ("POST", "complete", {}), ("DELETE", "", None)]:
        url = f"/api/v1/uploads/{upload_info['id']}/{path}".rstrip("/")
        assert client.open(url, method=method, headers=intruder, json=body).status_code == 404, (method, path)
    assert client.get("/api/v1/uploads", headers=intruder).get_json()["items"] == []


def test_part_size_grows_so_ten_thousand_parts_always_suffice(make_app, backend, accounts):
    from app.services.uploads import part_size_for
    app = make_app(**backend, MULTIPART_PART_SIZE=5 * 1024 ** 2)
    with app.app_context():
        assert part_size_for(10 * 1024 ** 3) == 5 * 1024 ** 2
        for size in (50 * 1024 ** 3, 10_000 * 5 * 1024 ** 2 + 1, 123_456_789_012):
            part_size = part_size_for(size)
            assert -(-size // part_size) <= 10_000 and part_size % (1024 ** 2) == 0


def test_default_size_limit_is_fifty_gib(client, headers):
    response = client.post("/api/v1/uploads", headers=headers, json={"name": "huge.img", "size": 50 * 1024 ** 3})
    assert response.status_code == 201 and response.get_json()["multipart"]["part_count"] <= 10_000
    too_big = client.post("/api/v1/uploads", headers=headers, json={"name": "huge.img", "size": 50 * 1024 ** 3 + 1})
    assert too_big.status_code == 413


def test_single_put_upload_can_be_aborted_too(client, headers):
    started = client.post("/api/v1/uploads", headers=headers, json={"name": "a.txt", "size": 3}).get_json()
    send(client, "PUT", started["url"], started["headers"], b"abc")
    assert client.delete(f"/api/v1/uploads/{started['id']}", headers=headers).status_code == 204
    assert rows() == [] and db.session.execute(db.select(User.used_bytes)).scalar_one() == 0
    assert upload(client, headers, "b.txt", b"abc")["name"] == "b.txt"


def test_part_checksums_and_a_declared_whole_file_digest_work_together(client, headers, app):
    """A checksum of part checksums (S3's COMPOSITE) must never pass for the whole file's SHA-256."""
    upload_info = start_multipart(client, headers, "both.bin", DATA, part_checksums=True, sha256=sha256(DATA))
    etags = send_parts(client, headers, upload_info, DATA, [1, 2, 3, 4], checksums=True)
    response = complete_parts(client, headers, upload_info, etags)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["sha256"] == sha256(DATA)
    assert download(client, headers, response.get_json()["id"])[2] == DATA


def test_listed_parts_carry_their_checksums_where_storage_checked_them(client, headers, app):
    upload_info = start_multipart(client, headers, "resume.bin", DATA, part_checksums=True)
    send_parts(client, headers, upload_info, DATA, [1], checksums=True)
    part = client.get(f"/api/v1/uploads/{upload_info['id']}/parts", headers=headers).get_json()["parts"][0]
    if app.config["STORAGE_BACKEND"] == "local":
        assert part["sha256"] == sha256(part_bytes(DATA, PART_SIZE, 1))
    else:
        # S3 reports it; moto keeps none, so the field is null there.
        assert part["sha256"] is None


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_completing_on_s3_asks_storage_nothing_more_than_it_must(client, headers, app):
    # A HEAD after CompleteMultipartUpload would learn nothing new, and some S3 servers (rclone)
    # reread the whole object to answer one: completing a 2 GiB file would wait seconds for it.
    calls = []
    app.extensions["locker.storage"].client.meta.events.register(
        "before-call.s3", lambda model, **_: calls.append(model.name))
    upload_info = start_multipart(client, headers, "counted.bin", DATA, sha256=sha256(DATA))
    etags = send_parts(client, headers, upload_info, DATA, [1, 2, 3, 4])
    calls.clear()
    file = complete_parts(client, headers, upload_info, etags).get_json()
    assert file["size"] == len(DATA) and file["sha256"] == sha256(DATA)
    # Check the parts, join them, read the first bytes for the preview type.
    assert calls == ["ListParts", "CompleteMultipartUpload", "GetObject"]


def test_completion_sends_the_part_checksums_that_were_signed_not_ones_read_back(client, headers, app, monkeypatch):
    """Some stores (SeaweedFS) list no part checksums, yet want every one back at completion."""
    storage = app.extensions["locker.storage"]
    listed = storage.list_parts
    monkeypatch.setattr(storage, "list_parts", lambda key, upload_id: [
        type(part)(part.number, part.size, part.etag) for part in listed(key, upload_id)])
    sent = []
    complete = storage.complete_multipart
    monkeypatch.setattr(storage, "complete_multipart",
                        lambda key, upload_id, parts: sent.extend(parts) or complete(key, upload_id, parts))
    upload_info = start_multipart(client, headers, "checked.bin", DATA, part_checksums=True)
    # Part 1 is signed once with a wrong digest and then again with the right one: the last signing counts.
    wrong = client.post(f"/api/v1/uploads/{upload_info['id']}/parts", headers=headers,
                        json={"numbers": [1], "checksums": {"1": sha256(b"something else")}})
    assert wrong.status_code == 200
    etags = send_parts(client, headers, upload_info, DATA, [1, 2, 3, 4], checksums=True)

    completed = complete_parts(client, headers, upload_info, etags)

    assert completed.status_code == 200, completed.get_json()
    assert [(part.number, part.sha256) for part in sent] == [
        (n, sha256(part_bytes(DATA, PART_SIZE, n))) for n in (1, 2, 3, 4)]
    assert download(client, headers, completed.get_json()["id"])[2] == DATA
    # The digests are kept only while the upload is under way.
    assert db.session.execute(db.select(UploadPart)).first() is None


def test_an_upload_cancelled_forgets_its_part_checksums(client, headers, app):
    upload_info = start_multipart(client, headers, "checked.bin", DATA, part_checksums=True)
    send_parts(client, headers, upload_info, DATA, [1, 2], checksums=True)
    assert client.delete(f"/api/v1/uploads/{upload_info['id']}", headers=headers).status_code == 204
    assert db.session.execute(db.select(UploadPart)).first() is None
