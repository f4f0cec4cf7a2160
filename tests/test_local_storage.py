"""What the local backend itself must enforce at its /_storage URLs.

S3 checks signatures, sizes and types itself (see test_s3_real.py); on local
disk the app's blueprint is the store, so every refusal is its job. A refused
upload must leave nothing behind: not under the key, not half-written in
.partial/.
"""
import hashlib
import io
import os
import resource
import threading
import time
import tracemalloc
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from app.extensions import db
from app.models import File
from app.storage import StorageError
from app.storage import local as local_module
from tests.storage_support import PatternReader, new_key, sha256

EXPIRES = 300
MIB = 1024 * 1024


class Local:
    def __init__(self, app):
        self.app = app
        self.storage = app.extensions["locker.storage"]
        self.client = app.test_client()

    def presign(self, key, data, content_type="application/octet-stream", sha256=None, expires=EXPIRES):
        return self.storage.presign_upload(key, len(data), content_type, expires=expires, sha256=sha256)

    def put(self, url, data=b"", headers=None, **kwargs):
        return self.client.put(url, data=data, headers=headers or {}, **kwargs)

    def upload(self, data, content_type="application/octet-stream", key=None):
        key = key or new_key()
        request = self.presign(key, data, content_type)
        response = self.put(request.url, data, request.headers)
        assert response.status_code == 200, response.get_json()
        return key

    def download_url(self, key, filename="file.bin", content_type="application/octet-stream", **kwargs):
        return self.storage.download_url(key, filename, content_type, kwargs.pop("expires", EXPIRES), **kwargs)

    def leftovers(self):
        """Every file under the storage root: what a refused upload must not add to."""
        return sorted(str(p.relative_to(self.storage.root)) for p in self.storage.root.rglob("*") if p.is_file())


@pytest.fixture
def local(local_app):
    with local_app.test_request_context():
        yield Local(local_app)


def assert_refused(response, status, code=None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["message"]
    if code:
        assert error["code"] == code
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def with_query(url, **changes):
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def tampered(url):
    token = dict(parse_qsl(urlsplit(url).query))["sig"]
    middle = len(token) // 2  # inside the payload, so the signature no longer matches it
    flipped = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1:]
    return with_query(url, sig=flipped)


# Tokens -----------------------------------------------------------------------

def test_a_tampered_token_is_refused_both_ways(local):
    data = b"0123456789"
    key = new_key()
    upload = local.presign(key, data)

    assert_refused(local.put(tampered(upload.url), data, upload.headers), 403, "invalid_signature")
    assert local.storage.stat(key) is None

    local.put(upload.url, data, upload.headers)
    assert_refused(local.client.get(tampered(local.download_url(key))), 403, "invalid_signature")
    assert_refused(local.client.get(with_query(local.download_url(key), sig="")), 403, "invalid_signature")


def test_a_token_signed_with_another_secret_is_refused(local):
    data = b"0123456789"
    key = new_key()
    forger = local_module.LocalStorage(local.storage.root, "not-the-secret-key")
    forged = forger.presign_upload(key, len(data), "application/octet-stream", expires=EXPIRES)

    assert_refused(local.put(forged.url, data, forged.headers), 403, "invalid_signature")
    assert local.storage.stat(key) is None


def test_an_expired_token_is_refused(local, monkeypatch):
    data = b"0123456789"
    key = local.upload(data)
    download = local.download_url(key, expires=1)
    second_key = new_key()
    upload = local.presign(second_key, data, expires=1)
    assert local.client.get(download).status_code == 200  # fine while fresh

    real_time = time.time
    monkeypatch.setattr(local_module, "time", type("Clock", (), {"time": staticmethod(lambda: real_time() + 5)}))

    assert_refused(local.client.get(download), 403, "invalid_signature")
    assert_refused(local.put(upload.url, data, upload.headers), 403, "invalid_signature")
    assert local.storage.stat(second_key) is None


def test_a_download_token_cannot_upload_and_an_upload_token_cannot_download(local):
    data = b"0123456789"
    key = new_key()
    upload = local.presign(key, data)
    download = local.download_url(key)

    assert_refused(local.put(download, data, upload.headers), 403, "invalid_signature")
    assert local.storage.stat(key) is None

    assert local.put(upload.url, data, upload.headers).status_code == 200
    assert_refused(local.client.get(upload.url), 403, "invalid_signature")


def test_a_token_for_one_key_does_not_open_another(local):
    data = b"0123456789"
    secret_key = local.upload(b"someone else's bytes")
    other_key = new_key()
    upload = local.presign(other_key, data)
    download = local.download_url(other_key)

    def moved(url):
        return url.replace(other_key, secret_key)

    response = local.client.get(moved(download))
    assert_refused(response, 403, "invalid_signature")
    assert b"someone else" not in response.get_data()
    assert_refused(local.put(moved(upload.url), data, upload.headers), 403, "invalid_signature")
    assert local.client.get(local.download_url(secret_key)).get_data() == b"someone else's bytes"


def test_keys_that_are_not_server_made_are_refused(local):
    for key in ("../../etc/passwd", "u/1/résumé.pdf", "u/1/../../x" + "0" * 32, "/u/1/" + "0" * 32):
        with pytest.raises(StorageError):
            local.storage.presign_upload(key, 1, "text/plain", expires=EXPIRES)
        with pytest.raises(StorageError):
            local.storage.download_url(key, "x.txt", "text/plain", EXPIRES)
    assert not (local.storage.root.parent / "etc").exists()


# Uploads ----------------------------------------------------------------------

@pytest.mark.parametrize("sent", [b"012345678", b"0123456789A", b""], ids=["shorter", "longer", "empty"])
def test_a_body_of_another_size_than_signed_is_refused_and_nothing_is_kept(local, sent):
    key = new_key()
    upload = local.presign(key, b"0123456789")
    before = local.leftovers()

    assert_refused(local.put(upload.url, sent, upload.headers), 400, "size_mismatch")

    assert local.storage.stat(key) is None
    assert local.leftovers() == before
    assert not any(local.storage.partial_dir.iterdir())


@pytest.mark.parametrize("declared, sent_before_hangup", [(10, 5), (4 * MIB, 3 * MIB + 17)],
                         ids=["one-chunk", "several-chunks"])
def test_a_body_cut_short_never_leaves_a_file(local, declared, sent_before_hangup):
    """Content-Length promises more than arrives (the client hung up): nothing is stored, and the link still works."""
    key = new_key()
    upload = local.storage.presign_upload(key, declared, "application/octet-stream", expires=EXPIRES)
    before = local.leftovers()

    response = local.put(upload.url, headers=upload.headers,
                         input_stream=PatternReader(declared, stop_after=sent_before_hangup))

    assert_refused(response, 400)
    assert local.storage.stat(key) is None
    assert local.leftovers() == before
    assert not any(local.storage.partial_dir.iterdir())

    # The client retries with the whole body, and the same link takes it.
    retry = local.put(upload.url, headers=upload.headers, input_stream=PatternReader(declared))
    assert retry.status_code == 200, retry.get_data(as_text=True)
    assert local.storage.stat(key).sha256 == PatternReader.digest(declared)


def test_a_body_with_a_chunked_unknown_length_is_refused(local):
    key = new_key()
    upload = local.presign(key, b"0123456789")

    response = local.put(upload.url, headers={**upload.headers, "Transfer-Encoding": "chunked"},
                         input_stream=io.BytesIO(b"0123456789"),
                         environ_overrides={"CONTENT_LENGTH": "", "wsgi.input_terminated": True})

    assert_refused(response, 400, "size_mismatch")
    assert local.storage.stat(key) is None


@pytest.mark.parametrize("content_type", ["text/html", "image/svg+xml", None])
def test_another_content_type_than_signed_is_refused(local, content_type):
    data = b"<svg onload=alert(1)>"
    key = new_key()
    upload = local.presign(key, data, "image/png")
    headers = {} if content_type is None else {"Content-Type": content_type}
    before = local.leftovers()

    assert_refused(local.put(upload.url, data, headers), 403, "content_type_mismatch")
    assert local.storage.stat(key) is None
    assert local.leftovers() == before


def test_a_second_upload_to_the_same_key_is_refused_and_the_first_kept(local):
    first, second = b"first bytes!", b"other bytes!"
    key = new_key()
    upload = local.presign(key, first)
    assert local.put(upload.url, first, upload.headers).status_code == 200

    assert_refused(local.put(upload.url, second, upload.headers), 409, "already_uploaded")

    assert local.storage.stat(key).sha256 == sha256(first)
    assert local.client.get(local.download_url(key)).get_data() == first
    assert not any(local.storage.partial_dir.iterdir())


class GatedReader:
    """A body whose second half waits for a signal, so another request can finish in between."""

    def __init__(self, data):
        self.data = data
        self.position = 0
        self.halfway = threading.Event()
        self.go_on = threading.Event()

    def read(self, n=-1):
        half = len(self.data) // 2
        end = len(self.data) if n is None or n < 0 else self.position + n
        if self.position < half:
            end = min(end, half)
        elif not self.go_on.is_set():
            self.halfway.set()
            assert self.go_on.wait(10), "the racing request never finished"
        chunk = self.data[self.position:end]
        self.position += len(chunk)
        return chunk

    def tell(self):
        return self.position

    def seek(self, offset, whence=0):
        self.position = len(self.data) + offset if whence == 2 else offset
        return self.position


def test_two_uploads_racing_on_one_key_cannot_both_win(local):
    """The slower of two PUTs with the same link must not replace what the faster one stored."""
    slow, fast = b"S" * 1000, b"F" * 1000
    key = new_key()
    upload = local.presign(key, slow)
    gated = GatedReader(slow)
    result = {}

    def send_slow():
        result["slow"] = local.app.test_client().put(upload.url, headers=upload.headers, input_stream=gated)

    thread = threading.Thread(target=send_slow)
    thread.start()
    try:
        assert gated.halfway.wait(10)  # the slow upload has passed its checks and is streaming
        assert local.put(upload.url, fast, upload.headers).status_code == 200
    finally:
        gated.go_on.set()
        thread.join(10)

    assert_refused(result["slow"], 409, "already_uploaded")
    assert local.client.get(local.download_url(key)).get_data() == fast
    assert local.storage.stat(key).sha256 == sha256(fast)
    assert not any(local.storage.partial_dir.iterdir())


def test_a_declared_sha256_must_match_the_bytes(local):
    data, other = b"the real bytes", b"the fake bytes"
    key = new_key()
    upload = local.presign(key, other, sha256=sha256(data))
    before = local.leftovers()

    assert_refused(local.put(upload.url, other, upload.headers), 400, "checksum_mismatch")
    assert local.storage.stat(key) is None
    assert local.leftovers() == before

    assert local.put(upload.url, data, upload.headers).status_code == 200
    assert local.storage.stat(key).sha256 == sha256(data)


# Downloads --------------------------------------------------------------------

def test_a_range_request_gets_exactly_those_bytes(local):
    data = b"0123456789abcdef"
    key = local.upload(data)

    response = local.client.get(local.download_url(key), headers={"Range": "bytes=2-5"})

    assert response.status_code == 206
    assert response.get_data() == b"2345"
    assert response.headers["Content-Range"] == f"bytes 2-5/{len(data)}"
    assert response.headers["Content-Length"] == "4"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_every_storage_response_says_nosniff(local):
    data = b"<html><script>alert(document.cookie)</script></html>"
    key = new_key()
    upload = local.presign(key, data, "text/html")
    responses = {
        "upload": local.put(upload.url, data, upload.headers),
        "duplicate upload": local.put(upload.url, data, upload.headers),
        "download": local.client.get(local.download_url(key, "page.html", "text/html")),
        "range": local.client.get(local.download_url(key), headers={"Range": "bytes=0-3"}),
        "bad token": local.client.get(tampered(local.download_url(key))),
        "missing object": local.client.get(local.download_url(new_key())),
    }
    assert [r.status_code for r in responses.values()] == [200, 409, 200, 206, 403, 404]
    for what, response in responses.items():
        assert response.headers.get("X-Content-Type-Options") == "nosniff", what


def test_an_uploaded_html_page_is_served_as_an_attachment(local):
    data = b"<html><script>fetch('/api/v1/files')</script></html>"
    key = local.upload(data, "text/html")

    response = local.client.get(local.download_url(key, "invoice.html", "text/html"))

    assert response.status_code == 200
    assert response.get_data() == data
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]


# Memory -----------------------------------------------------------------------

def test_a_64_mib_file_streams_through_in_flat_memory(local):
    """Upload and download 64 MiB through the app: neither holds the file in memory."""
    size = 64 * MIB
    limit = 16 * MIB
    digest = PatternReader.digest(size)
    key = new_key()
    upload = local.storage.presign_upload(key, size, "application/octet-stream", expires=EXPIRES, sha256=digest)
    body = PatternReader(size)

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.start()
    try:
        response = local.put(upload.url, headers=upload.headers, input_stream=body)
        assert response.status_code == 200, response.get_data(as_text=True)
        _, upload_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()

        download = local.client.get(local.download_url(key), buffered=False)
        assert download.status_code == 200
        assert download.headers["Content-Length"] == str(size)
        received = 0
        check = hashlib.sha256()
        for chunk in download.response:
            received += len(chunk)
            check.update(chunk)
        download.close()
        _, download_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before

    assert body.position == size and body.largest_read <= 2 * MIB  # read in chunks, not slurped
    assert local.storage.stat(key).sha256 == digest
    assert (received, check.hexdigest()) == (size, digest)
    assert upload_peak < limit, f"upload held {upload_peak / MIB:.1f} MiB"
    assert download_peak < limit, f"download held {download_peak / MIB:.1f} MiB"
    # ru_maxrss is the process's peak so far; if an earlier test peaked higher this
    # reads 0, so the tracemalloc peaks above are the precise check.
    assert rss_growth < limit, f"peak RSS grew by {rss_growth / MIB:.1f} MiB"


def test_a_range_near_the_end_does_not_read_the_whole_file(local_app, accounts, monkeypatch):
    """Seeking, not reading and dropping, reaches a range: asking for the last bytes costs only those."""
    from tests.helpers import upload
    client = local_app.test_client()
    headers = accounts.headers(accounts.create())
    data = bytes(range(256)) * 4096  # 1 MiB
    file = upload(client, headers, "big.bin", data)
    location = client.get(f"/api/v1/files/{file['id']}/download", headers=headers).headers["Location"]

    class NoSeekWrapper:
        """Stands in for gunicorn's wsgi.file_wrapper: iterable, not seekable, counts what it reads."""
        read = 0

        def __init__(self, handle, block_size=8192):
            self.handle, self.block_size = handle, block_size

        def __iter__(self):
            while chunk := self.handle.read(self.block_size):
                NoSeekWrapper.read += len(chunk)
                yield chunk

        def close(self):
            self.handle.close()

    response = client.get(location, headers={"Range": "bytes=-10"}, environ_base={"wsgi.file_wrapper": NoSeekWrapper})
    assert response.status_code == 206 and response.get_data() == data[-10:]
    assert NoSeekWrapper.read == 10  # the server's wrapper is handed only the range, from its start


def multipart_app(make_app):
    from tests.conftest import MULTIPART_SETTINGS
    return make_app(STORAGE_BACKEND="local", **MULTIPART_SETTINGS)


def test_completing_a_multipart_upload_moves_the_parts_file_instead_of_copying_it(make_app, accounts):
    """Parts are written in place as they arrive, so completing a 50 GiB upload copies nothing."""
    from tests.conftest import PART_SIZE
    from tests.helpers import complete_parts, send_parts, start_multipart
    app = multipart_app(make_app)
    with app.test_request_context():
        client, headers = app.test_client(), accounts.headers(accounts.create())
        data = os.urandom(3 * PART_SIZE + 7)
        upload_info = start_multipart(client, headers, "big.bin", data)
        etags = send_parts(client, headers, upload_info, data, [3, 1, 4, 2])  # any order
        storage = app.extensions["locker.storage"]
        file = db.session.execute(db.select(File).filter_by(public_id=upload_info["id"])).scalar_one()
        key, data_file = file.storage_key, storage.upload_dir(file.upload_id) / "data"
        inode = data_file.stat().st_ino
        assert complete_parts(client, headers, upload_info, etags).status_code == 200
        assert storage.path_for(key).stat().st_ino == inode
        assert storage.path_for(key).read_bytes() == data


def test_a_part_sent_again_that_fails_reads_as_missing(make_app, accounts):
    from tests.conftest import PART_SIZE
    from tests.helpers import send_parts, start_multipart
    app = multipart_app(make_app)
    with app.test_request_context():
        client, headers = app.test_client(), accounts.headers(accounts.create())
        data = os.urandom(3 * PART_SIZE)
        upload_info = start_multipart(client, headers, "retry.bin", data)
        send_parts(client, headers, upload_info, data, [1, 2])
        signed = client.post(f"/api/v1/uploads/{upload_info['id']}/parts", headers=headers,
                             json={"numbers": [1]}).get_json()["parts"][0]
        # The connection drops a third of the way into the re-sent part.
        short = client.put(signed["url"], headers={"Content-Length": str(PART_SIZE)},
                           input_stream=PatternReader(PART_SIZE, stop_after=PART_SIZE // 3))
        assert short.status_code == 400
        listed = client.get(f"/api/v1/uploads/{upload_info['id']}/parts", headers=headers).get_json()["parts"]
        assert [part["number"] for part in listed] == [2]


def test_only_an_inline_pdf_leaves_the_sandbox_and_keeps_its_policy_when_revalidated(local):
    key = local.upload(b"%PDF-1.4\n%%EOF\n", "application/pdf")

    attachment = local.client.get(local.download_url(key, "manual.pdf", "application/pdf"))
    inline_url = local.download_url(key, "manual.pdf", "application/pdf", inline=True)
    inline = local.client.get(inline_url)
    revalidated = local.client.get(inline_url, headers={"If-None-Match": inline.headers["ETag"]})

    assert [r.status_code for r in (attachment, inline, revalidated)] == [200, 200, 304]
    assert "sandbox" in attachment.headers["Content-Security-Policy"]
    assert attachment.headers.get("X-Frame-Options") != "SAMEORIGIN"
    for response in (inline, revalidated):
        assert response.headers["Content-Security-Policy"] == local_module.PDF_VIEWER_HEADERS["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
