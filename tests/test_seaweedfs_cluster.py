"""Locker on a SeaweedFS cluster that keeps every object on two volume servers (seed 002's redundant storage).

One cluster (master with -defaultReplication=001, two volume servers, filer with
the S3 gateway) is started for the module; tests stop a volume server and start
it again, and leave both running.
"""
import os

import boto3
import pytest

from scripts.seaweedfs import SeaweedCluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    store = SeaweedCluster(tmp_path_factory.mktemp("cluster"), access_key=os.environ["AWS_ACCESS_KEY_ID"],
                           secret_key=os.environ["AWS_SECRET_ACCESS_KEY"])
    store.start()
    yield store
    store.stop()


def test_every_object_reads_back_with_either_volume_server_stopped(cluster):
    s3 = boto3.client("s3", endpoint_url=cluster.endpoint, region_name="us-east-1",
                      aws_access_key_id=cluster.access_key, aws_secret_access_key=cluster.secret_key)
    s3.create_bucket(Bucket="smoke")
    objects = {f"object-{n}": os.urandom(50_000) for n in range(3)}
    for key, body in objects.items():
        s3.put_object(Bucket="smoke", Key=key, Body=body)

    for stopped in (0, 1):
        cluster.stop_volume(stopped)
        try:
            assert {key: s3.get_object(Bucket="smoke", Key=key)["Body"].read() for key in objects} == objects
        finally:
            cluster.start_volume(stopped)
