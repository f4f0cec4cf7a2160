"""A real S3 store for the tests: one SeaweedFS for the whole run, on free ports, in its own folder.

Its gateway checks signatures, expiry and checksums the way AWS does. It signs
with the same keys conftest gives moto, so S3Storage needs no other credentials.
A test module imports `seaweedfs` (and overrides conftest's `backend` with
`on_seaweedfs`) to run on it.
"""
import os
import uuid

import pytest

from scripts.seaweedfs import SeaweedFS


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory):
    store = SeaweedFS(tmp_path_factory.mktemp("seaweedfs") / "data", access_key=os.environ["AWS_ACCESS_KEY_ID"],
                      secret_key=os.environ["AWS_SECRET_ACCESS_KEY"], max_volumes=5000)
    store.start()
    yield store
    store.stop()


def seaweedfs_settings(store, **extra):
    """Locker settings for a fresh bucket on `store`, set up as `flask locker setup-storage` does."""
    return {"STORAGE_BACKEND": "s3", "S3_BUCKET": f"locker-{uuid.uuid4().hex[:12]}", "S3_ENDPOINT_URL": store.endpoint,
            "SETUP_STORAGE": True, "PUBLIC_URL": "http://localhost", **extra}
