"""The storage contract, checked the same way on every backend.

Each test runs twice through conftest's parametrized `backend` fixture: on
LocalStorage (requests go to the app's /_storage URLs through a test client)
and on S3Storage under moto (requests go to the presigned URLs through
`requests`, which `mock_aws` intercepts). moto checks no signature, so what a
store must *refuse* is tested in test_local_storage.py and test_s3_real.py;
here it is what every backend must *do*.
"""
from urllib.parse import quote, urlsplit

import pytest

from app.storage import ObjectInfo, StorageError, UploadRequest
from app.storage.local import LocalStorage
from tests.helpers import send
from tests.storage_support import UNICODE_NAMES, disposition_parts, new_key, sha256

EXPIRES = 300


class Store:
    """The configured backend plus a way to send requests to the URLs it signs."""

    def __init__(self, app):
        self.storage = app.extensions["locker.storage"]
        self.client = app.test_client()

    def send(self, method, url, headers=None, data=b""):
        return send(self.client, method, url, headers, data)

    def put(self, data, content_type="application/octet-stream", sha256=None, key=None):
        """Upload `data` the way a client does: exactly the signed method, URL and headers."""
        key = key or new_key()
        request = self.storage.presign_upload(key, len(data), content_type, expires=EXPIRES, sha256=sha256)
        status, _, body = self.send(request.method, request.url, request.headers, data)
        assert status == 200, (status, body[:500])
        return key

    def get(self, key, filename="file.bin", content_type="application/octet-stream", inline=False):
        return self.send("GET", self.storage.download_url(key, filename, content_type, expires=EXPIRES,
                                                          inline=inline))


@pytest.fixture
def store(app):
    # URLs are signed while a request is being served (the upload and download
    # endpoints do it), so sign inside one: the local backend builds its
    # absolute URLs from the request's host.
    with app.test_request_context():
        yield Store(app)


def test_presign_upload_is_a_put_with_the_headers_to_send(store):
    key = new_key()
    request = store.storage.presign_upload(key, 11, "text/plain", expires=EXPIRES)

    assert isinstance(request, UploadRequest)
    assert request.method == "PUT"
    assert urlsplit(request.url).scheme in ("http", "https")
    assert urlsplit(request.url).netloc
    assert request.headers["Content-Type"] == "text/plain"


def test_sending_exactly_the_signed_request_stores_the_bytes(store):
    data = b"hello, locker\n" * 100
    key = store.put(data, "text/plain")

    info = store.storage.stat(key)
    assert isinstance(info, ObjectInfo)
    assert info.size == len(data)
    assert info.sha256 in (None, sha256(data))  # a backend that reports a digest reports the right one
    if isinstance(store.storage, LocalStorage):
        assert info.sha256 == sha256(data)  # local hashes every byte it receives
    status, _, body = store.get(key)
    assert status == 200
    assert body == data


def test_an_upload_with_a_declared_sha256_is_accepted_with_its_signed_headers(store):
    # The headers to send then also pin the digest (x-amz-checksum-sha256 on S3);
    # sending them all as given, with the declared bytes, must work.
    data = bytes(range(256)) * 40
    key = store.put(data, sha256=sha256(data))

    info = store.storage.stat(key)
    assert info.size == len(data)
    assert info.sha256 in (None, sha256(data))


def test_completing_a_multipart_upload_reports_the_object_it_made(store):
    # Completion answers with what stat() would (size, ETag, and the digest only a backend that
    # hashed the whole object knows), so the upload service needs no second round trip.
    part_size = 64 * 1024
    data = bytes(range(256)) * (part_size // 256) + b"the last, shorter part"
    chunks = [data[:part_size], data[part_size:]]
    key = new_key()
    upload_id = store.storage.create_multipart(key, "application/octet-stream", part_checksums=True,
                                               part_size=part_size)
    for number, chunk in enumerate(chunks, 1):
        request = store.storage.presign_part(key, upload_id, number, len(chunk), EXPIRES, sha256=sha256(chunk))
        status, _, body = store.send(request.method, request.url, request.headers, chunk)
        assert status == 200, (status, body[:500])

    info = store.storage.complete_multipart(key, upload_id, store.storage.list_parts(key, upload_id))

    stat = store.storage.stat(key)
    assert isinstance(info, ObjectInfo)
    assert info.size == stat.size == len(data)
    assert info.etag == stat.etag
    assert info.sha256 in (None, sha256(data))  # never the digest of the parts' digests
    if isinstance(store.storage, LocalStorage):
        assert info.sha256 == sha256(data)
    assert store.get(key)[2] == data


def test_stat_of_a_missing_key_is_none(store):
    assert store.storage.stat(new_key()) is None


@pytest.mark.parametrize("name", UNICODE_NAMES)
def test_download_url_returns_the_bytes_named_as_an_attachment(store, name):
    data = b"%PDF-1.7 not really\n" + bytes(range(256))
    key = store.put(data, "application/pdf")

    status, headers, body = store.get(key, name, "application/pdf")

    assert status == 200
    assert body == data
    assert headers["Content-Type"].split(";")[0] == "application/pdf"
    kind, fallback, filename = disposition_parts(headers["Content-Disposition"])
    assert kind == "attachment"
    assert filename == name
    assert fallback.isascii() and fallback  # old clients still get a usable name


def test_inline_download_says_inline(store):
    key = store.put(b"plain words\n", "text/plain")

    status, headers, body = store.get(key, "notes.txt", "text/plain", inline=True)

    assert status == 200 and body == b"plain words\n"
    kind, _, filename = disposition_parts(headers["Content-Disposition"])
    assert (kind, filename) == ("inline", "notes.txt")


def test_download_answers_with_the_content_type_it_was_asked_for(store):
    # The service decides which type is safe to answer with (e.g. octet-stream
    # for HTML); the backend must use that one, not what the uploader sent.
    key = store.put(b"<script>alert(1)</script>", "text/html")

    status, headers, _ = store.get(key, "page.html", "application/octet-stream")

    assert status == 200
    assert headers["Content-Type"].split(";")[0] == "application/octet-stream"
    assert disposition_parts(headers["Content-Disposition"])[0] == "attachment"


def test_delete_removes_the_object_and_is_idempotent(store):
    key = store.put(b"short-lived")
    url = store.storage.download_url(key, "gone.txt", "text/plain", expires=EXPIRES)

    store.storage.delete(key)

    assert store.storage.stat(key) is None
    status, _, body = store.send("GET", url)
    # 404, or 403 where the store hides which keys exist (S3 without s3:ListBucket; moto does this).
    assert status in (403, 404) and b"short-lived" not in body
    store.storage.delete(key)  # again: still fine
    store.storage.delete(new_key())  # never existed: fine too
    assert store.storage.stat(key) is None


def test_deleting_one_object_leaves_the_others(store):
    kept = store.put(b"keep me")
    store.storage.delete(store.put(b"drop me"))

    assert store.storage.stat(kept).size == len(b"keep me")
    assert store.get(kept)[2] == b"keep me"


def test_read_head_gives_only_the_first_bytes(store):
    data = bytes(range(256)) * 64  # 16 KiB
    key = store.put(data)

    assert store.storage.read_head(key, 10) == data[:10]
    assert store.storage.read_head(key, 4096) == data[:4096]
    assert store.storage.read_head(key, len(data) + 1000) == data  # a short object comes back whole


def test_read_head_of_a_missing_key_is_a_storage_error(store):
    with pytest.raises(StorageError):
        store.storage.read_head(new_key(), 100)


def test_health_passes(store):
    store.storage.health()


@pytest.mark.parametrize("name", ["../../etc/passwd", "résumé 2026.pdf"])
def test_objects_are_addressed_by_the_server_made_key_never_the_filename(store, name):
    key = new_key()
    upload = store.storage.presign_upload(key, 4, "text/plain", expires=EXPIRES)
    download = store.storage.download_url(key, name, "text/plain", expires=EXPIRES)

    for url in (upload.url, download):
        path = urlsplit(url).path
        assert path.endswith("/" + key)  # the object's address is the key, nothing else
        for form in (name, quote(name), quote(name, safe=""), "etc/passwd", "résumé", quote("résumé")):
            assert form not in path


def test_s3_urls_never_claim_more_than_seven_days(s3):
    from urllib.parse import parse_qs, urlsplit

    from app.storage.s3 import S3Storage
    storage = S3Storage("any-bucket")
    url = storage.download_url("u/1/" + "a" * 32, "a.txt", "text/plain", expires=30 * 24 * 3600)
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == [str(7 * 24 * 3600)]
