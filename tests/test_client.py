"""The Python client (locker_client) against a live Locker on both storage backends.

The client speaks HTTP, so Locker runs on a real socket (werkzeug's server in a
thread, as in the browser tests). For S3 the bucket is moto's HTTP server
(ThreadedMotoServer) rather than mock_aws: the client streams request bodies
from disk over real sockets and is tested with its own transport (a
requests.Session with a fault-injecting adapter); mock_aws would intercept
every `requests` call in the process, the calls to Locker included, and
consume bodies itself, so the test would no longer exercise what a user's
client does. Parts are 64 KiB with a 128 KiB threshold (conftest lowers moto's
5 MiB part minimum).
"""
from __future__ import annotations

import hashlib
import json
import random
import re
import socket
import threading
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from requests.adapters import HTTPAdapter

from app.models import utcnow
from locker_client import (AuthenticationError, ChecksumMismatchError, ConflictError, ConnectionFailed,
                           InvalidRequestError, Locker, LockerError, NotFoundError, QuotaExceededError, TransferError,
                           UnsupportedFeatureError)
from tests.conftest import MULTIPART_SETTINGS, PASSWORD
from tests.live_support import HOST, Live, live, local_live, moto_server, start_live  # noqa: F401  (fixtures)

PART = MULTIPART_SETTINGS["MULTIPART_PART_SIZE"]
SMALL = random.Random(1).randbytes(100 * 1024 + 3)       # one PUT
LARGE = random.Random(2).randbytes(5 * PART + 4321)      # six parts, the last one short


def without_share_links(app):
    """Locker as it was before share links: /api/v1/shares… is a 404 like any unknown API path."""
    def wsgi(environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/api/v1/shares"):
            body = json.dumps({"error": {"code": "not_found", "message": "The requested URL was not found on "
                                         "the server. If you entered the URL manually please check your spelling "
                                         "and try again."}}).encode()
            start_response("404 NOT FOUND", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        return app(environ, start_response)

    return wsgi


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    return f"http://{HOST}:{port}"


class FaultyStorage(HTTPAdapter):
    """A transport that records which parts are PUT and breaks the ones it is told to.

    It learns each signed part URL's number from Locker's answers to
    POST /uploads/<id>/parts, so it works the same for local and S3 URLs.
    """

    def __init__(self, fail_parts=(), fail_status: int | None = None, fail_times: int | None = None) -> None:
        super().__init__(pool_maxsize=16)
        self.fail_parts = set(fail_parts)
        self.fail_status = fail_status
        self.fail_times = fail_times
        self.failures: dict[int, int] = {}
        self.part_by_url: dict[str, int] = {}
        self.put_parts: list[int] = []
        self.single_puts = 0
        self.lock = threading.Lock()

    def send(self, request, **kwargs):
        number = self.part_by_url.get(request.url) if request.method == "PUT" else None
        if request.method == "PUT" and number is None and "/api/v1/" not in request.url:
            with self.lock:
                self.single_puts += 1
        if number is not None and number in self.fail_parts:
            with self.lock:
                failed = self.failures.get(number, 0)
                broken = self.fail_times is None or failed < self.fail_times
                if broken:
                    self.failures[number] = failed + 1
            if broken:
                if self.fail_status is None:
                    raise requests.ConnectionError(f"injected: connection to storage lost during part {number}")
                response = requests.Response()
                response.status_code, response.reason, response.url = self.fail_status, "Injected", request.url
                response._content = b'{"error": {"code": "injected", "message": "storage hiccup"}}'
                response.request = request
                return response
        response = super().send(request, **kwargs)
        if number is not None and response.status_code == 200:
            with self.lock:
                self.put_parts.append(number)
        if request.method == "POST" and request.url.endswith("/parts") and response.status_code == 200:
            for part in response.json()["parts"]:
                self.part_by_url[part["url"]] = part["number"]
        return response


def session_with(adapter: HTTPAdapter) -> requests.Session:
    session = requests.Session()
    session.mount("http://", adapter)
    return session


def test_round_trips_single_and_multipart_with_sha256(live: Live, tmp_path: Path, state_dir: Path) -> None:
    """Upload one small and one large file, list them over several pages, download both intact, delete."""
    _, token = live.user()
    small, large = write(tmp_path, "notes.txt", SMALL), write(tmp_path, "video.bin", LARGE)
    seen: list[tuple[str, int, int]] = []
    transport = FaultyStorage()
    with Locker(live.url, token=token, state_dir=state_dir, session=session_with(transport)) as lk:
        one = lk.upload(small)
        two = lk.upload(large, progress=lambda phase, done, total: seen.append((phase, done, total)))
        assert transport.single_puts == 1, "the small file goes up in one PUT"
        assert sorted(transport.put_parts) == [1, 2, 3, 4, 5, 6], "the large one in six parts"
        assert (one.name, one.size, one.sha256, one.content_type) == ("notes.txt", len(SMALL), sha(SMALL), "text/plain")
        assert (two.name, two.size, two.sha256) == ("video.bin", len(LARGE), sha(LARGE))
        # Local storage hashes what it receives, so it vouches for both digests. S3 checks the signed
        # x-amz-checksum-sha256 of a single PUT (moto keeps none to report back) and only has a checksum
        # of part checksums for a multipart object, so there the whole-file digest is the client's word.
        if live.backend == "local":
            assert one.sha256_verified is True and two.sha256_verified is True
        else:
            assert two.sha256_verified is False
        # A multipart file is hashed while its parts go up (its sha256 is given at completion),
        # so its bytes start moving at once: no separate hashing pass comes first.
        assert {phase for phase, _, _ in seen} == {"uploading"} and seen[-1] == ("uploading", len(LARGE), len(LARGE))
        assert not list(state_dir.glob("*.json")), "a finished upload leaves no resume record"

        listed = list(lk.files(page_size=1, sort="name"))  # one file a page: the iterator follows next_cursor
        assert [(f.id, f.name) for f in listed] == [(one.id, "notes.txt"), (two.id, "video.bin")]
        assert lk.me().used_bytes == len(SMALL) + len(LARGE)

        for stored, data in ((one, SMALL), (two, LARGE)):
            saved = lk.download(stored.id, f"{tmp_path / 'out'}/")  # a trailing slash: a folder, made if missing
            assert saved == tmp_path / "out" / stored.name and saved.read_bytes() == data
        assert lk.download(two.id, tmp_path / "copy.bin").read_bytes() == LARGE

        lk.delete(one.id)
        with pytest.raises(NotFoundError) as missing:
            lk.file(one.id)
        assert (missing.value.status, missing.value.code) == (404, "not_found")
        assert [f.id for f in lk.files()] == [two.id]


def test_an_interrupted_multipart_upload_resumes_with_only_the_missing_parts(live: Live, tmp_path: Path,
                                                                          state_dir: Path) -> None:
    """Part 2's connection keeps breaking: the upload stops, then a second run sends only what storage lacks."""
    _, token = live.user()
    path = write(tmp_path, "big.iso", LARGE)
    broken = FaultyStorage(fail_parts={2})
    with Locker(live.url, token=token, state_dir=state_dir, session=session_with(broken),
                retries=1, retry_backoff=0) as lk:
        with pytest.raises(TransferError) as interrupted:
            lk.upload(path)
        assert "run it again to send the rest" in interrupted.value.message
        assert "could not reach storage" in interrupted.value.message
        pending = lk.pending_uploads()
    assert broken.failures == {2: 2}, "the broken part was tried twice (retries=1)"
    assert len(pending) == 1 and pending[0]["name"] == "big.iso"
    stored = {p["number"] for p in pending[0]["parts"]}
    # Parts 1, 3 and 4 were under way beside part 2 and finished; after part 2 failed for good no
    # new part started (5 and 6 may have, if a worker was free before part 2 gave up).
    assert {1, 3, 4} <= stored and 2 not in stored
    assert len(list(state_dir.glob("*.json"))) == 1

    healthy = FaultyStorage()
    with Locker(live.url, token=token, state_dir=state_dir, session=session_with(healthy)) as lk:
        progress: list[tuple[str, int, int]] = []
        file = lk.upload(path, progress=lambda *event: progress.append(event))
        missing = sorted({1, 2, 3, 4, 5, 6} - stored)
        assert sorted(healthy.put_parts) == missing, "only the missing parts are sent again"
        assert file.id == pending[0]["id"] and file.sha256 == sha(LARGE) and file.size == len(LARGE)
        # Progress starts from what storage already held.
        held = sum(len(LARGE[(n - 1) * PART:n * PART]) for n in stored)
        assert next(event for event in progress if event[0] == "uploading") == ("uploading", held, len(LARGE))
        assert lk.pending_uploads() == []
        assert lk.download(file.id, tmp_path / "back.iso").read_bytes() == LARGE
    assert not list(state_dir.glob("*.json"))


def test_a_file_changed_since_the_interruption_is_uploaded_afresh(local_live: Live, tmp_path: Path,
                                                                   state_dir: Path) -> None:
    _, token = local_live.user()
    path = write(tmp_path, "draft.bin", LARGE)
    with Locker(local_live.url, token=token, state_dir=state_dir, retries=0, retry_backoff=0,
                session=session_with(FaultyStorage(fail_parts={3}))) as lk:
        with pytest.raises(TransferError):
            lk.upload(path)
        stale = lk.pending_uploads()[0]["id"]
    changed = bytearray(LARGE)
    changed[10] ^= 0xFF
    path.write_bytes(bytes(changed))
    transport = FaultyStorage()
    with Locker(local_live.url, token=token, state_dir=state_dir, session=session_with(transport)) as lk:
        file = lk.upload(path)
        assert sorted(transport.put_parts) == [1, 2, 3, 4, 5, 6]
        assert file.id != stale and file.sha256 == sha(bytes(changed))
        assert lk.pending_uploads() == [], "the stale upload was cancelled"


def test_part_puts_are_retried_after_a_5xx(local_live: Live, tmp_path: Path, state_dir: Path) -> None:
    _, token = local_live.user()
    path = write(tmp_path, "flaky.bin", LARGE)
    transport = FaultyStorage(fail_parts={1, 4}, fail_status=503, fail_times=2)
    with Locker(local_live.url, token=token, state_dir=state_dir, session=session_with(transport),
                retries=2, retry_backoff=0.01) as lk:
        file = lk.upload(path)
    assert transport.failures == {1: 2, 4: 2} and sorted(transport.put_parts) == [1, 2, 3, 4, 5, 6]
    assert file.sha256 == sha(LARGE)


def test_username_and_password_get_a_token_that_is_revoked_on_exit(local_live: Live) -> None:
    username, _ = local_live.user()
    with Locker(local_live.url, username=username, password=PASSWORD) as lk:
        assert lk.me().username == username
        token = lk.token
    with Locker(local_live.url, token=token) as lk, pytest.raises(AuthenticationError) as refused:
        lk.me()
    assert (refused.value.status, refused.value.code) == (401, "invalid_token")
    with pytest.raises(AuthenticationError) as wrong:
        Locker(local_live.url, username=username, password="not the password")
    assert wrong.value.status == 401


def test_bad_and_expired_tokens_are_refused_clearly(local_live: Live) -> None:
    _, expired = local_live.user(expired=True)
    for token in ("lk_not-a-real-token", expired):
        with Locker(local_live.url, token=token) as lk, pytest.raises(AuthenticationError) as refused:
            lk.me()
        error = refused.value
        assert isinstance(error, LockerError)
        assert (error.status, error.code) == (401, "invalid_token")
        assert "expired" in error.message and "revoked" in error.message


def test_an_unreachable_server_gives_a_clear_message() -> None:
    url = closed_port_url()
    with Locker(url, token="lk_whatever") as lk, pytest.raises(ConnectionFailed) as failed:
        lk.me()
    assert str(failed.value) == f"could not reach Locker at {url}: connection refused"
    assert failed.value.code == "connection_failed" and failed.value.status is None
    with pytest.raises(LockerError, match="not a Locker address"):
        Locker("ftp://example.org", token="lk_x")


def test_a_download_whose_bytes_differ_from_the_recorded_sha256_is_refused(live: Live, tmp_path: Path,
                                                                         state_dir: Path) -> None:
    _, token = live.user()
    with Locker(live.url, token=token, state_dir=state_dir) as lk:
        file = lk.upload(write(tmp_path, "contract.pdf", SMALL))
        live.tamper(file.id, bytes(reversed(SMALL)))
        target = tmp_path / "downloads" / "contract.pdf"
        target.parent.mkdir()
        target.write_bytes(b"an older copy")
        with pytest.raises(ChecksumMismatchError) as refused:
            lk.download(file.id, target)
    assert refused.value.expected == sha(SMALL) and refused.value.actual == sha(bytes(reversed(SMALL)))
    assert "do not match" in refused.value.message
    assert target.read_bytes() == b"an older copy", "the existing file is left alone"
    assert [p.name for p in target.parent.iterdir()] == ["contract.pdf"], "no temporary file is left behind"


def test_quota_refusals_are_typed(make_app, request, tmp_path: Path, state_dir: Path) -> None:
    live = start_live(request, make_app, "local", DEFAULT_QUOTA=50 * 1024)
    _, token = live.user()
    with Locker(live.url, token=token, state_dir=state_dir) as lk, pytest.raises(QuotaExceededError) as refused:
        lk.upload(write(tmp_path, "too-big.bin", SMALL))
    assert (refused.value.status, refused.value.code) == (413, "quota_exceeded")


def test_share_links_fail_clearly_on_a_server_without_them(make_app, request, tmp_path: Path,
                                                           state_dir: Path) -> None:
    old = start_live(request, make_app, "local", middleware=without_share_links)
    _, token = old.user()
    with Locker(old.url, token=token, state_dir=state_dir) as lk:
        file = lk.upload(write(tmp_path, "a.txt", b"hello"))
        attempts = [lambda: lk.share(file.id, expires="7d", password="pw", max_downloads=3, note="hi"),
                    lk.shares, lambda: lk.revoke_share("0" * 32)]
        for attempt in attempts:
            with pytest.raises(UnsupportedFeatureError) as unsupported:
                attempt()
            assert str(unsupported.value) == "this Locker server does not support share links yet"
            assert (unsupported.value.code, unsupported.value.status) == ("unsupported", 404)


def test_a_file_is_renamed_and_a_name_in_use_is_a_conflict(local_live: Live, tmp_path: Path, state_dir: Path) -> None:
    _, token = local_live.user()
    with Locker(local_live.url, token=token, state_dir=state_dir) as lk:
        first, second = lk.upload(write(tmp_path, "a.txt", b"a")), lk.upload(write(tmp_path, "b.txt", b"b"))
        renamed = lk.rename(first.id, "c.txt")
        assert (renamed.id, renamed.name, renamed.sha256) == (first.id, "c.txt", first.sha256)
        assert sorted(f.name for f in lk.files()) == ["b.txt", "c.txt"]
        with pytest.raises(ConflictError) as taken:
            lk.rename(second.id, "c.txt")
        assert (taken.value.code, taken.value.status) == ("name_taken", 409)
        with pytest.raises(InvalidRequestError) as bad:
            lk.rename(second.id, "a/b.txt")
        assert "can't contain any of" in bad.value.message
        assert lk.file(second.id).name == "b.txt"


def test_share_links_are_created_listed_and_revoked(local_live: Live, tmp_path: Path, state_dir: Path) -> None:
    _, token = local_live.user()
    with Locker(local_live.url, token=token, state_dir=state_dir) as lk:
        file = lk.upload(write(tmp_path, "slides.pdf", SMALL))
        link = lk.share(file.id, expires="7d", password="open sesame", max_downloads=3, note="for the team")
        assert link.url and link.url.startswith(f"{local_live.url}/s/")
        assert (link.file_id, link.file_name, link.state, link.has_password, link.max_downloads, link.note) == \
            (file.id, "slides.pdf", "active", True, 3, "for the team")
        assert link.expires_at and link.expires_at[:10] == (utcnow() + timedelta(days=7)).date().isoformat()
        assert requests.get(link.url, timeout=10).status_code == 200
        listed = lk.shares()
        assert [(s.id, s.state, s.url) for s in listed] == [(link.id, "active", link.url)]  # kept to copy again
        lk.revoke_share(link.id)
        assert [s.state for s in lk.shares()] == ["revoked"]
        with pytest.raises(NotFoundError):  # a missing link on a server that has links is just missing
            lk.revoke_share("0" * 32)
        with pytest.raises(NotFoundError):
            lk.share("f" * 32)


def test_an_upload_that_finished_unnoticed_is_not_sent_twice(local_live: Live, tmp_path: Path,
                                                             state_dir: Path, monkeypatch) -> None:
    """The process died after Locker completed the upload but before its resume record was removed."""
    _, token = local_live.user()
    path = write(tmp_path, "once.bin", LARGE)
    with Locker(local_live.url, token=token, state_dir=state_dir) as lk:
        monkeypatch.setattr(lk.state, "drop", lambda *args: None)
        first = lk.upload(path)
    assert len(list(state_dir.glob("*.json"))) == 1
    transport = FaultyStorage()
    with Locker(local_live.url, token=token, state_dir=state_dir, session=session_with(transport)) as lk:
        again = lk.upload(path)
        assert again == first and transport.put_parts == [] and transport.single_puts == 0
        assert [f.id for f in lk.files()] == [first.id]
    assert not list(state_dir.glob("*.json"))


def test_files_are_searched_by_name_and_shared_with_everyone(local_live: Live, tmp_path: Path,
                                                             state_dir: Path) -> None:
    """One user makes a file visible to everyone: another finds it by name, sees its owner, and can't change it."""
    alice, alice_token = local_live.user()
    bob, bob_token = local_live.user()
    with Locker(local_live.url, token=alice_token, state_dir=state_dir) as lk:
        report = lk.upload(write(tmp_path, "Quarterly report.txt", b"plain words, shown inline\n"))
        lk.upload(write(tmp_path, "notes.bin", SMALL))
        assert (report.preview, report.owner, report.visible_to_everyone) == ("text", alice, False)
        assert (report.guest_name, report.request) == (None, None)
        published = lk.set_visibility(report.id, True)
        assert published.visible_to_everyone is True and published.id == report.id
    with Locker(local_live.url, token=bob_token, state_dir=state_dir) as lk:
        draft = lk.upload(write(tmp_path, "report draft.txt", b"mine"))
        found = list(lk.files(q="REPORT", sort="name"))  # a search covers everyone-visible files by default
        assert [(f.name, f.owner) for f in found] == [("Quarterly report.txt", alice), ("report draft.txt", bob)]
        assert [f.id for f in lk.files(q="report", scope="mine")] == [draft.id]
        assert [f.id for f in lk.files(scope="everyone")] == [report.id]
        assert [f.id for f in lk.files()] == [draft.id], "without a search, only your own files"
        assert lk.file(report.id).owner == alice
        with pytest.raises(NotFoundError):  # only the owner may change who sees a file
            lk.set_visibility(report.id, False)
    with Locker(local_live.url, token=alice_token, state_dir=state_dir) as lk:
        assert lk.set_visibility(report.id, False).visible_to_everyone is False
    with Locker(local_live.url, token=bob_token, state_dir=state_dir) as lk:
        assert list(lk.files(scope="everyone")) == []
        with pytest.raises(NotFoundError):
            lk.file(report.id)


class RecordingTransport(HTTPAdapter):
    """Records every request as "METHOD /path" (API calls and storage alike), and how many files each
    GET /api/v1/files answer carried."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[str] = []
        self.listed: list[int] = []

    def send(self, request, **kwargs):
        response = super().send(request, **kwargs)
        path = urlsplit(request.url).path
        self.requests.append(f"{request.method} {path}")
        if request.method == "GET" and path == "/api/v1/files":
            self.listed.append(len(response.json()["items"]))
        return response

    def api_calls(self) -> list[str]:
        """The API's part of the requests, with file and upload ids replaced by <id>."""
        return [re.sub(r"/[0-9a-f]{32}", "/<id>", line) for line in self.requests if "/api/v1/" in line]


def test_find_asks_the_server_for_the_name_rather_than_listing_every_file(local_live: Live, tmp_path: Path,
                                                                          state_dir: Path) -> None:
    _, token = local_live.user()
    long_name = "y" * 120 + ".txt"  # longer than a search may be: found in the whole list
    names = ["notes.txt", "NOTES.txt", "old notes.txt", "x", "xy", "50% off_[v2].txt", long_name]
    transport = RecordingTransport()
    with Locker(local_live.url, token=token, state_dir=state_dir, session=session_with(transport)) as lk:
        for name in names:
            lk.upload(write(tmp_path, "upload.bin", name.encode()), name=name)
        for name in names:
            transport.listed.clear()
            assert [f.name for f in lk.find(name)] == [name]
            if name == long_name:
                assert transport.listed == [len(names)]
            else:
                assert len(transport.listed) == 1 and transport.listed[0] < len(names), "only the name's matches"
        assert lk.find("missing.txt") == []


def test_uploads_of_many_files_learn_the_threshold_once(local_live: Live, tmp_path: Path, state_dir: Path,
                                                          monkeypatch) -> None:
    """Two API calls a small file after the first /me; the quota is checked ahead only of a file hashed first."""
    _, token = local_live.user()
    transport = RecordingTransport()
    start, complete = "POST /api/v1/uploads", "POST /api/v1/uploads/<id>/complete"
    with Locker(local_live.url, token=token, state_dir=state_dir, session=session_with(transport)) as lk:
        for number in range(3):
            lk.upload(write(tmp_path, f"small {number}.txt", SMALL))
        assert transport.api_calls() == ["GET /api/v1/me", *[start, complete] * 3]
        assert [r.split()[0] for r in transport.requests if "/api/v1/" not in r] == ["PUT"] * 3, "one to storage"

        # As if both files were large enough for the check: only the one hashed before it starts gets it.
        monkeypatch.setattr("locker_client.client.QUOTA_PRECHECK_SIZE", 0)
        transport.requests.clear()
        lk.upload(write(tmp_path, "small 3.txt", SMALL))
        lk.upload(write(tmp_path, "large.bin", LARGE))
        calls = transport.api_calls()
        signing = calls[4:-1]
        assert calls[:4] == ["GET /api/v1/me", start, complete, start] and calls[-1] == complete
        # Six parts, signed several to a call: the file is read and hashed ahead of the PUTs.
        assert set(signing) == {"POST /api/v1/uploads/<id>/parts"} and 1 <= len(signing) < 6


class RangeTransport(HTTPAdapter):
    """Records the ranges asked of storage; can break a range's first attempts or drop every Range header."""

    def __init__(self, break_offset: int | None = None, break_times: int = 0, ignore_ranges: bool = False) -> None:
        super().__init__(pool_maxsize=16)
        self.break_offset, self.break_times, self.ignore_ranges = break_offset, break_times, ignore_ranges
        self.ranges: list[str] = []
        self.whole_gets = 0
        self.lock = threading.Lock()

    def send(self, request, **kwargs):
        if request.method == "GET" and "/api/v1/" not in request.url:
            asked = request.headers.get("Range")
            with self.lock:
                if asked:
                    self.ranges.append(asked)
                else:
                    self.whole_gets += 1
                broken = (self.break_offset is not None and self.break_times > 0
                          and asked == f"bytes={self.break_offset}-{self.break_offset + PART - 1}")
                if broken:
                    self.break_times -= 1
            if broken:
                raise requests.ConnectionError("injected: connection to storage lost during a range")
            if asked and self.ignore_ranges:
                del request.headers["Range"]
        return super().send(request, **kwargs)


@pytest.fixture
def small_ranges(monkeypatch) -> None:
    """Downloads above one part come as part-sized ranges, as 16 MiB ranges do for real files."""
    monkeypatch.setattr("locker_client.client.RANGE_SIZE", PART)


@pytest.fixture
def s3_live(request, make_app) -> Live:
    return start_live(request, make_app, "s3")


def test_a_large_download_comes_as_parallel_ranges_from_s3_and_is_verified(live: Live, tmp_path: Path,
                                                                           state_dir: Path, small_ranges) -> None:
    """From S3, ranges `workers` at a time; from Locker itself (local storage), one stream, which was faster there."""
    _, token = live.user()
    transport = RangeTransport()
    with Locker(live.url, token=token, state_dir=state_dir, session=session_with(transport)) as lk:
        file = lk.upload(write(tmp_path, "video.bin", LARGE))
        seen: list[tuple[str, int, int]] = []
        saved = lk.download(file.id, tmp_path / "copy.bin", progress=lambda *report: seen.append(report))
    assert saved.read_bytes() == LARGE and seen[-1] == ("downloading", len(LARGE), len(LARGE))
    if live.backend == "s3":
        assert sorted(transport.ranges) == sorted(f"bytes={offset}-{min(offset + PART, len(LARGE)) - 1}"
                                                  for offset in range(0, len(LARGE), PART))
        assert transport.whole_gets == 0
    else:
        assert (transport.ranges, transport.whole_gets) == ([], 1)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "no temporary file is left"


def test_a_broken_range_is_fetched_again(s3_live: Live, tmp_path: Path, state_dir: Path, small_ranges) -> None:
    _, token = s3_live.user()
    transport = RangeTransport(break_offset=2 * PART, break_times=2)
    with Locker(s3_live.url, token=token, state_dir=state_dir, session=session_with(transport),
                retries=2, retry_backoff=0.01) as lk:
        file = lk.upload(write(tmp_path, "video.bin", LARGE))
        assert lk.download(file.id, tmp_path / "copy.bin").read_bytes() == LARGE
    assert transport.ranges.count(f"bytes={2 * PART}-{3 * PART - 1}") == 3


def test_ranged_bytes_that_differ_from_the_recorded_sha256_are_refused(live: Live, tmp_path: Path, state_dir: Path,
                                                                       small_ranges) -> None:
    _, token = live.user()
    with Locker(live.url, token=token, state_dir=state_dir) as lk:
        file = lk.upload(write(tmp_path, "video.bin", LARGE))
        live.tamper(file.id, LARGE[:PART] + bytes(reversed(LARGE[PART:])))
        with pytest.raises(ChecksumMismatchError):
            lk.download(file.id, tmp_path / "copy.bin")
    assert not (tmp_path / "copy.bin").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "no temporary file is left"


def test_storage_that_ignores_ranges_gets_one_whole_download(s3_live: Live, tmp_path: Path, state_dir: Path,
                                                              small_ranges) -> None:
    _, token = s3_live.user()
    transport = RangeTransport(ignore_ranges=True)
    with Locker(s3_live.url, token=token, state_dir=state_dir, session=session_with(transport)) as lk:
        file = lk.upload(write(tmp_path, "video.bin", LARGE))
        assert lk.download(file.id, tmp_path / "copy.bin").read_bytes() == LARGE
    assert transport.whole_gets == 1
