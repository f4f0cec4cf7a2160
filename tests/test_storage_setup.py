"""`flask locker setup-storage` and `flask locker check-storage`, on moto and local disk.

The same commands against a real store (SeaweedFS), which enforces what moto
does not, are in test_seaweedfs.py.
"""
import boto3
import pytest

BUCKET = "fresh-bucket"


@pytest.fixture
def s3_app(make_app, s3):
    def build(**settings):
        return make_app(STORAGE_BACKEND="s3", S3_BUCKET=BUCKET, **settings)
    return build


def run(app, *args):
    return app.test_cli_runner().invoke(args=["locker", *args])


def cors_rules():
    return boto3.client("s3", region_name="us-east-1").get_bucket_cors(Bucket=BUCKET)["CORSRules"]


def test_setup_creates_the_bucket_with_cors_for_the_public_origin_and_is_safe_to_repeat(s3_app):
    app = s3_app(PUBLIC_URL="https://locker.example.org/some/path")

    first = run(app, "setup-storage")
    second = run(app, "setup-storage")

    assert first.exit_code == 0 and "Bucket fresh-bucket: created" in first.output, first.output
    assert second.exit_code == 0 and "Bucket fresh-bucket: exists" in second.output
    [rule] = cors_rules()
    assert rule["AllowedOrigins"] == ["https://locker.example.org"]
    assert rule["ExposeHeaders"] == ["ETag"] and {"PUT", "GET"} <= set(rule["AllowedMethods"])


def test_setup_gives_an_existing_bucket_its_cors_rules_and_keeps_other_rules(s3_app):
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [
        {"ID": "website", "AllowedOrigins": ["https://www.example.org"], "AllowedMethods": ["GET"]}]})
    app = s3_app(PUBLIC_URL="https://files.example.org")

    result = run(app, "setup-storage", "--origin", "https://files.example.org", "--origin", "http://10.0.0.5:5000")

    assert result.exit_code == 0, result.output
    rules = {rule.get("ID"): rule for rule in cors_rules()}
    assert rules["website"]["AllowedOrigins"] == ["https://www.example.org"]
    assert rules["locker"]["AllowedOrigins"] == ["https://files.example.org", "http://10.0.0.5:5000"]


def test_setup_refuses_when_it_cannot_know_the_browsers_origin(s3_app):
    result = run(s3_app(PUBLIC_URL=None), "setup-storage")

    assert result.exit_code == 1 and "set PUBLIC_URL" in result.output
    assert "fresh-bucket" not in [b["Name"] for b in boto3.client("s3", region_name="us-east-1").list_buckets()["Buckets"]]


def test_check_says_what_a_store_lacks(s3_app):
    app = s3_app(PUBLIC_URL="https://files.example.org")

    missing = run(app, "check-storage")
    assert missing.exit_code == 1
    assert "ok    reachable" in missing.output and "FAIL  bucket" in missing.output
    assert "flask locker setup-storage" in missing.output

    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
    no_cors = run(app, "check-storage")
    assert "FAIL  cors" in no_cors.output

    assert run(app, "setup-storage").exit_code == 0
    checked = run(app, "check-storage")
    assert "ok    cors" in checked.output and "ok    multipart" in checked.output, checked.output
    # moto checks no checksum: the check says so rather than passing it.
    assert "FAIL  checksums" in checked.output and checked.exit_code == 1
    # The probe objects are gone again.
    assert "Contents" not in boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket=BUCKET)


def test_check_passes_on_local_storage(local_app):
    result = run(local_app, "check-storage")
    assert result.exit_code == 0 and "ok    folder" in result.output
