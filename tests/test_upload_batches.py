"""Uploads started and completed in batches: a folder of small files in a few round trips, never half made."""
import hashlib
import json
import math
import os
import random
import signal
import sys
import threading
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from requests.adapters import HTTPAdapter

from app.extensions import db
from app.models import File, FileStatus, User
from app.services import uploads
from app.services.quotas import QuotaExceeded
from app.storage import StorageError
from tests.conftest import MULTIPART_SETTINGS, PART_SIZE
from locker_client import InvalidRequestError, Locker
from tests.helpers import admission_race, older_server, send
from tests.live_support import local_live, moto_server, start_live  # noqa: F401  (fixtures)
from tests.test_cli_tool import dirs, on_a_terminal, run, script_env  # noqa: F401  (dirs, run: fixtures)
from tests.test_client import LARGE, session_with, sha, state_dir, write  # noqa: F401  (state_dir: a fixture)

QUOTA = 8 * PART_SIZE


@pytest.fixture
def app_settings():
    return {"DEFAULT_QUOTA": QUOTA, **MULTIPART_SETTINGS}


def items_of(*pairs):
    return [{"name": name, "size": len(data), "content_type": "application/octet-stream"} for name, data in pairs]


def start(client, headers, items):
    return client.post("/api/v1/uploads/batch", headers=headers, json={"items": items})


def complete(client, headers, items):
    return client.post("/api/v1/uploads/complete", headers=headers, json={"items": items})


def used_bytes(user_id):
    db.session.expire_all()
    return db.session.get(User, user_id).used_bytes


def file_count():
    return db.session.execute(db.select(db.func.count()).select_from(File)).scalar_one()


def test_a_batch_starts_every_upload_in_order_and_completes_them(client, headers, owner):
    datas = [f"file {n}".encode() * 10 for n in range(5)]
    started = start(client, headers, items_of(*((f"f{n}.txt", data) for n, data in enumerate(datas))))
    assert started.status_code == 201, started.get_json()
    batch = started.get_json()["items"]
    assert [item["name"] for item in batch] == [f"f{n}.txt" for n in range(5)]
    for item, data in zip(batch, datas):
        assert send(client, item["method"], item["url"], item["headers"], data)[0] == 200
    done = complete(client, headers, [{"id": item["id"]} for item in batch])
    assert done.status_code == 200
    results = done.get_json()["items"]
    assert [result["id"] for result in results] == [item["id"] for item in batch]
    assert all(result["file"]["size"] == len(data) and "error" not in result for result, data in zip(results, datas))
    assert used_bytes(owner.id) == sum(map(len, datas))


def test_one_bad_name_among_five_starts_nothing(client, headers, owner):
    names = ["a.txt", "b.txt", "CON.txt", "d.txt", "e.txt"]
    refused = start(client, headers, items_of(*((name, b"x" * 100) for name in names)))
    assert refused.status_code == 400
    error = refused.get_json()["error"]
    assert (error["code"], error["index"]) == ("invalid_name", 2)
    assert used_bytes(owner.id) == 0 and file_count() == 0


def test_an_item_the_schema_refuses_is_named_by_its_index(client, headers, owner):
    items = items_of(("a.txt", b"x"), ("b.txt", b"x"))
    items[1]["size"] = "big"
    refused = start(client, headers, items)
    assert refused.status_code == 400
    assert refused.get_json()["error"] == {"code": "invalid_size", "index": 1,
                                           "message": "items[1].size: Not a valid integer."}
    assert used_bytes(owner.id) == 0 and file_count() == 0


def test_each_fits_but_not_all_together_starts_nothing(client, headers, owner):
    # Multipart-sized: they are reserved in the same transaction as the rest.
    refused = start(client, headers, items_of(*((f"{n}.bin", b"x" * 3 * PART_SIZE) for n in range(3))))
    assert refused.status_code == 413
    error = refused.get_json()["error"]
    assert (error["code"], error["index"]) == ("quota_exceeded", 2)
    assert used_bytes(owner.id) == 0 and file_count() == 0


def test_multipart_sized_items_start_in_a_batch_too(client, headers, owner):
    started = start(client, headers, items_of(("small.bin", b"x" * 10), ("large.bin", b"x" * (2 * PART_SIZE + 1))))
    assert started.status_code == 201, started.get_json()
    small, large = started.get_json()["items"]
    assert small["method"] == "PUT" and "multipart" not in small
    assert large["multipart"]["part_count"] == 3 and "url" not in large
    assert db.session.execute(db.select(File.upload_id).filter_by(public_id=large["id"])).scalar_one()


def test_storage_failing_for_one_item_cancels_the_whole_batch(client, headers, owner, app, monkeypatch):
    storage = app.extensions["locker.storage"]
    created = []
    real_create = storage.create_multipart

    def create_then_fail(key, *args, **kwargs):
        if created:
            raise StorageError("store went away")
        created.append((key, real_create(key, *args, **kwargs)))
        return created[-1][1]

    monkeypatch.setattr(storage, "create_multipart", create_then_fail)
    big = b"x" * (2 * PART_SIZE + 1)
    refused = start(client, headers, items_of(("a.bin", b"x"), ("b.bin", big), ("c.bin", big)))
    assert refused.status_code == 503
    assert refused.get_json()["error"]["index"] == 2
    assert used_bytes(owner.id) == 0 and file_count() == 0
    # The multipart upload storage made for b.bin is aborted, not left to the sweeper.
    (key, upload_id), = created
    assert storage.list_parts(key, upload_id) is None


def test_more_than_a_hundred_items_are_refused(client, headers, owner):
    refused = start(client, headers, items_of(*((f"{n}.txt", b"x") for n in range(uploads.MAX_BATCH + 1))))
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "invalid_items"
    assert complete(client, headers, [{"id": "0" * 32}] * (uploads.MAX_BATCH + 1)).status_code == 400
    assert used_bytes(owner.id) == 0 and file_count() == 0


def test_concurrent_batches_never_exceed_the_quota(app, owner):
    user_id = owner.id
    batch = [{"name": f"{n}.bin", "size": 2 * PART_SIZE} for n in range(2)]  # two of eight batches fit
    outcomes = admission_race(app, 8, lambda: db.session.get(User, user_id),
                              lambda user, number: uploads.start_uploads(user, batch), QuotaExceeded)
    assert Counter(outcomes) == {"ok": 2, "refused": 6}
    assert used_bytes(user_id) == QUOTA
    assert len(db.session.execute(db.select(File).filter_by(status=FileStatus.PENDING)).all()) == 4


def test_completion_answers_per_item(client, headers, accounts, owner):
    started = start(client, headers, items_of(("a.txt", b"aaaa"), ("b.txt", b"bbbb"), ("c.txt", b"cccc")))
    a, b, c = started.get_json()["items"]
    for item, data in ((a, b"aaaa"), (c, b"cccc")):
        assert send(client, item["method"], item["url"], item["headers"], data)[0] == 200
    stranger = accounts.create("mallory")
    theirs = start(client, accounts.headers(stranger), items_of(("m.txt", b"mm"))).get_json()["items"][0]
    results = complete(client, headers, [{"id": a["id"]}, {"id": b["id"]}, {"id": theirs["id"]},
                                         {"id": c["id"], "sha256": hashlib.sha256(b"cccc").hexdigest()}])
    assert results.status_code == 200
    first, missing, other, last = results.get_json()["items"]
    assert first["file"]["name"] == "a.txt" and last["file"]["sha256"] == hashlib.sha256(b"cccc").hexdigest()
    assert missing == {"id": b["id"], "error": {"code": "upload_missing", "message": missing["error"]["message"]}}
    assert other["error"]["code"] == "not_found" and "file" not in other


def test_two_files_of_one_name_in_a_batch_are_numbered(client, headers):
    started = start(client, headers, items_of(("notes.txt", b"one"), ("notes.txt", b"two")))
    batch = started.get_json()["items"]
    for item, data in zip(batch, (b"one", b"two")):
        assert send(client, item["method"], item["url"], item["headers"], data)[0] == 200
    results = complete(client, headers, [{"id": item["id"]} for item in batch]).get_json()["items"]
    assert [result["file"]["name"] for result in results] == ["notes.txt", "notes (1).txt"]


class CountingAdapter(HTTPAdapter):
    """Notes every API request the client makes, as 'METHOD /path'."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def send(self, request, **kwargs):
        self.calls.append(f"{request.method} {urlsplit(request.url).path}")
        return super().send(request, **kwargs)


def small_tree(root, count):
    """`count` small files of different bytes, spread over nested folders; returns {path: bytes}."""
    written = {}
    for number in range(count):
        folder = root / f"d{number % 3}" / f"e{number % 2}"
        folder.mkdir(parents=True, exist_ok=True)
        data = random.Random(number).randbytes(1000 + number)
        written[write(folder, f"f{number:02}.bin", data)] = data
    return written


def test_the_client_uploads_thirty_small_files_in_two_api_calls(local_live, tmp_path, state_dir):
    _, token = local_live.user()
    written = small_tree(tmp_path, 30)
    paths = sorted(written)
    large = write(tmp_path, "large.bin", LARGE)
    adapter = CountingAdapter()
    with Locker(local_live.url, token=token, session=session_with(adapter), state_dir=state_dir) as lk:
        results = lk.upload_many([*paths, large])
    assert [file.sha256 for file in results] == [*(sha(written[path]) for path in paths), sha(LARGE)]
    assert [file.name for file in results[:30]] == [path.name for path in paths]
    batched = [call for call in adapter.calls if call in ("POST /api/v1/uploads/batch", "POST /api/v1/uploads/complete")]
    assert len(batched) == math.ceil(30 / uploads.MAX_BATCH) * 2
    # The large file went the multipart way, on its own.
    assert adapter.calls.count("POST /api/v1/uploads") == 1


def test_one_refused_file_leaves_the_rest_of_its_batch_uploaded(local_live, tmp_path, state_dir):
    _, token = local_live.user()
    good = [write(tmp_path, f"{n}.txt", f"file {n}".encode()) for n in range(3)]
    empty = write(tmp_path, "empty.txt", b"")
    with Locker(local_live.url, token=token, state_dir=state_dir) as lk:
        results = lk.upload_many([good[0], empty, good[1], tmp_path / "gone.txt", good[2]])
        assert [file.name for file in lk.files()] and len(list(lk.files())) == 3
    assert [getattr(result, "name", None) for result in results] == ["0.txt", None, "1.txt", None, "2.txt"]
    assert isinstance(results[1], InvalidRequestError) and results[1].code == "empty_file"
    assert isinstance(results[3], FileNotFoundError)


def test_the_cli_uploads_a_tree_of_twenty_files(local_live, run, dirs):
    _, token = local_live.user()
    written = small_tree(dirs["work"], 20)
    result = run("upload", "-r", str(dirs["work"]), url=local_live.url, token=token)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 20 and all(line.startswith("uploaded ") for line in lines)
    assert {line.split(" as ")[0].removeprefix("uploaded ") for line in lines} == {str(path) for path in written}
    # The tree is recreated in a folder named like the local one.
    with Locker(local_live.url, token=token) as lk:
        listed = sorted((f.full_path, f.sha256) for f in lk.files())
    assert listed == sorted((f"work/{p.relative_to(dirs['work']).as_posix()}", sha(d)) for p, d in written.items())


def test_the_cli_reports_a_refused_file_and_uploads_the_others(request, make_app, run, dirs):
    blocking = start_live(request, make_app, "local", BLOCKED_TYPES=[".exe"])
    _, token = blocking.user()
    written = small_tree(dirs["work"], 5)
    blocked = write(dirs["work"], "setup.exe", b"MZ")
    unreadable = dirs["work"] / "pipe.bin"
    os.mkfifo(unreadable)  # not a regular file: refused before anything is sent (root reads any file)
    result = run("upload", "-r", "--json", str(dirs["work"]), url=blocking.url, token=token)
    assert result.exit_code == 1, result.output
    assert sorted(f["name"] for f in json.loads(result.stdout)) == sorted(path.name for path in written)
    errors = result.stderr.splitlines()
    assert len(errors) == 2
    assert any(line.startswith(f"locker: {blocked}: ") and "not accepted" in line for line in errors)
    assert any(line.startswith(f"locker: {unreadable}: ") for line in errors)


def test_on_a_terminal_a_batch_shows_bars_covering_every_file(local_live, dirs, tmp_path):
    _, token = local_live.user()
    written = small_tree(tmp_path / "tree", 12)
    # `python -m` from this checkout: the code under test, whichever one the installed script imports.
    done, screen = on_a_terminal([sys.executable, "-m", "locker_client", "upload", "-r", str(tmp_path / "tree")],
                                 script_env(local_live, token, dirs), cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, screen
    assert "━" in screen and "uploaded 12/12 files" in screen, "one bar covers every file"
    assert "12 uploaded (" in screen and "0 already there, 0 failed" in screen
    lines = done.stdout.decode().splitlines()
    # After the live display, in the order the files were given.
    assert [line.split(" as ")[0].removeprefix("uploaded ") for line in lines] == [str(p) for p in sorted(written)]


# Locker as it was before batches.
without_batches = older_server("/api/v1/uploads/batch", "/api/v1/uploads/complete")


def test_a_server_without_batches_gets_the_files_one_by_one(request, make_app, tmp_path, state_dir):
    older = start_live(request, make_app, "local", middleware=without_batches)
    _, token = older.user()
    written = small_tree(tmp_path, 4)
    adapter = CountingAdapter()
    seen = []
    with Locker(older.url, token=token, session=session_with(adapter), state_dir=state_dir) as lk:
        results = lk.upload_many(sorted(written), progress_for=lambda index, path, size: seen.append(index))
    assert [file.sha256 for file in results] == [sha(written[path]) for path in sorted(written)]
    assert adapter.calls.count("POST /api/v1/uploads") == 4
    assert sorted(seen) == [0, 1, 2, 3], "one progress callback per file"


def test_files_beyond_one_batch_all_land_each_reported_once(local_live, tmp_path, state_dir):
    _, token = local_live.user()
    count = 2 * uploads.MAX_BATCH + 10  # three batches, two of them under way at once
    paths = [write(tmp_path, f"{number:03}.txt", f"file {number}".encode()) for number in range(count)]
    adapter = CountingAdapter()
    landed = []
    with Locker(local_live.url, token=token, session=session_with(adapter), state_dir=state_dir) as lk:
        results = lk.upload_many(paths, on_result=lambda index, outcome: landed.append(index))
        listed = {file.name: file.sha256 for file in lk.files(page_size=1000)}
    assert [file.name for file in results] == [path.name for path in paths]
    assert listed == {path.name: sha(path.read_bytes()) for path in paths}
    assert sorted(landed) == list(range(count)), "on_result once per file"
    assert adapter.calls.count("POST /api/v1/uploads/batch") == 3
    assert adapter.calls.count("POST /api/v1/uploads/complete") == 3


def test_a_batch_on_s3_checks_every_file_in_storage_and_reads_its_type(request, make_app, tmp_path, state_dir):
    on_s3 = start_live(request, make_app, "s3")
    _, token = on_s3.user()
    png = b"\x89PNG\r\n\x1a\n" + bytes(8) + b"IHDR" + bytes(64)
    paths = [write(tmp_path, "picture.png", png), write(tmp_path, "notes.txt", b"plain notes\n")]
    with Locker(on_s3.url, token=token, state_dir=state_dir) as lk:
        results = lk.upload_many(paths)
    assert [(file.name, file.sha256) for file in results] == [(path.name, sha(path.read_bytes())) for path in paths]
    assert [file.preview for file in results] == ["image", "text"]


def test_a_batch_on_s3_refuses_an_upload_whose_bytes_never_arrived(request, make_app):
    on_s3 = start_live(request, make_app, "s3")
    _, token = on_s3.user()
    headers = {"Authorization": f"Bearer {token}"}
    api = f"{on_s3.url}/api/v1"
    items = [{**item, "sha256": sha(data)} for item, data in zip(items_of(("sent.txt", b"sent"), ("lost.txt", b"lost")),
                                                                (b"sent", b"lost"))]
    started = requests.post(f"{api}/uploads/batch", headers=headers, timeout=30, json={"items": items}).json()["items"]
    sent = started[0]
    assert requests.put(sent["url"], headers=sent["headers"], data=b"sent", timeout=30).status_code == 200
    results = requests.post(f"{api}/uploads/complete", headers=headers, timeout=30,
                            json={"items": [{"id": item["id"]} for item in started]}).json()["items"]
    assert results[0]["file"]["sha256"] == sha(b"sent")
    assert results[1]["error"]["code"] == "upload_missing"


class InterruptingAdapter(CountingAdapter):
    """Counts the PUTs of file bytes; the `interrupt_at`th one sends SIGINT to the main thread, as Ctrl-C does."""

    def __init__(self, interrupt_at: int) -> None:
        super().__init__()
        self.interrupt_at, self.puts = interrupt_at, 0
        self.lock = threading.Lock()

    def send(self, request, **kwargs):
        if request.method == "PUT":
            with self.lock:
                self.puts += 1
                interrupt = self.puts == self.interrupt_at
            if interrupt:
                signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
        return super().send(request, **kwargs)


@pytest.fixture
def ctrl_c_raises():
    """SIGINT reaches the main thread and raises KeyboardInterrupt there during the test, whatever handler or
    signal mask an earlier test in this process left."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    yield
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_during_batches_starts_no_more_files(local_live, tmp_path, state_dir, ctrl_c_raises):
    _, token = local_live.user()
    paths = [write(tmp_path, f"{number:03}.txt", f"file {number}".encode()) for number in range(2 * uploads.MAX_BATCH)]
    adapter = InterruptingAdapter(interrupt_at=3)
    with Locker(local_live.url, token=token, session=session_with(adapter), state_dir=state_dir, workers=2) as lk:
        with pytest.raises(KeyboardInterrupt):
            lk.upload_many(paths)
        # Only the PUTs under way when it came finish (the second batch's may have begun meanwhile),
        # not the two hundred files the two batches had queued.
        assert adapter.puts < uploads.MAX_BATCH // 2
