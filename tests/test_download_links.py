"""Download URLs for many files in one request (POST /api/v1/files/download-links), and the client's
`download_dir` (`locker download -r`) asking for them a hundred at a time."""
import math
from pathlib import Path

import pytest

from app.extensions import db
from app.models import AuditEvent, File, FileProblem
from app.services import files as files_service
from locker_client import Locker
from tests.helpers import make_visible, older_server, send, upload
from tests.live_support import Live, local_live, start_live  # noqa: F401  (fixtures)
from tests.test_client import session_with, sha, state_dir  # noqa: F401  (state_dir: a fixture)
from tests.test_upload_batches import CountingAdapter

LINKS = "/api/v1/files/download-links"


def links(client, headers, ids):
    return client.post(LINKS, headers=headers, json={"files": ids})


def download_events(owner_id):
    return db.session.execute(db.select(db.func.count()).select_from(AuditEvent).filter(
        AuditEvent.action == "download", AuditEvent.owner_id == owner_id)).scalar_one()


def test_each_file_gets_a_url_to_its_own_bytes_and_each_download_is_recorded(client, headers, owner):
    contents = [b"first", b"second file", b"third!"]
    uploaded = [upload(client, headers, f"f{n}.txt", data) for n, data in enumerate(contents)]
    answer = links(client, headers, [file["id"] for file in uploaded])
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert [item["id"] for item in body["items"]] == [file["id"] for file in uploaded]
    assert body["expires_at"].endswith("Z")
    for item, data in zip(body["items"], contents):
        status, _, received = send(client, "GET", item["url"])
        assert (status, received) == (200, data)
    assert download_events(owner.id) == 3


def test_a_file_you_may_not_read_gets_an_error_and_the_others_their_urls(client, headers, accounts):
    mine = upload(client, headers, "mine.txt", b"mine")
    trashed = upload(client, headers, "gone.txt", b"gone")
    assert client.delete(f"/api/v1/files/{trashed['id']}", headers=headers).status_code == 204
    stranger = accounts.headers(accounts.create("mallory"))
    private = upload(client, stranger, "private.txt", b"private")
    public = upload(client, stranger, "public.txt", b"public")
    make_visible(client, stranger, public)
    ids = [mine["id"], private["id"], trashed["id"], public["id"], "0" * 32]
    items = links(client, headers, ids).get_json()["items"]
    assert [item["id"] for item in items] == ids
    assert [("url" in item, item.get("error", {}).get("code")) for item in items] == [
        (True, None), (False, "not_found"), (False, "not_found"), (True, None), (False, "not_found")]
    assert send(client, "GET", items[3]["url"])[2] == b"public", "a file visible to everyone can be fetched"


def test_a_damaged_file_gets_no_url(client, headers, app):
    file = upload(client, headers, "lost.txt", b"lost")
    with app.app_context():
        db.session.execute(db.update(File).where(File.public_id == file["id"]).values(problem=FileProblem.MISSING))
        db.session.commit()
    item, = links(client, headers, [file["id"]]).get_json()["items"]
    assert item["error"]["code"] == "bytes_missing" and "url" not in item


@pytest.mark.parametrize("ids", [[], ["f" * 32] * (files_service.MAX_DOWNLOAD_LINKS + 1), ["not an id"]])
def test_no_ids_too_many_or_a_malformed_one_is_refused_as_a_whole(client, headers, ids):
    answer = links(client, headers, ids)
    assert answer.status_code in (400, 422)
    assert set(answer.get_json()["error"]) >= {"code", "message"}


def test_without_a_token_nothing_is_signed(client):
    answer = client.post(LINKS, json={"files": ["f" * 32]})
    assert answer.status_code == 401 and answer.get_json()["error"]["code"] == "unauthorized"


def small_files(lk: Locker, tmp_path: Path, count: int) -> dict[str, bytes]:
    source = tmp_path / "source"
    source.mkdir()
    written = {}
    for number in range(count):
        data = f"file {number}\n".encode()
        (source / f"f{number:03}.txt").write_bytes(data)
        written[f"f{number:03}.txt"] = data
    assert lk.upload_dir(source, "Tree").ok
    return written


def fetched_as_uploaded(copy: Path, written: dict[str, bytes]) -> bool:
    return {path.name: path.read_bytes() for path in copy.iterdir()} == written


def test_a_tree_download_asks_for_urls_a_hundred_at_a_time(local_live: Live, tmp_path: Path, state_dir: Path) -> None:
    _, token = local_live.user()
    adapter = CountingAdapter()
    with Locker(local_live.url, token=token, state_dir=state_dir, session=session_with(adapter)) as lk:
        written = small_files(lk, tmp_path, 105)
        adapter.calls.clear()
        got = lk.download_dir("Tree", tmp_path / "copy")
    assert got.ok and fetched_as_uploaded(tmp_path / "copy", written)
    asked = [call for call in adapter.calls if call.startswith("POST /api/v1/files/download-links")]
    assert len(asked) >= math.ceil(105 / files_service.MAX_DOWNLOAD_LINKS) and len(asked) < 105 / 10
    assert not [call for call in adapter.calls if call.endswith("/download")], "no file asked for its own URL"


# Locker as it was before POST /files/download-links.
without_batch_links = older_server(LINKS)


@pytest.mark.parametrize("settings", [{"middleware": without_batch_links}, {"URL_EXPIRY": 20}],
                         ids=["older server", "urls too short-lived to ask for ahead"])
def test_a_tree_download_asks_for_each_url_alone_when_it_must(request, make_app, tmp_path: Path, state_dir: Path,
                                                              settings) -> None:
    server = start_live(request, make_app, "local", **settings)
    _, token = server.user()
    adapter = CountingAdapter()
    with Locker(server.url, token=token, state_dir=state_dir, session=session_with(adapter)) as lk:
        written = small_files(lk, tmp_path, 5)
        adapter.calls.clear()
        got = lk.download_dir("Tree", tmp_path / "copy", workers=2)
    assert got.ok and fetched_as_uploaded(tmp_path / "copy", written)
    assert len([call for call in adapter.calls if call.endswith("/download")]) == 5
    assert sha(written["f000.txt"]) == got.transferred["f000.txt"].sha256
