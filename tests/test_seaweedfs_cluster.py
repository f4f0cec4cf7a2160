"""Locker on a SeaweedFS cluster that keeps every object on two volume servers (seed 002's redundant storage).

One cluster (a master with -defaultReplication=001, two volume servers, a filer
with the S3 gateway; scripts/seaweedfs.py) serves the whole module, each test
on a bucket of its own; a test that stops a volume server starts it again.
Locker knows the master (S3_SEAWEEDFS_MASTER_URL), so it can say which copies
are missing and refuse uploads the store would hold for ~30 s and then fail.
"""
import os
import time
from datetime import timedelta

import pytest
import requests

from app.extensions import db
from app.models import File, utcnow
from scripts.seaweedfs import SeaweedCluster, free_ports
from tests.helpers import (complete_parts, download, send, send_parts, start_multipart, start_upload, upload,
                           upload_multipart)
from tests.seaweed_support import seaweedfs_settings

PART = 5 * 1024 * 1024  # the store, like AWS, refuses smaller parts but the last
SMALL = os.urandom(70_000)
BIG = os.urandom(PART + 54_321)  # two parts


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    store = SeaweedCluster(tmp_path_factory.mktemp("cluster"), access_key=os.environ["AWS_ACCESS_KEY_ID"],
                           secret_key=os.environ["AWS_SECRET_ACCESS_KEY"])
    store.start()
    yield store
    store.stop()


@pytest.fixture
def backend(cluster):
    return seaweedfs_settings(cluster, S3_SEAWEEDFS_MASTER_URL=cluster.master_url)


@pytest.fixture
def app_settings():
    return {"MULTIPART_THRESHOLD": PART, "MULTIPART_PART_SIZE": PART}


@pytest.fixture
def one_server_down(cluster):
    """Stops volume server 0 for the test, and has it running again afterwards."""
    cluster.stop_volume(0)
    yield
    cluster.start_volume(0)


def eventually(condition, what, timeout=60):
    """Wait until condition() is true: the master learns of a volume server's return from its heartbeats."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        time.sleep(0.25)


def listed_names(client, headers):
    return [item["name"] for item in client.get("/api/v1/files", headers=headers).get_json()["items"]]


def test_every_file_downloads_with_either_volume_server_stopped_and_health_names_the_missing_copies(
        client, headers, accounts, cluster):
    admin = accounts.headers(accounts.create(is_admin=True))
    small = upload(client, headers, "notes.txt", SMALL)
    big = upload_multipart(client, headers, "video.mkv", BIG)
    assert client.get("/readyz").get_json() == {"status": "ok", "database": "ok", "storage": "ok"}

    for stopped, running in ((0, 1), (1, 0)):
        cluster.stop_volume(stopped)
        try:
            assert download(client, headers, small["id"])[2] == SMALL
            assert download(client, headers, big["id"])[2] == BIG
            # Health reuses the master's answer for a few seconds (REPLICATION_STATE_SECONDS).
            eventually(lambda: client.get("/readyz").get_json()["storage"] == "degraded", "health was not degraded")
            health = client.get("/readyz")
            # Still serving: 200, degraded; what is short of a copy and where the one left is, for admins only.
            assert health.status_code == 200
            assert health.get_json() == {"status": "degraded", "database": "ok", "storage": "degraded"}
            overview = client.get("/api/v1/admin/overview", headers=admin).get_json()
            assert overview["storage"] == "degraded" and "has 1 of 2 copies" in overview["storage_detail"]
            assert cluster.volume_address(running) in overview["storage_detail"]
            assert cluster.volume_address(stopped) not in overview["storage_detail"]
        finally:
            cluster.start_volume(stopped)
        eventually(lambda: client.get("/readyz").get_json()["storage"] == "ok", "health was not ok again")


def test_uploads_while_a_copy_cannot_be_written_get_a_quick_503_and_nothing_half_written_is_listed(
        app, client, headers, cluster, one_server_down):
    started = time.monotonic()
    refused = start_upload(client, headers, "new.txt", SMALL)
    assert refused.status_code == 503 and refused.get_json()["error"]["code"] == "storage_read_only"
    assert time.monotonic() - started < 10, "refused at once, not after the store's ~30 s"
    assert client.post("/api/v1/uploads/batch", headers=headers, json={"items": [
        {"name": "a.txt", "size": 3}, {"name": "b.txt", "size": 4}]}).status_code == 503
    assert client.get("/api/v1/uploads", headers=headers).get_json()["items"] == [], "a refusal makes nothing"
    # Files already stored still download meanwhile (the test above).


def test_uploads_whose_bytes_are_stored_complete_through_the_batch_endpoint_while_a_copy_is_missing(
        client, headers, cluster):
    started = start_upload(client, headers, "stored.txt", SMALL).get_json()
    status, _, _ = send(client, started["method"], started["url"], started["headers"], SMALL)
    assert status == 200
    cluster.stop_volume(0)
    try:
        # The CLI and the client complete this way; completing writes no new object.
        completed = client.post("/api/v1/uploads/complete", headers=headers, json={"items": [{"id": started["id"]}]})
        assert completed.status_code == 200, completed.get_json()
        assert completed.get_json()["items"][0]["file"]["name"] == "stored.txt"
        assert listed_names(client, headers) == ["stored.txt"]
    finally:
        cluster.start_volume(0)


def test_an_upload_caught_by_the_outage_stays_pending_is_never_listed_and_sweep_cleans_it(
        app, client, headers, cluster):
    single = start_upload(client, headers, "letter.txt", SMALL).get_json()
    multi = start_multipart(client, headers, "archive.tar", BIG)
    first = send_parts(client, headers, multi, BIG, [1])
    key, upload_id = db.session.execute(db.select(File.storage_key, File.upload_id)
                                        .filter_by(public_id=multi["id"])).one()
    cluster.stop_volume(0)
    try:
        # The store holds a PUT it cannot copy (~30 s, then 500); this client gives up sooner.
        try:
            status = requests.put(single["url"], headers=single["headers"], data=SMALL, timeout=3).status_code
        except requests.Timeout:
            status = None
        assert status is None or status >= 500
        more = client.post(f"/api/v1/uploads/{multi['id']}/parts", headers=headers, json={"numbers": [2]})
        assert more.status_code == 503 and more.get_json()["error"]["code"] == "storage_read_only"
        # The parts stored so far do not make the file: completing with them is refused.
        assert complete_parts(client, headers, multi, first).status_code == 400
        assert client.post(f"/api/v1/uploads/{single['id']}/complete", headers=headers).status_code == 409
        assert listed_names(client, headers) == []
        pending = {item["id"] for item in client.get("/api/v1/uploads", headers=headers).get_json()["items"]}
        assert pending == {single["id"], multi["id"]}, "both stay pending, to resume or cancel"

        for public_id in pending:
            db.session.execute(db.update(File).where(File.public_id == public_id)
                               .values(created_at=utcnow() - timedelta(seconds=app.config["UPLOAD_TTL"] + 60)))
        db.session.commit()
        swept = app.test_cli_runner().invoke(args=["locker", "sweep"])
        assert swept.exit_code == 0 and "Expired uploads cancelled: 2" in swept.output, swept.output
        assert client.get("/api/v1/uploads", headers=headers).get_json()["items"] == []
        assert app.extensions["locker.storage"].list_parts(key, upload_id) is None, "its parts are gone too"
    finally:
        cluster.start_volume(0)
    assert listed_names(client, headers) == []


def test_after_the_volume_server_is_back_uploads_work_again(client, headers, cluster):
    cluster.stop_volume(1)
    assert start_upload(client, headers, "during.txt", SMALL).status_code == 503
    cluster.start_volume(1)

    eventually(lambda: client.get("/readyz").get_json()["storage"] == "ok", "health was not ok again")
    small = upload(client, headers, "after.txt", SMALL)
    big = upload_multipart(client, headers, "after.bin", BIG)
    assert download(client, headers, small["id"])[2] == SMALL
    assert download(client, headers, big["id"])[2] == BIG
    assert sorted(listed_names(client, headers)) == ["after.bin", "after.txt"]


def test_a_master_that_does_not_answer_makes_health_degraded_and_leaves_uploads_alone(make_app, accounts, cluster):
    silent = f"http://127.0.0.1:{free_ports(['master'])['master']}"
    app = make_app(**seaweedfs_settings(cluster, S3_SEAWEEDFS_MASTER_URL=silent))
    with app.app_context():
        client = app.test_client()
        headers = accounts.headers(accounts.create())
        health = client.get("/readyz")
        assert health.status_code == 200 and health.get_json()["storage"] == "degraded"
        admin = accounts.headers(accounts.create(is_admin=True))
        overview = client.get("/api/v1/admin/overview", headers=admin).get_json()
        assert "master did not answer" in overview["storage_detail"]
        assert upload(client, headers, "fine.txt", SMALL)["size"] == len(SMALL)
