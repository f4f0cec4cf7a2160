"""A real S3 store for the tests: one SeaweedFS for the whole run, on free ports, in its own folder.

Its gateway checks signatures, expiry and checksums the way AWS does. It signs
with the same keys conftest gives moto, so S3Storage needs no other credentials.
A test module imports `seaweedfs` (and overrides conftest's `backend` with
`on_seaweedfs`) to run on it.
"""
import os
import uuid

import boto3
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
    return {"STORAGE_BACKEND": "s3", "S3_BUCKET": new_bucket_name(), "S3_ENDPOINT_URL": store.endpoint,
            "SETUP_STORAGE": True, "PUBLIC_URL": "http://localhost", **extra}


def new_bucket_name():
    """A valid S3 bucket name of its own (SeaweedFS, like AWS, wants 3-63 lowercase characters)."""
    return f"locker-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def seaweedfs_bucket(seaweedfs):
    """A new, empty bucket on the session's SeaweedFS, made with plain boto3 (no CORS rules); gives its name."""
    name = new_bucket_name()
    boto3.client("s3", endpoint_url=seaweedfs.endpoint, region_name="us-east-1",
                 aws_access_key_id=seaweedfs.access_key,
                 aws_secret_access_key=seaweedfs.secret_key).create_bucket(Bucket=name)
    return name
