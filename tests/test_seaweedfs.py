"""Locker on a real S3 store (SeaweedFS), which checks signatures, expiry, checksums and part sizes as AWS does.

The storage contract, sweep, verify and damaged-file tests run here again (the
same functions the moto and local runs use, collected with `backend` giving
SeaweedFS). Those with 64 KiB parts stay on moto and local disk: SeaweedFS, like
AWS, refuses parts under 5 MiB, so multipart uploads here use 5 MiB parts.
"""
import hashlib
import os
import time

import boto3
import pytest

from app.models import File
from app.extensions import db
from tests.helpers import complete_parts, download, send, send_parts, start_multipart
from tests.seaweed_support import seaweedfs_settings
from tests.test_damaged_files import *  # noqa: F401,F403
from tests.test_maintenance import *  # noqa: F401,F403
from tests.test_storage_contract import *  # noqa: F401,F403

# These build multipart uploads from 64 KiB parts; their 5 MiB counterparts are below.
del test_verify_confirms_good_files_and_reports_changed_bytes  # noqa: F821
del test_completing_a_multipart_upload_reports_the_object_it_made  # noqa: F821
del test_sweep_cancels_expired_uploads_and_nothing_else  # noqa: F821

MIB = 1024 * 1024
PART = 5 * MIB
BIG = os.urandom(2 * PART + 12345)  # three parts, the last one short
SETTINGS = {"MULTIPART_THRESHOLD": PART, "MULTIPART_PART_SIZE": PART}


@pytest.fixture
def backend(seaweedfs):
    return seaweedfs_settings(seaweedfs)


@pytest.fixture
def app_settings():
    return SETTINGS


def sha(data):
    return hashlib.sha256(data).hexdigest()


def test_a_multipart_upload_with_part_checksums_completes_and_comes_back_intact(client, headers):
    """SeaweedFS lists no part checksums and wants them all at completion: Locker sends the ones it signed."""
    upload = start_multipart(client, headers, "video.mkv", BIG, part_checksums=True, sha256=sha(BIG))
    etags = send_parts(client, headers, upload, BIG, [1, 2, 3], checksums=True)

    completed = complete_parts(client, headers, upload, etags)

    assert completed.status_code == 200, completed.get_json()
    assert completed.get_json()["size"] == len(BIG)
    assert download(client, headers, completed.get_json()["id"])[2] == BIG


def test_an_interrupted_multipart_upload_resumes_and_completes(client, headers):
    upload = start_multipart(client, headers, "backup.tar", BIG, part_checksums=True)
    first = send_parts(client, headers, upload, BIG, [1], checksums=True)
    # The client stopped here; later it asks what storage holds and sends the rest.
    listed = client.get(f"/api/v1/uploads/{upload['id']}/parts", headers=headers).get_json()["parts"]
    assert [part["number"] for part in listed] == [1]
    rest = send_parts(client, headers, upload, BIG, [2, 3], checksums=True)

    completed = complete_parts(client, headers, upload, {**first, **rest})

    assert completed.status_code == 200, completed.get_json()
    assert download(client, headers, completed.get_json()["id"])[2] == BIG


def test_a_part_whose_bytes_differ_from_its_signed_checksum_is_refused(client, headers):
    upload = start_multipart(client, headers, "x.bin", BIG, part_checksums=True)
    signed = client.post(f"/api/v1/uploads/{upload['id']}/parts", headers=headers,
                         json={"numbers": [1], "checksums": {"1": sha(BIG[:PART])}}).get_json()["parts"][0]

    status, _, body = send(client, "PUT", signed["url"], signed["headers"], os.urandom(PART))

    assert status == 400 and b"BadDigest" in body


def test_verify_reads_a_multipart_file_back_and_catches_changed_bytes(app, client, headers):
    upload = start_multipart(client, headers, "good.bin", BIG, sha256=sha(BIG), part_checksums=True)
    good = complete_parts(client, headers, upload, send_parts(client, headers, upload, BIG, [1, 2, 3],
                                                             checksums=True)).get_json()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["locker", "verify", good["id"]]).output.startswith("ok")

    key = db.session.execute(db.select(File.storage_key).filter_by(public_id=good["id"])).scalar_one()
    app.extensions["locker.storage"].client.put_object(Bucket=app.config["S3_BUCKET"], Key=key,
                                                       Body=os.urandom(len(BIG)))
    result = runner.invoke(args=["locker", "verify", good["id"]])
    assert result.exit_code == 1 and result.output.startswith("mismatch")


def test_a_range_request_on_a_download_url_answers_206_with_those_bytes(client, headers):
    upload = start_multipart(client, headers, "film.mp4", BIG, part_checksums=True)
    file = complete_parts(client, headers, upload, send_parts(client, headers, upload, BIG, [1, 2, 3],
                                                             checksums=True)).get_json()
    url = client.get(f"/api/v1/files/{file['id']}/download", headers=headers).headers["Location"]

    status, response_headers, body = send(client, "GET", url, {"Range": f"bytes={PART - 10}-{PART + 9}"})

    assert status == 206 and body == BIG[PART - 10:PART + 10]
    assert response_headers["Content-Range"] == f"bytes {PART - 10}-{PART + 9}/{len(BIG)}"


def test_check_storage_finds_everything_locker_relies_on(app):
    result = app.test_cli_runner().invoke(args=["locker", "check-storage", "--origin", "http://localhost"])
    assert result.exit_code == 0, result.output
    for name in ("reachable", "credentials", "bucket", "cors", "checksums", "if-none-match", "multipart"):
        assert f"ok    {name}" in result.output


def test_check_storage_says_what_is_wrong(make_app, seaweedfs, monkeypatch):
    missing = make_app(**{**seaweedfs_settings(seaweedfs), "SETUP_STORAGE": False})
    result = missing.test_cli_runner().invoke(args=["locker", "check-storage", "--origin", "http://localhost"])
    assert result.exit_code == 1 and "FAIL  bucket" in result.output

    bucket_without_cors = seaweedfs_settings(seaweedfs, SETUP_STORAGE=False)
    app = make_app(**bucket_without_cors)
    app.extensions["locker.storage"].client.create_bucket(Bucket=bucket_without_cors["S3_BUCKET"])
    # SeaweedFS answers any preflight on a bucket without rules; AWS doesn't: the rules are what count.
    result = app.test_cli_runner().invoke(args=["locker", "check-storage", "--origin", "http://localhost"])
    assert "FAIL  cors" in result.output

    # S3Storage's clients come from boto3's default session.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", boto3.Session(aws_access_key_id="testing",
                                                                aws_secret_access_key="not-the-secret"))
    wrong = make_app(**{**bucket_without_cors, "SETUP_STORAGE": False})
    result = wrong.test_cli_runner().invoke(args=["locker", "check-storage", "--origin", "http://localhost"])
    assert result.exit_code == 1 and "FAIL  credentials" in result.output


def test_a_paused_store_answers_503_quickly_and_locker_recovers_when_it_resumes(app, client, headers, seaweedfs):
    """SIGSTOP, as a hung store: requests needing storage fail fast, others don't wait; SIGCONT: back by itself."""
    upload = start_multipart(client, headers, "big.bin", BIG, part_checksums=True)
    parts_url = f"/api/v1/uploads/{upload['id']}/parts"
    config = app.config
    worst = config["S3_MAX_ATTEMPTS"] * (config["S3_CONNECT_TIMEOUT"] + config["S3_READ_TIMEOUT"]) + 3
    seaweedfs.pause()
    try:
        started = time.monotonic()
        stalled = client.get(parts_url, headers=headers)
        assert stalled.status_code == 503 and time.monotonic() - started < worst
        started = time.monotonic()
        assert client.get(parts_url, headers=headers).status_code == 503
        assert time.monotonic() - started < 1, "refused at once while the store is known down"
        assert client.get("/api/v1/files", headers=headers).status_code == 200
    finally:
        seaweedfs.resume()
    deadline = time.monotonic() + config["STORAGE_RETRY_AFTER"] + worst
    while client.get(parts_url, headers=headers).status_code != 200:
        assert time.monotonic() < deadline, "Locker did not recover by itself"
        time.sleep(0.3)
