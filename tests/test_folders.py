"""Folders through the API: making, listing, renaming and moving them, on both backends and databases.

A folder's names are unique across its files and folders; moves change rows, never keys.
"""
import pytest

from app.extensions import db
from app.models import File, Folder
from tests.helpers import at_once, download, upload


def make(client, headers, name, parent=None):
    body = {"name": name} if parent is None else {"name": name, "parent": parent}
    return client.post("/api/v1/folders", headers=headers, json=body)


def folder(client, headers, name, parent=None):
    response = make(client, headers, name, parent)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def listed(client, headers, folder_id="root", **query):
    response = client.get("/api/v1/files", headers=headers, query_string={"folder": folder_id, **query})
    assert response.status_code == 200, response.get_json()
    return [item["name"] for item in response.get_json()["items"]]


def error_of(response):
    return response.status_code, response.get_json()["error"]["code"]


def key_of(file_id):
    db.session.expire_all()
    return db.session.execute(db.select(File.storage_key).filter_by(public_id=file_id)).scalar_one()


def test_folders_nest_list_before_files_and_show_breadcrumbs_counts_and_sizes(client, headers):
    photos = folder(client, headers, "Photos")
    year = folder(client, headers, "2024", photos["id"])
    upload(client, headers, "a.jpg", b"x" * 10, folder=year["id"])
    upload(client, headers, "b.jpg", b"y" * 5, folder=photos["id"])
    upload(client, headers, "top.txt", b"z")

    root = client.get("/api/v1/folders/root", headers=headers).get_json()
    assert [(f["name"], f["files"], f["size"]) for f in root["folders"]] == [("Photos", 2, 15)]
    assert listed(client, headers) == ["top.txt"]
    inner = client.get(f"/api/v1/folders/{year['id']}", headers=headers).get_json()
    assert inner["path"] == "Photos/2024"
    assert [crumb["name"] for crumb in inner["breadcrumbs"]] == ["", "Photos", "2024"]
    assert listed(client, headers, year["id"]) == ["a.jpg"]
    everywhere = client.get("/api/v1/files", headers=headers, query_string={"q": "jpg"}).get_json()["items"]
    assert sorted((item["name"], item["path"]) for item in everywhere) == [("a.jpg", "Photos/2024"),
                                                                           ("b.jpg", "Photos")]


def test_an_upload_path_makes_missing_folders_once(client, headers):
    upload(client, headers, "one.txt", b"1", path="Trip/Day 1")
    upload(client, headers, "two.txt", b"2", path="Trip/Day 1")
    upload(client, headers, "three.txt", b"3", path="Trip\\Day 2")
    root = client.get("/api/v1/folders/root", headers=headers).get_json()
    assert [f["name"] for f in root["folders"]] == ["Trip"]
    trip = client.get(f"/api/v1/folders/{root['folders'][0]['id']}", headers=headers).get_json()
    assert [(f["name"], f["files"]) for f in trip["folders"]] == [("Day 1", 2), ("Day 2", 1)]


@pytest.mark.parametrize("path, code", [("../up", "invalid_path"), ("a/CON", "invalid_name"),
                                        ("/".join(["d"] * 33), "too_deep")])
def test_a_bad_upload_path_is_refused_and_makes_nothing(client, headers, path, code):
    response = client.post("/api/v1/uploads", headers=headers, json={"name": "f.txt", "size": 1, "path": path})
    assert error_of(response) == (400, code)
    assert client.get("/api/v1/folders/root", headers=headers).get_json()["folders"] == []


def test_names_are_unique_in_a_folder_across_files_and_folders(client, headers):
    upload(client, headers, "report", b"file")
    assert error_of(make(client, headers, "report")) == (409, "name_taken")
    folder(client, headers, "Archive")
    # An upload with a taken name is numbered, as it always was, and so is one named like a folder.
    assert upload(client, headers, "Archive", b"file")["name"] == "Archive (1)"
    assert upload(client, headers, "report", b"again")["name"] == "report (1)"
    renamed = client.patch(f"/api/v1/folders/{folder(client, headers, 'Other')['id']}", headers=headers,
                           json={"name": "report"})
    assert error_of(renamed) == (409, "name_taken")
    # The same names are free in another folder.
    inner = folder(client, headers, "Archive-2")
    assert folder(client, headers, "report", inner["id"])["name"] == "report"


def test_moving_files_and_folders_keeps_keys_and_refuses_a_taken_name(client, headers):
    docs, old = folder(client, headers, "Docs"), folder(client, headers, "Old")
    file = upload(client, headers, "plan.txt", b"the plan")
    key = key_of(file["id"])
    moved = client.post("/api/v1/move", headers=headers, json={"to": docs["id"], "files": [file["id"]],
                                                                "folders": [old["id"]]})
    assert moved.status_code == 200, moved.get_json()
    assert [f["name"] for f in moved.get_json()["folders"]] == ["Old"]
    assert listed(client, headers, docs["id"]) == ["plan.txt"] and listed(client, headers) == []
    assert key_of(file["id"]) == key, "a move never copies bytes"
    status, _, body = download(client, headers, file["id"])
    assert (status, body) == (200, b"the plan")

    other = upload(client, headers, "plan.txt", b"another plan")
    refused = client.patch(f"/api/v1/files/{other['id']}", headers=headers, json={"folder": docs["id"]})
    assert error_of(refused) == (409, "name_taken")
    assert listed(client, headers) == ["plan.txt"], "a refused move changes nothing"
    back = client.patch(f"/api/v1/files/{file['id']}", headers=headers, json={"folder": "root", "name": "plan 1.txt"})
    assert back.status_code == 200 and (back.get_json()["path"], back.get_json()["name"]) == ("", "plan 1.txt")


def test_a_folder_cannot_move_into_itself_or_below_itself(client, headers):
    top = folder(client, headers, "Top")
    middle = folder(client, headers, "Middle", top["id"])
    bottom = folder(client, headers, "Bottom", middle["id"])
    for target in (top, middle, bottom):
        response = client.patch(f"/api/v1/folders/{top['id']}", headers=headers, json={"parent": target["id"]})
        assert error_of(response) == (400, "into_itself")
    moved = client.patch(f"/api/v1/folders/{bottom['id']}", headers=headers, json={"parent": "root"})
    assert moved.status_code == 200 and moved.get_json()["path"] == "Bottom"
    db.session.expire_all()
    assert db.session.execute(db.select(Folder.depth).filter_by(public_id=bottom["id"])).scalar_one() == 1


def test_moving_a_tree_keeps_it_within_the_depth_limit(client, headers, monkeypatch):
    from app.services import folders
    monkeypatch.setattr(folders, "MAX_DEPTH", 3)
    a = folder(client, headers, "a")
    b = folder(client, headers, "b", a["id"])
    folder(client, headers, "c", b["id"])
    assert error_of(make(client, headers, "d", client.get(f"/api/v1/folders/{b['id']}", headers=headers)
                         .get_json()["folders"][0]["id"])) == (400, "too_deep")
    other = folder(client, headers, "other")
    response = client.patch(f"/api/v1/folders/{a['id']}", headers=headers, json={"parent": other["id"]})
    assert error_of(response) == (400, "too_deep")


def test_another_users_folder_is_absent(client, headers, accounts):
    mine = folder(client, headers, "Mine")
    theirs = accounts.headers(accounts.create("mallory"))
    assert error_of(client.get(f"/api/v1/folders/{mine['id']}", headers=theirs)) == (404, "not_found")
    assert error_of(make(client, theirs, "x", mine["id"])) == (404, "not_found")
    own = upload(client, theirs, "t.txt", b"t")
    assert error_of(client.patch(f"/api/v1/files/{own['id']}", headers=theirs, json={"folder": mine["id"]})) == (
        404, "not_found")
    assert error_of(client.get("/api/v1/files", headers=theirs, query_string={"folder": mine["id"]})) == (
        404, "not_found")


def test_concurrent_moves_and_renames_into_one_name_leave_one_winner(app, client, headers, owner):
    target = folder(client, headers, "Target")
    sources = [folder(client, headers, f"s{n}") for n in range(4)]
    files = [upload(client, headers, "same.txt", b"%d" % n, folder=source["id"]) for n, source in
             enumerate(sources)]
    folder_to_rename = folder(client, headers, "x", target["id"])

    def work(number, start):
        with app.test_client() as other:
            start.wait()
            if number < len(files):
                return other.post("/api/v1/move", headers=headers, json={"to": target["id"],
                                                                         "files": [files[number]["id"]]}).status_code
            return other.patch(f"/api/v1/folders/{folder_to_rename['id']}", headers=headers,
                               json={"name": "same.txt"}).status_code

    statuses = sorted(at_once(len(files) + 1, work))
    assert statuses.count(200) == 1 and set(statuses) <= {200, 409}, statuses
    db.session.expire_all()
    folder_row = db.session.execute(db.select(Folder).filter_by(public_id=target["id"])).scalar_one()
    names = [*db.session.execute(db.select(File.name).filter_by(folder_id=folder_row.id, status="ready")).scalars(),
             *db.session.execute(db.select(Folder.name).filter_by(parent_id=folder_row.id)).scalars()]
    assert sorted(names).count("same.txt") == 1, names


def test_many_files_are_made_visible_or_private_at_once_all_or_none(client, headers, accounts):
    chosen = [upload(client, headers, f"f{n}.txt", b"x")["id"] for n in range(3)]
    response = client.post("/api/v1/files/visibility", headers=headers,
                           json={"files": chosen, "visible_to_everyone": True})
    assert response.status_code == 200 and response.get_json() == {"changed": 3}
    other = accounts.headers(accounts.create("watcher"))
    seen = client.get("/api/v1/files", headers=other, query_string={"scope": "everyone"}).get_json()["items"]
    assert sorted(item["name"] for item in seen) == ["f0.txt", "f1.txt", "f2.txt"]
    assert all(item["path"] is None for item in seen), "another owner's folders are not shown"
    refused = client.post("/api/v1/files/visibility", headers=headers,
                          json={"files": [chosen[0], "f" * 32], "visible_to_everyone": False})
    assert error_of(refused) == (404, "not_found")
    assert len(client.get("/api/v1/files", headers=other, query_string={"scope": "everyone"}).get_json()["items"]) == 3


def test_two_folders_made_at_once_with_one_name_give_one_folder(app, headers):
    def work(number, start):
        with app.test_client() as client:
            start.wait()
            return client.post("/api/v1/folders", headers=headers, json={"name": "Reports"}).status_code

    assert sorted(at_once(4, work)) == [201, 409, 409, 409]
    db.session.expire_all()
    assert db.session.execute(db.select(Folder.name).filter_by(name="Reports")).scalars().all() == ["Reports"]


def test_uploads_of_one_tree_at_once_make_each_folder_once(app, headers):
    def work(number, start):
        client = app.test_client()
        start.wait()
        return upload(client, headers, f"{number}.txt", b"n", path="Shared/Deep")["path"]

    assert at_once(4, work) == ["Shared/Deep"] * 4
    db.session.expire_all()
    assert sorted(db.session.execute(db.select(Folder.name).filter(Folder.parent_id.is_not(None))).scalars()) == [
        "Deep", "Shared"]


def test_a_new_users_root_folder_keeps_its_id(client, headers):
    first = client.get("/api/v1/folders/root", headers=headers).get_json()["id"]
    assert client.get("/api/v1/folders/root", headers=headers).get_json()["id"] == first
    assert folder(client, headers, "Inside", first)["path"] == "Inside"


def test_a_folders_subfolders_come_in_pages_by_name(client, headers):
    for number in (3, 1, 4, 0, 2):
        folder(client, headers, f"f{number}")
    seen, cursor = [], None
    while True:
        query = {"folders_limit": 2, **({"folders_cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/folders/root", headers=headers, query_string=query).get_json()
        seen.append([f["name"] for f in page["folders"]])
        cursor = page["folders_next_cursor"]
        if cursor is None:
            break
    assert seen == [["f0", "f1"], ["f2", "f3"], ["f4"]]
    bad = client.get("/api/v1/folders/root", headers=headers, query_string={"folders_cursor": "bm90LWEtY3Vyc29y"})
    assert error_of(bad) == (400, "invalid_cursor")


def test_folder_counts_follow_uploads_moves_the_trash_and_purges(client, headers, owner):
    """What a folder row says it holds (kept by the database as files change) matches its files at every step."""
    def shown():
        root = client.get("/api/v1/folders/root", headers=headers).get_json()
        return {f["name"]: (f["files"], f["size"]) for f in root["folders"]}

    def trash_call(path, **items):
        body = {"files": [], "folders": [], **items}
        response = client.post(f"/api/v1/trash{path}", headers=headers, json=body)
        assert response.status_code == 204, response.get_json()

    photos, music = folder(client, headers, "Photos"), folder(client, headers, "Music")
    year = folder(client, headers, "2024", photos["id"])
    a = upload(client, headers, "a.jpg", b"x" * 10, folder=year["id"])
    b = upload(client, headers, "b.jpg", b"y" * 5, folder=photos["id"])
    started = client.post("/api/v1/uploads", headers=headers, json={
        "name": "pending.bin", "size": 7, "content_type": "application/octet-stream", "folder": music["id"]})
    assert started.status_code == 201, started.get_json()  # pending: not counted until it completes
    assert shown() == {"Photos": (2, 15), "Music": (0, 0)}

    assert client.patch(f"/api/v1/files/{a['id']}", headers=headers, json={"name": "c.jpg"}).status_code == 200
    moved = client.post("/api/v1/move", headers=headers, json={"to": music["id"], "files": [a["id"]], "folders": []})
    assert moved.status_code == 200, moved.get_json()
    assert shown() == {"Photos": (1, 5), "Music": (1, 10)}
    moved = client.post("/api/v1/move", headers=headers, json={"to": music["id"], "files": [],
                                                                "folders": [year["id"]]})
    assert moved.status_code == 200, moved.get_json()
    upload(client, headers, "d.jpg", b"z" * 3, folder=year["id"])
    assert shown() == {"Photos": (1, 5), "Music": (2, 13)}

    trash_call("", folders=[year["id"]], files=[b["id"]])
    assert shown() == {"Photos": (0, 0), "Music": (1, 10)}
    trash_call("/restore", folders=[year["id"]], files=[b["id"]])
    assert shown() == {"Photos": (1, 5), "Music": (2, 13)}
    trash_call("", files=[b["id"]])
    trash_call("/purge", files=[b["id"]])
    assert client.delete(f"/api/v1/folders/{music['id']}", headers=headers).status_code == 204
    assert shown() == {"Photos": (0, 0)}
    db.session.expire_all()  # and each of the owner's folders holds, directly, what its columns say
    stored = db.session.execute(db.select(Folder.id, Folder.ready_files, Folder.ready_bytes)
                                .filter(Folder.owner_id == owner.id)).all()
    counted = dict((folder_id, (files, size)) for folder_id, files, size in db.session.execute(
        db.select(File.folder_id, db.func.count(File.id), db.func.sum(File.size))
        .filter(File.owner_id == owner.id, File.status == "ready").group_by(File.folder_id)).all())
    assert {folder_id: (files, size) for folder_id, files, size in stored} == \
        {folder_id: counted.get(folder_id, (0, 0)) for folder_id, _, _ in stored}


def test_opposite_moves_at_the_same_moment_both_go_through(client, headers):
    """Each move changes the counts of the folder its file leaves as well as the one it enters; the two
    moves take those folders' locks in one order, so neither waits on the other forever (a deadlock,
    which PostgreSQL would end by failing one of them)."""
    photos, music = folder(client, headers, "Photos"), folder(client, headers, "Music")
    a = upload(client, headers, "a.jpg", b"x" * 10, folder=photos["id"])
    b = upload(client, headers, "b.jpg", b"y" * 5, folder=music["id"])
    places = {a["id"]: (photos["id"], music["id"]), b["id"]: (music["id"], photos["id"])}

    def move_back_and_forth(number, go):
        file_id = (a["id"], b["id"])[number]
        mine = client.application.test_client()
        statuses = []
        go.wait()
        for round_number in range(20):
            to = places[file_id][(round_number + 1) % 2]
            statuses.append(mine.post("/api/v1/move", headers=headers,
                                      json={"to": to, "files": [file_id], "folders": []}).status_code)
        return statuses

    assert at_once(2, move_back_and_forth) == [[200] * 20] * 2
    root = client.get("/api/v1/folders/root", headers=headers).get_json()
    assert {f["name"]: (f["files"], f["size"]) for f in root["folders"]} == {"Photos": (1, 10), "Music": (1, 5)}
