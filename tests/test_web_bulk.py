"""Many items at once from the files page's and the trash page's checkboxes, without JavaScript: the form posts
the ticked ids and the button names the action; a refusal is flashed and changes nothing."""
import re

import pytest

from app.extensions import db
from app.models import File, Folder, Share, ShareItem
from tests.conftest import csrf_from
from tests.helpers import row_names, upload
from tests.test_web_folders import flashes, folder, folder_rows, stored, token


def parent_of(folder_id):
    db.session.expire_all()
    return db.session.execute(db.select(Folder).filter_by(public_id=folder_id)).scalar_one().parent


def bulk(client, action, files=(), folders=(), csrf=None, next_url=None):
    data = {"csrf_token": csrf or token(client), "action": action, "file": list(files), "folder": list(folders)}
    if next_url:
        data["next"] = next_url
    return client.post("/files/bulk", data=data)


def test_the_files_page_has_a_checkbox_per_row_in_one_form_and_a_toolbar(signed_in):
    client, _, headers = signed_in
    photos = folder(client, headers, "Photos")
    file = upload(client, headers, "beach.jpg", b"x")
    page = client.get("/files").get_data(as_text=True)
    assert f'<input type="checkbox" class="bulk-check" form="bulk-form" name="folder" value="{photos["id"]}" ' \
           f'id="select-folder-{photos["id"]}" aria-label="Select Photos">' in page
    assert f'<input type="checkbox" class="bulk-check" form="bulk-form" name="file" value="{file["id"]}" ' \
           f'id="select-file-{file["id"]}" aria-label="Select beach.jpg">' in page
    form = page.split('<form id="bulk-form"')[1].split("</form>")[0]
    assert 'action="/files/bulk"' in form and 'name="csrf_token"' in form
    buttons = re.findall(r'<button type="submit" class="button" name="action" value="(\w+)">([^<]*)</button>', form)
    assert buttons == [("move", "Move to…"), ("trash", "Move to trash"), ("visible", "Make visible to everyone"),
                       ("private", "Make private"), ("share", "Share")]
    assert 'data-zip-files=""' in form and 'role="group" aria-labelledby="bulk-heading"' in form
    assert '<label for="select-all">Select all on this page</label>' in form


def test_bulk_move_goes_through_a_folder_choice_page_and_moves_all(signed_in):
    client, _, headers = signed_in
    photos = folder(client, headers, "Photos")
    year = folder(client, headers, "2024", photos["id"])
    music = folder(client, headers, "Music")
    a = upload(client, headers, "a.txt", b"a")
    b = upload(client, headers, "b.txt", b"b")
    upload(client, headers, "stays.txt", b"c")

    response = bulk(client, "move", files=[a["id"], b["id"]], folders=[photos["id"]], next_url="/files?sort=name")
    assert response.status_code == 302 and response.headers["Location"].startswith("/files/bulk/move?")
    form = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<h1>Move 2 files and 1 folder</h1>" in form
    # Not into a chosen folder nor below it.
    assert re.findall(r'<label for="to-[0-9a-f]{32}">([^<]*)</label>', form) == [
        "Your files (where it is now)", "Your files/Music"]
    moved = client.post(response.headers["Location"], data={"csrf_token": csrf_from(form), "to": music["id"]})
    assert moved.status_code == 302 and moved.headers["Location"] == "/files?sort=name"
    assert stored(a["id"]).folder.public_id == music["id"] and stored(b["id"]).folder.public_id == music["id"]
    assert parent_of(photos["id"]).public_id == music["id"] and parent_of(year["id"]).public_id == photos["id"]
    page = client.get("/files").get_data(as_text=True)
    assert "Moved 2 files and 1 folder to Music." in flashes(page)
    assert row_names(page) == ["stays.txt"] and folder_rows(page) == ["Music"]


def test_a_bulk_move_onto_a_taken_name_or_into_itself_is_refused_and_moves_nothing(signed_in):
    client, _, headers = signed_in
    photos = folder(client, headers, "Photos")
    year = folder(client, headers, "2024", photos["id"])
    upload(client, headers, "beach.jpg", b"x", folder=photos["id"])
    free = upload(client, headers, "free.txt", b"y")
    taken = upload(client, headers, "beach.jpg", b"z")
    csrf = token(client)

    url = f"/files/bulk/move?file={free['id']}&file={taken['id']}"
    response = client.post(url, data={"csrf_token": csrf, "to": photos["id"]})
    assert response.status_code == 302 and response.headers["Location"].startswith("/files/bulk/move?")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "This folder already has something named beach.jpg." in flashes(page)
    assert stored(free["id"]).folder.is_root and stored(taken["id"]).folder.is_root  # all or none

    response = client.post(f"/files/bulk/move?file={free['id']}&folder={photos['id']}",
                           data={"csrf_token": csrf, "to": year["id"]})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Photos can&#39;t be moved into itself or a folder inside it." in flashes(page)
    assert stored(free["id"]).folder.is_root and parent_of(photos["id"]).is_root


def test_bulk_trash_of_files_and_folders_then_restore_and_purge_selected_from_the_trash_page(app, signed_in):
    client, _, headers = signed_in
    storage = app.extensions["locker.storage"]
    photos = folder(client, headers, "Photos")
    inside = upload(client, headers, "inside.jpg", b"i" * 10, folder=photos["id"])
    a = upload(client, headers, "a.txt", b"a")
    b = upload(client, headers, "b.txt", b"b")
    kept = upload(client, headers, "kept.txt", b"k")

    response = bulk(client, "trash", files=[a["id"], b["id"]], folders=[photos["id"]])
    assert response.status_code == 302 and response.headers["Location"] == "/files"
    page = client.get("/files").get_data(as_text=True)
    assert "Moved 2 files and 1 folder to the trash." in flashes(page)
    assert row_names(page) == ["kept.txt"] and folder_rows(page) == []
    assert {stored(f["id"]).status for f in (a, b, inside)} == {"trashed"} and stored(kept["id"]).status == "ready"

    trash_page = client.get("/trash").get_data(as_text=True)
    assert f'<input type="checkbox" class="bulk-check" form="trash-bulk" name="folder" value="{photos["id"]}" ' \
           f'id="select-folder-{photos["id"]}" aria-label="Select Photos">' in trash_page
    assert 'value="restore">Restore selected</button>' in trash_page
    assert 'value="purge">Delete forever selected…</button>' in trash_page
    csrf = csrf_from(trash_page)
    response = client.post("/trash/bulk", data={"csrf_token": csrf, "action": "restore", "file": [a["id"]],
                                                "folder": [photos["id"]]})
    assert response.headers["Location"] == "/trash"
    assert "Restored 1 file and 1 folder to where they were deleted from." in flashes(
        client.get("/trash").get_data(as_text=True))
    assert {stored(f["id"]).status for f in (a, inside)} == {"ready"} and stored(b["id"]).status == "trashed"

    key = stored(b["id"]).storage_key
    asked = client.post("/trash/bulk", data={"csrf_token": csrf, "action": "purge", "file": [b["id"]]})
    assert asked.status_code == 302 and asked.headers["Location"].startswith("/trash/bulk/purge?")
    confirm = client.get(asked.headers["Location"]).get_data(as_text=True)
    assert "Delete 1 file forever?" in confirm and "<strong>b.txt</strong>" in confirm
    assert stored(b["id"]).status == "trashed"  # asking changes nothing
    done = client.post(asked.headers["Location"], data={"csrf_token": csrf})
    assert done.headers["Location"] == "/trash"
    page = client.get("/trash").get_data(as_text=True)
    assert "Deleted 1 file for good." in flashes(page) and "The trash is empty." in page
    assert stored(b["id"]) is None or stored(b["id"]).status != "trashed"
    assert storage.stat(key) is None


def test_bulk_visibility_of_files_and_folders_refused(signed_in):
    client, _, headers = signed_in
    photos = folder(client, headers, "Photos")
    a = upload(client, headers, "a.txt", b"a")
    b = upload(client, headers, "b.txt", b"b")

    bulk(client, "visible", files=[a["id"], b["id"]])
    assert stored(a["id"]).visible_to_everyone and stored(b["id"]).visible_to_everyone
    page = client.get("/files").get_data(as_text=True)
    assert "2 files now visible to everyone (2 changed)." in flashes(page)
    bulk(client, "private", files=[a["id"]])
    assert not stored(a["id"]).visible_to_everyone and stored(b["id"]).visible_to_everyone

    response = bulk(client, "private", files=[b["id"]], folders=[photos["id"]])
    assert response.status_code == 302
    page = client.get("/files").get_data(as_text=True)
    assert any(message.startswith("Only files can be made private") for message in flashes(page))
    assert stored(b["id"]).visible_to_everyone  # nothing changed

    nothing = bulk(client, "trash")
    assert nothing.status_code == 302
    assert "Choose at least one file or folder first: tick its checkbox." in flashes(
        client.get("/files").get_data(as_text=True))


def test_bulk_share_makes_one_link_listing_the_files(signed_in):
    client, user, headers = signed_in
    photos = folder(client, headers, "Photos")
    a = upload(client, headers, "a.txt", b"a")
    b = upload(client, headers, "b.txt", b"b", folder=photos["id"])

    refused = bulk(client, "share", files=[a["id"]], folders=[photos["id"]])
    assert refused.status_code == 302
    assert "Only files can be shared as one link" in client.get("/files").get_data(as_text=True)
    assert db.session.execute(db.select(db.func.count(Share.id))).scalar_one() == 0

    response = bulk(client, "share", files=[a["id"], b["id"]])
    assert response.status_code == 302 and response.headers["Location"].startswith("/files/bulk/share?")
    form = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<h1>Share 2 files</h1>" in form and "<li>a.txt (1 byte)</li>" in form and "<li>b.txt (1 byte)</li>" in form
    created = client.post(response.headers["Location"], data={"csrf_token": csrf_from(form), "expiry": "7d"})
    html = created.get_data(as_text=True)
    assert created.status_code == 201, html
    assert "<h1>Link created</h1>" in html and "<strong>2 files</strong>" in html
    share = db.session.execute(db.select(Share).filter_by(owner_id=user.id)).scalar_one()
    assert share.is_selection
    items = db.session.execute(db.select(File.public_id).join(ShareItem, ShareItem.file_id == File.id)
                               .filter(ShareItem.share_id == share.id)).scalars().all()
    assert sorted(items) == sorted([a["id"], b["id"]])
    url = re.search(r'value="(http[^"]*/s/[^"]+)"', html).group(1)
    public = client.get(url.split("localhost", 1)[-1]).get_data(as_text=True)
    assert "a.txt" in public and "b.txt" in public


def test_bulk_posts_need_the_csrf_token(signed_in):
    client, _, headers = signed_in
    a = upload(client, headers, "a.txt", b"a")
    response = client.post("/files/bulk", data={"action": "trash", "file": [a["id"]]})
    assert response.status_code in (302, 400)
    assert stored(a["id"]).status == "ready"
    client.post(f"/files/{a['id']}/delete", data={"csrf_token": token(client)})
    for url, data in [("/trash/bulk", {"action": "restore", "file": [a["id"]]}),
                      (f"/trash/bulk/purge?file={a['id']}", {}),
                      ("/files/bulk", {"csrf_token": "forged", "action": "trash", "file": [a["id"]]})]:
        assert client.post(url, data=data).status_code in (302, 400)
    assert stored(a["id"]).status == "trashed"
    restored_without_token = client.post("/files/bulk/move?file=" + a["id"], data={"to": "root"})
    assert restored_without_token.status_code in (302, 400)


@pytest.mark.parametrize("action", ["trash", "visible", "move", "share"])
def test_another_users_ids_are_404_and_change_nothing(accounts, signed_in, action):
    owner_client, _, owner_headers = signed_in
    theirs = upload(owner_client, owner_headers, "theirs.txt", b"t")
    their_folder = folder(owner_client, owner_headers, "Private")
    intruder, user = accounts.signed_in_client()
    mine = upload(intruder, accounts.headers(user), "mine.txt", b"m")
    csrf = token(intruder)

    files = [mine["id"], theirs["id"]]
    folders = [their_folder["id"]] if action in ("trash", "move") else []
    response = bulk(intruder, action, files=files, folders=folders, csrf=csrf)
    if response.status_code == 302:  # move and share go to a page first: that page is the 404
        response = intruder.get(response.headers["Location"])
    assert response.status_code == 404
    if action in ("move", "trash"):
        assert intruder.post(f"/files/bulk/move?file={mine['id']}&folder={their_folder['id']}",
                             data={"csrf_token": csrf, "to": "root"}).status_code == 404
    assert intruder.post(f"/files/bulk/share?file={mine['id']}&file={theirs['id']}",
                         data={"csrf_token": csrf, "expiry": "7d"}).status_code == 404
    assert intruder.post("/trash/bulk", data={"csrf_token": csrf, "action": "restore",
                                              "file": [theirs["id"]]}).status_code == 404
    assert intruder.get(f"/trash/bulk/purge?folder={their_folder['id']}").status_code == 404
    for file in (mine, theirs):
        row = stored(file["id"])
        assert row.status == "ready" and not row.visible_to_everyone and row.folder.is_root
    assert parent_of(their_folder["id"]).is_root
    assert db.session.execute(db.select(db.func.count(Share.id))).scalar_one() == 0
