"""The Python client's folders, trash and folder trees, against a live Locker on both storage backends."""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from requests.adapters import HTTPAdapter

from locker_client import ConflictError, InvalidRequestError, Locker, NotFoundError, TransferError
from locker_client.models import File, Folder
from tests.live_support import Live, live, local_live, moto_server  # noqa: F401  (fixtures)
from tests.test_client import LARGE, SMALL, session_with, sha, state_dir, write  # noqa: F401  (state_dir: a fixture)


def make_tree(top: Path) -> dict[str, bytes]:
    """Three levels, an empty folder, non-ASCII names, a multipart file; {relative path: bytes}."""
    files = {
        "readme.txt": b"top level\n",
        "Fotos/Sommer 2024/strand \u00e9t\u00e9.jpg": SMALL,
        "Fotos/Sommer 2024/\u65e5\u672c/\u5bcc\u58eb\u5c71.png": b"\x89PNG fuji",
        "Fotos/Sommer 2024/video.bin": LARGE,  # goes up in parts
        "Fotos/notes.md": b"# notes\n",
        "Docs/a.txt": b"a",
    }
    for relative, data in files.items():
        path = top / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (top / "Fotos" / "leer \u00f8").mkdir()  # an empty folder
    return files


def tree_of(top: Path) -> tuple[dict[str, str], set[str]]:
    """({relative file path: SHA-256}, {relative directory path}) of a local tree."""
    files, dirs = {}, set()
    for path in top.rglob("*"):
        relative = path.relative_to(top).as_posix()
        if path.is_dir():
            dirs.add(relative)
        else:
            files[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files, dirs


class DownloadTransport(HTTPAdapter):
    """Counts storage GETs per file and breaks the first download of the files it is told to."""

    def __init__(self, fail_names=()) -> None:
        super().__init__(pool_maxsize=16)
        self.fail_names = set(fail_names)
        self.file_of_url: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self.fetched: list[str] = []
        self.api: list[str] = []
        self.lock = threading.Lock()

    def send(self, request, **kwargs):
        path = urlsplit(request.url).path
        if "/api/v1/" not in request.url and request.method == "GET":
            name = self.file_of_url.get(request.url, "?")
            with self.lock:
                self.fetched.append(name)
                broken = name in self.fail_names
                self.fail_names.discard(name)
            if broken:
                raise requests.ConnectionError(f"injected: the download of {name} broke off")
        response = super().send(request, **kwargs)
        if "/api/v1/" in request.url:
            with self.lock:
                self.api.append(f"{request.method} {path}")
        if request.method == "GET" and path.startswith("/api/v1/files/") and path.endswith("/download"):
            file_id = path.split("/")[4]
            self.file_of_url[response.json()["url"]] = self.names.get(file_id, file_id)
        if request.method == "POST" and path == "/api/v1/files/download-links" and response.status_code == 200:
            for item in response.json()["items"]:
                if "url" in item:
                    self.file_of_url[item["url"]] = self.names.get(item["id"], item["id"])
        if request.method == "GET" and path == "/api/v1/files" and response.status_code == 200:
            for item in response.json()["items"]:
                self.names[item["id"]] = item["name"]
        return response


def test_folders_are_made_listed_moved_renamed_trashed_and_restored(live: Live, tmp_path: Path,
                                                                    state_dir: Path) -> None:
    _, token = live.user()
    with Locker(live.url, token=token, state_dir=state_dir) as lk:
        root = lk.folder()
        assert (root.name, root.path, root.parent, root.folders) == ("", "", None, [])
        deep = lk.make_folder("Photos/2024/Summer")
        assert (deep.name, deep.path) == ("Summer", "Photos/2024/Summer")
        assert [crumb["name"] for crumb in deep.breadcrumbs] == ["", "Photos", "2024", "Summer"]
        assert lk.make_folder("Photos/2024/Summer").id == deep.id, "mkdir -p: an existing folder is fine"
        with pytest.raises(ConflictError) as exists:
            lk.make_folder("Photos/2024/Summer", parents=False)
        assert exists.value.code == "name_taken"
        with pytest.raises(NotFoundError):
            lk.make_folder("Nothing/here", parents=False)
        assert lk.folder("Photos/2024").id == deep.parent
        assert lk.folder("/Photos/2024/").path == "Photos/2024"
        assert lk.folder(deep.id).path == "Photos/2024/Summer"
        with pytest.raises(NotFoundError) as missing:
            lk.folder("Photos/1999")
        assert "1999" in missing.value.message

        beach = lk.upload(write(tmp_path, "beach.jpg", SMALL), folder_path="Photos/2024/Summer")
        assert (beach.folder, beach.path, beach.full_path) == (deep.id, "Photos/2024/Summer",
                                                               "Photos/2024/Summer/beach.jpg")
        notes = lk.upload(write(tmp_path, "notes.txt", b"notes"), folder=lk.folder("Photos"))
        assert notes.path == "Photos"
        listing = lk.list_folder("Photos")
        assert [f.name for f in listing.folders] == ["2024"] and [f.name for f in listing.files] == ["notes.txt"]
        assert (listing.folders[0].files, listing.folders[0].size) == (1, len(SMALL))
        assert lk.list_folder("").files == [] and [f.name for f in lk.list_folder("").folders] == ["Photos"]
        assert lk.item("Photos/2024/Summer/beach.jpg") == beach
        assert isinstance(lk.item("Photos/2024"), Folder)

        # Move a file and a folder (by path and by record) into another; all or none.
        archive = lk.make_folder("Archive")
        moved_into = lk.move(["Photos/notes.txt", deep], "Archive")
        assert moved_into.id == archive.id and [f.name for f in moved_into.folders] == ["Summer"]
        assert lk.file(beach.id).path == "Archive/Summer" and lk.file(notes.id).path == "Archive"
        lk.upload(write(tmp_path, "notes.txt", b"other notes"), folder_path="Photos")
        with pytest.raises(ConflictError) as taken:
            lk.move(["Archive/notes.txt", "Archive/Summer"], "Photos")
        assert taken.value.code == "name_taken" and lk.file(notes.id).path == "Archive", "nothing moved"
        with pytest.raises(InvalidRequestError) as itself:
            lk.move("Archive", "Archive/Summer")
        assert itself.value.code == "into_itself"

        renamed = lk.rename_folder("Archive/Summer", "Sommer")
        assert renamed.path == "Archive/Sommer" and lk.file(beach.id).path == "Archive/Sommer"
        with pytest.raises(ConflictError):
            lk.rename_folder("Photos/2024", "notes.txt")

        # The trash: a folder with its file, and a file; restored by name and by original path.
        lk.trash(["Archive/Sommer", "Archive/notes.txt"])
        with pytest.raises(NotFoundError):
            lk.file(beach.id)
        trash = lk.list_trash()
        assert {(i.kind, i.name, i.trashed_from) for i in trash.items} == {("folder", "Sommer", "Archive"),
                                                                          ("file", "notes.txt", "Archive")}
        assert trash.bytes == len(SMALL) + len(b"notes") and trash.retention_seconds
        sommer = next(i for i in trash.items if i.kind == "folder")
        assert (sommer.files, sommer.size, sommer.original_path) == (1, len(SMALL), "Archive/Sommer")
        lk.restore("Archive/Sommer")
        assert lk.file(beach.id).path == "Archive/Sommer"
        with pytest.raises(NotFoundError):
            lk.restore("no such thing")
        lk.purge("notes.txt")
        assert lk.list_trash().items == []
        lk.delete(beach.id)  # DELETE /files/<id> goes to the trash too
        assert [i.id for i in lk.list_trash().items] == [beach.id]
        lk.empty_trash()
        assert lk.list_trash().items == [] and lk.list_trash().bytes == 0
        with pytest.raises(InvalidRequestError):
            lk.trash("")  # the root folder


def test_a_tree_goes_up_and_comes_down_identical(live: Live, tmp_path: Path, state_dir: Path) -> None:
    _, token = live.user()
    source = tmp_path / "source"
    total = sum(len(data) for data in make_tree(source).values())
    transport = DownloadTransport()
    seen: list[tuple[str, int, int]] = []
    with Locker(live.url, token=token, state_dir=state_dir, session=session_with(transport)) as lk:
        sent = lk.upload_dir(source, "Backup/2026", workers=4, progress=lambda *event: seen.append(event))
        assert sent.ok, sent.failed
        assert sorted(sent.transferred) == sorted(tree_of(source)[0])
        assert sent.folder == "Backup/2026" and sent.skipped == []
        assert "Fotos/leer \u00f8" in [made.removeprefix("Backup/2026/") for made in sent.folders_made]
        assert seen[-1] == ("uploading", total, total)
        assert transport.api.count("POST /api/v1/uploads/batch") == 1, "the small files start in one batch"
        assert transport.api.count("POST /api/v1/uploads/complete") == 1
        assert sent.transferred["Fotos/Sommer 2024/video.bin"].sha256 == sha(LARGE)
        assert sent.transferred["Fotos/Sommer 2024/\u65e5\u672c/\u5bcc\u58eb\u5c71.png"].path == \
            "Backup/2026/Fotos/Sommer 2024/\u65e5\u672c"
        assert sorted(f.name for f in lk.list_folder("Backup/2026/Fotos").folders) == ["Sommer 2024", "leer \u00f8"]

        # Sent again: everything is there already, nothing is uploaded twice.
        again = lk.upload_dir(source, "Backup/2026")
        assert again.transferred == {} and sorted(again.skipped) == sorted(sent.transferred)
        assert len(list(lk.files())) == len(sent.transferred)
        # A file changed locally goes up beside the old one (its name numbered), and only once.
        (source / "Docs" / "a.txt").write_bytes(b"b")
        changed = lk.upload_dir(source, "Backup/2026")
        assert [(path, f.name) for path, f in changed.transferred.items()] == [("Docs/a.txt", "a (1).txt")]
        assert lk.upload_dir(source, "Backup/2026").transferred == {}, "the numbered copy counts as there"
        lk.purge(lk.trash("Backup/2026/Docs/a (1).txt") or "a (1).txt")
        (source / "Docs" / "a.txt").write_bytes(b"a")

        copy = tmp_path / "copy"
        got = lk.download_dir("Backup/2026", copy, workers=4)
        assert got.ok and sorted(got.transferred) == sorted(sent.transferred) and got.skipped == []
        assert tree_of(copy) == tree_of(source), "the same files, bytes and folders (the empty one too)"
        assert got.bytes == total


def test_an_interrupted_tree_download_finishes_without_fetching_complete_files_again(
        local_live: Live, tmp_path: Path, state_dir: Path) -> None:
    _, token = local_live.user()
    source = tmp_path / "source"
    files = make_tree(source)
    with Locker(local_live.url, token=token, state_dir=state_dir) as lk:
        assert lk.upload_dir(source, "Tree").ok
    copy = tmp_path / "copy"
    broken = DownloadTransport(fail_names={"notes.md"})
    with Locker(local_live.url, token=token, state_dir=state_dir, session=session_with(broken), retries=0) as lk:
        first = lk.download_dir("Tree", copy)
    assert list(first.failed) == ["Fotos/notes.md"] and "broke off" in str(first.failed["Fotos/notes.md"])
    assert len(first.transferred) == len(files) - 1
    assert not (copy / "Fotos" / "notes.md").exists()
    assert not [p for p in copy.rglob("*") if p.name.endswith(".locker-download")], "no temporary file is left"

    # As if a run had been killed: a leftover temporary file, and a wrong file of the right size.
    (copy / "Fotos" / ".notes.md.abc123.locker-download").write_bytes(b"# no")
    (copy / "Docs" / "a.txt").write_bytes(b"b")
    healthy = DownloadTransport()
    with Locker(local_live.url, token=token, state_dir=state_dir, session=session_with(healthy)) as lk:
        second = lk.download_dir("Tree", copy)
    assert second.ok and sorted(second.transferred) == ["Docs/a.txt", "Fotos/notes.md"]
    assert sorted(healthy.fetched) == ["a.txt", "notes.md"], "complete files are not fetched again"
    assert len(second.skipped) == len(files) - 2
    assert tree_of(copy) == tree_of(source)


def test_an_interrupted_tree_upload_sends_only_what_is_missing(local_live: Live, tmp_path: Path,
                                                               state_dir: Path) -> None:
    from tests.test_client import FaultyStorage
    _, token = local_live.user()
    source = tmp_path / "source"
    files = make_tree(source)
    broken = FaultyStorage(fail_parts={2})  # the multipart file stops half sent
    with Locker(local_live.url, token=token, state_dir=state_dir, session=session_with(broken), retries=0) as lk:
        first = lk.upload_dir(source, "Up")
    assert list(first.failed) == ["Fotos/Sommer 2024/video.bin"] and len(first.transferred) == len(files) - 1
    healthy = FaultyStorage()
    with Locker(local_live.url, token=token, state_dir=state_dir, session=session_with(healthy)) as lk:
        second = lk.upload_dir(source, "Up")
        assert second.ok and list(second.transferred) == ["Fotos/Sommer 2024/video.bin"]
        assert healthy.single_puts == 0 and 2 in healthy.put_parts and 1 not in healthy.put_parts, \
            "only the missing parts of the large file are sent"
        assert sorted(f.full_path for f in lk.files()) == sorted(f"Up/{path}" for path in files)
        assert isinstance(second.transferred["Fotos/Sommer 2024/video.bin"], File)


def test_a_resumed_upload_keeps_its_folder_and_another_folder_starts_afresh(local_live: Live, tmp_path: Path,
                                                                            state_dir: Path) -> None:
    from tests.test_client import FaultyStorage
    _, token = local_live.user()
    path = write(tmp_path, "disk.img", LARGE)
    with Locker(local_live.url, token=token, state_dir=state_dir, retries=0,
                session=session_with(FaultyStorage(fail_parts={3}))) as lk:
        with pytest.raises(TransferError):
            lk.upload(path, folder_path="A")
        stale = lk.pending_uploads()[0]["id"]
    transport = FaultyStorage()
    with Locker(local_live.url, token=token, state_dir=state_dir, session=session_with(transport)) as lk:
        moved = lk.upload(path, folder_path="B")  # not where the interrupted upload was going
        assert moved.path == "B" and moved.id != stale and sorted(transport.put_parts) == [1, 2, 3, 4, 5, 6]
        assert lk.pending_uploads() == [], "the stale upload was cancelled"
        (tmp_path / "empty").mkdir()
        with pytest.raises(NotFoundError):
            lk.upload_dir(tmp_path / "empty", "f" * 32)  # an id names a folder that is there
        assert [f.name for f in lk.list_folder("").folders] == ["A", "B"], "no folder named like an id was made"


def test_ctrl_c_during_a_tree_download_leaves_no_partial_file_and_a_rerun_finishes(local_live: Live, tmp_path: Path,
                                                                                   state_dir: Path) -> None:
    _, token = local_live.user()
    source = tmp_path / "source"
    files = make_tree(source)
    copy = tmp_path / "copy"
    with Locker(local_live.url, token=token, state_dir=state_dir) as lk:
        assert lk.upload_dir(source, "Tree").ok

        def interrupt(path, file, outcome):
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            lk.download_dir("Tree", copy, workers=1, on_result=interrupt)
        kept = [p for p in copy.rglob("*") if p.is_file()]
        assert len(kept) < len(files) and not [p for p in kept if p.name.endswith(".locker-download")]
        transport = DownloadTransport()
    with Locker(local_live.url, token=token, state_dir=state_dir, session=session_with(transport)) as lk:
        rest = lk.download_dir("Tree", copy)
    assert rest.ok and len(rest.skipped) == len(kept) and len(transport.fetched) == len(files) - len(kept)
    assert tree_of(copy) == tree_of(source)
