"""Links to a folder or a selection of files, and zip lists (for the link's recipient and for the owner)."""
import pytest

from app.extensions import db
from app.models import Share
from tests.conftest import csrf_from
from tests.helpers import path, send, sha256, upload

DATA = {"top.txt": b"top level\n" * 10, "2024/beach.jpg": b"\xff\xd8\xff not really a jpeg " * 40,
        "2024/deep/ünïcødé – notes.txt": "ünïcødé\n".encode() * 30}


def upload_into(client, headers, folder_id, relative, data):
    folder_path, _, name = relative.rpartition("/")
    return upload(client, headers, name, data, folder=folder_id, sha256=sha256(data),
                  **({"path": folder_path} if folder_path else {}))


@pytest.fixture
def tree(client, headers):
    """A folder "Trip" with nested files, another file outside it, and a trashed file inside it."""
    folder = client.post("/api/v1/folders", headers=headers, json={"name": "Trip"}).get_json()
    made = {relative: upload_into(client, headers, folder["id"], relative, data) for relative, data in DATA.items()}
    gone = upload_into(client, headers, folder["id"], "2024/gone.txt", b"deleted")
    assert client.delete(f"/api/v1/files/{gone['id']}", headers=headers).status_code == 204
    upload_into(client, headers, folder["id"], "2024/old/in trashed folder.txt", b"trashed with its folder")
    old = client.get(f"/api/v1/folders/{folder['id']}", headers=headers).get_json()["folders"]
    year = next(item for item in old if item["name"] == "2024")
    old = next(item for item in client.get(f"/api/v1/folders/{year['id']}", headers=headers).get_json()["folders"]
               if item["name"] == "old")
    assert client.delete(f"/api/v1/folders/{old['id']}", headers=headers).status_code == 204
    outside = upload(client, headers, "outside.txt", b"not in the folder")
    return {"folder": folder, "files": made, "outside": outside}


def link(client, headers, **body):
    response = client.post("/api/v1/shares", headers=headers, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def open_page(app, link_json, recipient=None):
    recipient = recipient or app.test_client()
    page = recipient.get(path(link_json))
    return recipient, page


def zip_list(recipient, link_json, page):
    return recipient.post(f"{path(link_json)}/zip-list",
                          headers={"X-CSRFToken": csrf_from(page.get_data(as_text=True))})


def fetch_all(client, listed):
    """Follow every signed URL of a zip list: {path: bytes}."""
    got = {}
    for entry in listed["files"]:
        status, _, body = send(client, "GET", entry["url"])
        assert status == 200
        got[entry["path"]] = body
    return got


def test_a_folder_link_lists_nested_files_with_paths_but_not_trashed_ones(app, client, headers, tree):
    shared = link(client, headers, folder_id=tree["folder"]["id"], note="Holiday")
    assert shared["kind"] == "folder" and shared["folder_id"] == tree["folder"]["id"] and shared["file_id"] is None
    recipient, page = open_page(app, shared)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Holiday" in html and "Download all" in html
    for relative in DATA:
        assert f'data-path="{relative}"' in html
    assert "gone.txt" not in html and "outside.txt" not in html and "in trashed folder" not in html

    listed = zip_list(recipient, shared, page)
    assert listed.status_code == 200 and listed.get_json()["name"] == "Trip.zip"
    assert fetch_all(client, listed.get_json()) == DATA
    assert {entry["path"]: entry["sha256"] for entry in listed.get_json()["files"]} == {
        relative: sha256(data) for relative, data in DATA.items()}
    items = client.get("/api/v1/shares", headers=headers).get_json()["items"]
    assert items[0]["kind"] == "folder" and items[0]["folder_name"] == "Trip" and items[0]["download_count"] == 1


def test_each_file_of_a_folder_link_downloads_on_its_own(app, client, headers, tree):
    shared = link(client, headers, folder_id=tree["folder"]["id"])
    recipient, page = open_page(app, shared)
    file = tree["files"]["2024/deep/ünïcødé – notes.txt"]
    response = recipient.post(f"{path(shared)}/files/{file['id']}/download",
                              data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert response.status_code == 302
    status, response_headers, body = send(client, "GET", response.headers["Location"])
    assert status == 200 and body == DATA["2024/deep/ünïcødé – notes.txt"]
    # A file outside the folder is not reachable through the link.
    outside = recipient.post(f"{path(shared)}/files/{tree['outside']['id']}/download",
                             data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert outside.status_code == 404


def test_a_selection_link_hands_out_just_those_files(app, client, headers, tree):
    chosen = [tree["files"]["top.txt"], tree["outside"]]
    shared = link(client, headers, file_ids=[file["id"] for file in chosen])
    assert shared["kind"] == "selection" and sorted(shared["file_ids"]) == sorted(file["id"] for file in chosen)
    recipient, page = open_page(app, shared)
    html = page.get_data(as_text=True)
    assert 'data-path="top.txt"' in html and 'data-path="outside.txt"' in html and "beach.jpg" not in html
    listed = zip_list(recipient, shared, page).get_json()
    assert fetch_all(client, listed) == {"top.txt": DATA["top.txt"], "outside.txt": b"not in the folder"}
    listed_shares = client.get("/api/v1/shares", headers=headers).get_json()["items"]
    assert sorted(listed_shares[0]["file_ids"]) == sorted(file["id"] for file in chosen)
    # A file of the selection in the trash is left out; the rest still download.
    assert client.delete(f"/api/v1/files/{tree['outside']['id']}", headers=headers).status_code == 204
    recipient, page = open_page(app, shared)
    assert "outside.txt" not in page.get_data(as_text=True)
    assert fetch_all(client, zip_list(recipient, shared, page).get_json()) == {"top.txt": DATA["top.txt"]}


def test_another_users_folder_or_files_are_404_and_one_target_is_required(client, headers, accounts, tree):
    stranger = accounts.headers(accounts.create())
    assert client.post("/api/v1/shares", headers=stranger, json={"folder_id": tree["folder"]["id"]}).status_code == 404
    assert client.post("/api/v1/shares", headers=stranger,
                       json={"file_ids": [tree["outside"]["id"]]}).status_code == 404
    assert client.post("/api/v1/zip-list", headers=stranger,
                       json={"folders": [tree["folder"]["id"]]}).status_code == 404
    assert client.post("/api/v1/zip-list", headers=stranger, json={"files": [tree["outside"]["id"]]}).status_code == 404
    both = client.post("/api/v1/shares", headers=headers,
                       json={"folder_id": tree["folder"]["id"], "file_id": tree["outside"]["id"]})
    assert both.status_code == 400
    assert client.post("/api/v1/shares", headers=headers, json={"file_ids": []}).status_code == 400
    assert client.post("/api/v1/shares", headers=headers, json={}).status_code == 400
    too_many = client.post("/api/v1/shares", headers=headers, json={"file_ids": [tree["outside"]["id"]] * 1001})
    assert too_many.status_code == 400


def test_the_download_limit_counts_each_file_and_the_zip_once(app, client, headers, tree):
    shared = link(client, headers, folder_id=tree["folder"]["id"], max_downloads=2)
    recipient, page = open_page(app, shared)
    token = csrf_from(page.get_data(as_text=True))
    file = tree["files"]["top.txt"]
    assert recipient.post(f"{path(shared)}/files/{file['id']}/download", data={"csrf_token": token}).status_code == 302
    assert zip_list(recipient, shared, page).status_code == 200  # the second and last
    assert db.session.execute(db.select(Share.download_count)).scalar_one() == 2
    assert zip_list(recipient, shared, page).status_code == 410
    assert recipient.post(f"{path(shared)}/files/{file['id']}/download", data={"csrf_token": token}).status_code == 410
    assert recipient.get(path(shared)).status_code == 410


def test_a_trashed_folder_ends_its_link_until_restored(app, client, headers, tree):
    shared = link(client, headers, folder_id=tree["folder"]["id"])
    assert client.delete(f"/api/v1/folders/{tree['folder']['id']}", headers=headers).status_code == 204
    recipient, page = open_page(app, shared)
    assert page.status_code == 410 and "trash" in page.get_data(as_text=True)
    restored = client.post("/api/v1/trash/restore", headers=headers, json={"folders": [tree["folder"]["id"]]})
    assert restored.status_code == 204, restored.get_json()
    recipient, page = open_page(app, shared)
    assert page.status_code == 200 and 'data-path="2024/beach.jpg"' in page.get_data(as_text=True)
    # Purged for good, the link says it ended.
    client.delete(f"/api/v1/folders/{tree['folder']['id']}", headers=headers)
    client.post("/api/v1/trash/purge", headers=headers, json={"folders": [tree["folder"]["id"]]})
    assert open_page(app, shared)[1].status_code == 410


def test_a_password_is_asked_first(app, client, headers, tree):
    shared = link(client, headers, folder_id=tree["folder"]["id"], password="open sesame")
    recipient, page = open_page(app, shared)
    html = page.get_data(as_text=True)
    assert "password" in html.lower() and "beach.jpg" not in html
    refused = zip_list(recipient, shared, page)
    assert refused.status_code == 401
    unlocked = recipient.post(path(shared), data={"csrf_token": csrf_from(html), "password": "open sesame"})
    assert unlocked.status_code == 302
    page = recipient.get(path(shared))
    assert 'data-path="2024/beach.jpg"' in page.get_data(as_text=True)
    assert fetch_all(client, zip_list(recipient, shared, page).get_json()) == DATA


def test_the_owners_zip_list_takes_files_and_folders(client, headers, tree):
    response = client.post("/api/v1/zip-list", headers=headers,
                           json={"folders": [tree["folder"]["id"]], "files": [tree["outside"]["id"]]})
    assert response.status_code == 200, response.get_json()
    listed = response.get_json()
    expected = {f"Trip/{relative}": data for relative, data in DATA.items()} | {"outside.txt": b"not in the folder"}
    assert fetch_all(client, listed) == expected
    one = client.post("/api/v1/zip-list", headers=headers, json={"folders": [tree["folder"]["id"]]}).get_json()
    assert one["name"] == "Trip.zip"


def test_the_owner_makes_a_folder_link_in_the_browser(app, signed_in):
    signed_in, _, owner_headers = signed_in
    folder = signed_in.post("/api/v1/folders", json={"name": "Album"}, headers=owner_headers)
    assert folder.status_code == 201, folder.get_json()
    page = signed_in.get(f"/folders/{folder.get_json()['id']}/share")
    assert page.status_code == 200 and "Share Album" in page.get_data(as_text=True)
    created = signed_in.post(f"/folders/{folder.get_json()['id']}/share",
                             data={"csrf_token": csrf_from(page.get_data(as_text=True)), "expires_in": "7d",
                                   "utc_offset_minutes": "0"})
    assert created.status_code == 201 and "/s/" in created.get_data(as_text=True)
    listing = signed_in.get("/shares").get_data(as_text=True)
    assert "folder Album" in listing


def test_a_folder_links_settings_change_like_a_file_links(app, client, headers, tree):
    shared = link(client, headers, folder_id=tree["folder"]["id"], max_downloads=1)
    changed = client.patch(f"/api/v1/shares/{shared['id']}", headers=headers, json={"max_downloads": 3, "note": "More"})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["kind"] == "folder" and changed.get_json()["max_downloads"] == 3
    recipient, page = open_page(app, shared)
    for _ in range(3):
        assert zip_list(recipient, shared, page).status_code == 200
    assert zip_list(recipient, shared, page).status_code == 410
    ended = client.patch(f"/api/v1/shares/{shared['id']}", headers=headers, json={"note": "Again"})
    assert ended.status_code == 409
    assert client.delete(f"/api/v1/shares/{shared['id']}", headers=headers).status_code == 204
    assert client.get("/api/v1/shares", headers=headers).get_json()["items"][0]["state"] == "revoked"
