"""The trash: deleting keeps files and folders (and their space) until a restore or a purge, on both backends."""
from datetime import timedelta

from app.extensions import db
from app.models import AuditEvent, File, FileStatus, Folder, utcnow
from tests.helpers import at_once, download, send, start_upload, upload
from tests.test_folders import error_of, folder, listed


def trash_listing(client, headers):
    response = client.get("/api/v1/trash", headers=headers)
    assert response.status_code == 200
    return response.get_json()


def stored_key(file_id):
    db.session.expire_all()
    return db.session.execute(db.select(File.storage_key).filter_by(public_id=file_id)).scalar_one()


def in_storage(app, key):
    return app.extensions["locker.storage"].stat(key) is not None


def tree(client, headers):
    """Projects/ (a.txt) / Drafts/ (b.txt, c.txt): 3 files, 6 bytes."""
    projects = folder(client, headers, "Projects")
    drafts = folder(client, headers, "Drafts", projects["id"])
    files = [upload(client, headers, "a.txt", b"aa", folder=projects["id"]),
             upload(client, headers, "b.txt", b"b", folder=drafts["id"]),
             upload(client, headers, "c.txt", b"ccc", folder=drafts["id"])]
    return projects, drafts, files


def test_a_trashed_folder_is_one_item_and_its_files_leave_every_list(client, headers):
    projects, drafts, files = tree(client, headers)
    assert client.delete(f"/api/v1/folders/{projects['id']}", headers=headers).status_code == 204
    trash = trash_listing(client, headers)
    assert [(i["kind"], i["name"], i["trashed_from"], i["files"], i["size"]) for i in trash["items"]] == [
        ("folder", "Projects", "", 3, 6)]
    assert trash["bytes"] == 6 and trash["retention_seconds"] == 30 * 24 * 3600
    assert client.get("/api/v1/folders/root", headers=headers).get_json()["folders"] == []
    assert client.get("/api/v1/files", headers=headers, query_string={"q": "txt"}).get_json()["items"] == []
    assert error_of(client.get(f"/api/v1/folders/{drafts['id']}", headers=headers)) == (404, "not_found")
    assert error_of(client.get(f"/api/v1/files/{files[1]['id']}/download", headers=headers)) == (404, "not_found")


def test_restoring_a_folder_brings_back_everything_inside_it(client, headers):
    projects, drafts, files = tree(client, headers)
    client.delete(f"/api/v1/folders/{projects['id']}", headers=headers)
    assert client.post("/api/v1/trash/restore", headers=headers, json={"folders": [projects["id"]]}).status_code == 204
    assert listed(client, headers, drafts["id"], sort="name") == ["b.txt", "c.txt"]
    assert listed(client, headers, projects["id"]) == ["a.txt"]
    assert trash_listing(client, headers)["items"] == []
    status, _, body = download(client, headers, files[2]["id"])
    assert (status, body) == (200, b"ccc")


def test_a_restore_recreates_missing_folders_and_numbers_a_taken_name(client, headers):
    projects, drafts, files = tree(client, headers)
    client.delete(f"/api/v1/files/{files[1]['id']}", headers=headers)   # Projects/Drafts/b.txt
    client.delete(f"/api/v1/folders/{projects['id']}", headers=headers)
    client.post("/api/v1/trash/purge", headers=headers, json={"folders": [projects["id"]]})
    assert [i["name"] for i in trash_listing(client, headers)["items"]] == ["b.txt"]
    assert client.get("/api/v1/folders/root", headers=headers).get_json()["folders"] == []

    again = folder(client, headers, "Projects")
    remade = folder(client, headers, "Drafts", again["id"])
    upload(client, headers, "b.txt", b"a newer b", folder=remade["id"])
    assert client.post("/api/v1/trash/restore", headers=headers, json={"files": [files[1]["id"]]}).status_code == 204
    assert listed(client, headers, remade["id"], sort="name") == ["b (1).txt", "b.txt"]

    client.delete(f"/api/v1/folders/{again['id']}", headers=headers)
    client.post("/api/v1/trash/purge", headers=headers, json={"folders": [again["id"]]})
    lone = upload(client, headers, "lone.txt", b"l", path="Gone/Deeper")
    client.delete(f"/api/v1/files/{lone['id']}", headers=headers)
    gone = client.get("/api/v1/folders/root", headers=headers).get_json()["folders"][0]
    client.delete(f"/api/v1/folders/{gone['id']}", headers=headers)
    client.post("/api/v1/trash/purge", headers=headers, json={"folders": [gone["id"]]})
    client.post("/api/v1/trash/restore", headers=headers, json={"files": [lone["id"]]})
    restored = client.get(f"/api/v1/files/{lone['id']}", headers=headers).get_json()
    assert restored["path"] == "Gone/Deeper", "the folders on the way are made again"


def test_purging_removes_the_bytes_and_gives_back_the_space(app, client, headers):
    projects, _, files = tree(client, headers)
    single = upload(client, headers, "single.bin", b"s" * 100)
    keys = [stored_key(f["id"]) for f in [*files, single]]
    client.post("/api/v1/trash", headers=headers, json={"files": [single["id"]], "folders": [projects["id"]]})
    assert all(in_storage(app, key) for key in keys), "the trash keeps the bytes"
    assert client.get("/api/v1/me", headers=headers).get_json()["used_bytes"] == 106
    assert client.delete("/api/v1/trash", headers=headers).status_code == 204
    assert not any(in_storage(app, key) for key in keys)
    assert client.get("/api/v1/me", headers=headers).get_json()["used_bytes"] == 0
    assert trash_listing(client, headers) == {"items": [], "bytes": 0, "retention_seconds": 30 * 24 * 3600}
    db.session.expire_all()
    assert db.session.execute(db.select(File)).first() is None
    assert db.session.execute(db.select(Folder.name)).scalars().all() == [""], "only the root is left"
    actions = db.session.execute(db.select(AuditEvent.action)).scalars().all()
    assert actions.count("trash") == 2 and actions.count("purge") == 2


def test_sweep_purges_what_has_been_in_the_trash_longer_than_the_retention(app, client, headers):
    old, recent = upload(client, headers, "old.txt", b"old"), upload(client, headers, "recent.txt", b"new")
    keys = stored_key(old["id"]), stored_key(recent["id"])
    client.post("/api/v1/trash", headers=headers, json={"files": [old["id"], recent["id"]]})
    db.session.execute(db.update(File).filter_by(public_id=old["id"]).values(
        trashed_at=utcnow() - timedelta(days=31)))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["locker", "sweep"])
    assert result.exit_code == 0 and "Trash items older than TRASH_RETENTION deleted: 1" in result.output
    assert [i["name"] for i in trash_listing(client, headers)["items"]] == ["recent.txt"]
    assert (in_storage(app, keys[0]), in_storage(app, keys[1])) == (False, True)


def test_an_upload_finishing_into_a_trashed_folder_joins_it_in_the_trash(client, headers):
    inbox = folder(client, headers, "Inbox")
    started = start_upload(client, headers, "late.txt", b"late", folder=inbox["id"]).get_json()
    client.delete(f"/api/v1/folders/{inbox['id']}", headers=headers)
    assert send(client, started["method"], started["url"], started["headers"], b"late")[0] == 200
    assert client.post(f"/api/v1/uploads/{started['id']}/complete", headers=headers).status_code == 200
    assert listed(client, headers) == []
    assert [(i["name"], i["files"]) for i in trash_listing(client, headers)["items"]] == [("Inbox", 1)]
    client.post("/api/v1/trash/restore", headers=headers, json={"folders": [inbox["id"]]})
    assert listed(client, headers, inbox["id"]) == ["late.txt"]


def test_trash_calls_name_only_the_users_own_items(client, headers, accounts):
    mine = upload(client, headers, "mine.txt", b"m")
    theirs = accounts.headers(accounts.create("mallory"))
    assert error_of(client.post("/api/v1/trash", headers=theirs, json={"files": [mine["id"]]})) == (404, "not_found")
    client.delete(f"/api/v1/files/{mine['id']}", headers=headers)
    for call in ("restore", "purge"):
        response = client.post(f"/api/v1/trash/{call}", headers=theirs, json={"files": [mine["id"]]})
        assert error_of(response) == (404, "not_found")
    assert trash_listing(client, theirs)["items"] == []
    db.session.expire_all()
    assert db.session.execute(db.select(File.status)).scalar_one() == FileStatus.TRASHED


def test_a_trash_call_with_one_unknown_id_changes_nothing(client, headers):
    first = upload(client, headers, "first.txt", b"1")
    response = client.post("/api/v1/trash", headers=headers, json={"files": [first["id"], "0" * 32]})
    assert error_of(response) == (404, "not_found")
    assert listed(client, headers) == ["first.txt"]
    assert error_of(client.post("/api/v1/trash", headers=headers, json={})) == (400, "invalid_json")


def test_a_folder_trashed_or_restored_twice_at_once_changes_once(app, client, headers):
    projects, _, _ = tree(client, headers)

    def twice(method, url, body=None):
        def work(number, start):
            other = app.test_client()
            start.wait()
            return other.open(url, method=method, headers=headers, json=body).status_code
        return sorted(at_once(2, work))

    assert twice("DELETE", f"/api/v1/folders/{projects['id']}") == [204, 404]
    assert [i["name"] for i in trash_listing(client, headers)["items"]] == ["Projects"]
    assert twice("POST", "/api/v1/trash/restore", {"folders": [projects["id"]]}) == [204, 404]
    root = client.get("/api/v1/folders/root", headers=headers).get_json()
    assert [(f["name"], f["files"]) for f in root["folders"]] == [("Projects", 3)], "restored once, not renamed"
    db.session.expire_all()
    assert db.session.execute(db.select(AuditEvent.action).filter(
        AuditEvent.action.in_(["trash", "restore"]))).scalars().all().count("restore") == 1
