"""A real store that goes down mid-upload and comes back: the client resumes and the bytes match.

It has a SeaweedFS of its own, stopped and started again (same data, same
ports), so the run's shared store is never disturbed.
"""
import hashlib
import os
import time

import pytest
import requests
from requests.adapters import HTTPAdapter

from locker_client import Locker, TransferError
from scripts.seaweedfs import SeaweedFS
from tests.live_support import start_live

PART = 5 * 1024 * 1024
DATA = os.urandom(3 * PART + 4321)  # four parts
TIMEOUTS = {"S3_CONNECT_TIMEOUT": 1, "S3_READ_TIMEOUT": 2, "S3_MAX_ATTEMPTS": 2, "STORAGE_RETRY_AFTER": 1}


@pytest.fixture
def own_store(tmp_path):
    store = SeaweedFS(tmp_path / "seaweedfs", access_key=os.environ["AWS_ACCESS_KEY_ID"],
                      secret_key=os.environ["AWS_SECRET_ACCESS_KEY"])
    store.start()
    yield store
    store.stop()


class StopsTheStore(HTTPAdapter):
    """The client's transport: the moment it sends part 3, the store goes down."""

    def __init__(self, store):
        super().__init__(pool_maxsize=16)
        self.store = store
        self.stopped = False

    def send(self, request, **kwargs):
        if request.method == "PUT" and "partNumber=3" in request.url and not self.stopped:
            self.stopped = True
            self.store.stop()
        return super().send(request, **kwargs)


def test_the_store_down_mid_upload_then_back_the_client_resumes_and_the_bytes_match(
        request, make_app, own_store, tmp_path):
    live = start_live(request, make_app, "local", STORAGE_BACKEND="s3", S3_BUCKET="locker-outage",
                      S3_ENDPOINT_URL=own_store.endpoint, SETUP_STORAGE=True,
                      MULTIPART_THRESHOLD=PART, MULTIPART_PART_SIZE=PART, **TIMEOUTS)
    _, token = live.user()
    path = tmp_path / "backup.tar"
    path.write_bytes(DATA)
    state = tmp_path / "state"
    transport = StopsTheStore(own_store)
    session = requests.Session()
    session.mount("http://", transport)

    with Locker(live.url, token=token, state_dir=state, session=session, retries=1, retry_backoff=0,
                workers=1) as locker:
        with pytest.raises(TransferError):
            locker.upload(path)
    assert transport.stopped
    # While it is down, Locker says so quickly and keeps answering what needs no storage.
    health = requests.get(f"{live.url}/readyz", timeout=10)
    assert health.status_code == 503 and health.json()["storage"] == "down"
    assert requests.get(f"{live.url}/login", timeout=10).status_code == 200

    own_store.start()
    deadline = time.monotonic() + 30
    while requests.get(f"{live.url}/readyz", timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "Locker did not notice the store came back"
        time.sleep(0.5)
    with Locker(live.url, token=token, state_dir=state) as locker:
        file = locker.upload(path)
        assert file.size == len(DATA) and file.sha256 == hashlib.sha256(DATA).hexdigest()
        assert locker.download(file.id, tmp_path / "back.tar").read_bytes() == DATA
