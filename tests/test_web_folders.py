"""Folders and the trash in the browser's pages (no JavaScript): the files page of a folder, making, renaming,
moving and deleting folders, and the trash page's restore, delete forever and empty, on both backends."""
import re

import pytest

from app.extensions import db
from app.models import File, Folder
from app.services import folders
from tests.conftest import csrf_from
from tests.helpers import path, row_names, share, upload


def folder(client, headers, name, parent=None):
    response = client.post("/api/v1/folders", headers=headers, json={"name": name, **({"parent": parent} if parent else {})})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def folder_rows(html):
    """The folder rows' names, in order."""
    return re.findall(r'<a class="folder-link" href="[^"]*"><span class="folder-mark" aria-hidden="true">▸ </span>([^<]*)</a>',
                      html)


def flashes(html):
    return re.findall(r'<p class="flash flash-\w+" role="\w+">([^<]*)</p>', html)


def stored(file_id):
    db.session.expire_all()
    return db.session.execute(db.select(File).filter_by(public_id=file_id)).scalar_one_or_none()


def token(client, path="/files"):
    return csrf_from(client.get(path).get_data(as_text=True))


def test_a_folder_page_has_breadcrumbs_and_folders_before_files_with_counts_and_sizes(signed_in):
    client, _, headers = signed_in
    photos = folder(client, headers, "Photos")
    year = folder(client, headers, "2024", photos["id"])
    folder(client, headers, "Albums", photos["id"])
    upload(client, headers, "a.jpg", b"x" * 2000, folder=year["id"])
    upload(client, headers, "b.jpg", b"y" * 5, folder=photos["id"])
    upload(client, headers, "top.txt", b"z")

    root = client.get("/files").get_data(as_text=True)
    assert folder_rows(root) == ["Photos"] and row_names(root) == ["top.txt"]
    assert root.index('class="folder-row"') < root.index('data-file-id=')
    assert "Folder, 2 files" in root and "2.0 KiB" in root  # 2,005 bytes at any depth
    assert re.search(r'<nav aria-label="Breadcrumb" class="breadcrumbs">\s*<ol>\s*<li><a href="/files"\s+'
                     r'data-drop-folder="root"\s+aria-current="page">Your files</a></li>\s*</ol>', root)

    inside = client.get(f"/files?folder={photos['id']}").get_data(as_text=True)
    assert folder_rows(inside) == ["2024", "Albums"] and row_names(inside) == ["b.jpg"]
    assert "Folder, 1 file<" in inside and "Folder, 0 files" in inside
    deep = client.get(f"/files?folder={year['id']}").get_data(as_text=True)
    crumbs = re.findall(r'<li><a href="([^"]*)"\s+data-drop-folder="[^"]*"\s+(aria-current="page")?>([^<]*)</a></li>',
                        deep)
    assert crumbs == [("/files", "", "Your files"), (f"/files?folder={photos['id']}", "", "Photos"),
                      (f"/files?folder={year['id']}", 'aria-current="page"', "2024")]
    assert row_names(deep) == ["a.jpg"] and folder_rows(deep) == []
    assert "<h1>2024</h1>" in deep


def test_search_looks_in_the_folder_or_with_everywhere_in_all_folders_with_their_paths(signed_in):
    client, _, headers = signed_in
    photos = folder(client, headers, "Photos")
    upload(client, headers, "beach.jpg", b"x", folder=photos["id"])
    upload(client, headers, "beach notes.txt", b"y")

    assert row_names(client.get("/files?q=beach").get_data(as_text=True)) == ["beach notes.txt"]
    inside = client.get(f"/files?folder={photos['id']}&q=beach").get_data(as_text=True)
    assert row_names(inside) == ["beach.jpg"] and folder_rows(inside) == []
    assert '<input type="hidden" name="folder" value="%s">' % photos["id"] in inside
    assert '<label for="search-everywhere">All folders and files shared with everyone</label>' in inside

    everywhere = client.get(f"/files?folder={photos['id']}&q=beach&everywhere=1&sort=name&order=asc")
    html = everywhere.get_data(as_text=True)
    assert f'in <a href="/files?folder={photos["id"]}">Photos</a>' in html
    assert 'in <a href="/files">Your files</a>' in html
    assert 'id="search-everywhere" name="everywhere" value="1" checked' in html
    # Sorting and the page's own links keep the folder and the choice.
    assert f'href="/files?sort=name&amp;order=desc&amp;q=beach&amp;folder={photos["id"]}&amp;everywhere=1"' in html


def test_paging_and_next_keep_the_folder(app, signed_in):
    client, _, headers = signed_in
    app.config["FILES_PER_PAGE"] = 2
    photos = folder(client, headers, "Photos")
    for name in ["a.txt", "b.txt", "c.txt"]:
        upload(client, headers, name, b"x", folder=photos["id"])
    first = client.get(f"/files?folder={photos['id']}&sort=name&order=asc").get_data(as_text=True)
    assert row_names(first) == ["a.txt", "b.txt"]
    next_link = re.search(r'<a href="([^"]*)" rel="next">', first).group(1).replace("&amp;", "&")
    assert f"folder={photos['id']}" in next_link
    assert row_names(client.get(next_link).get_data(as_text=True)) == ["c.txt"]
    # A row's rename link comes back to this folder's list.
    rename = re.search(r'href="(/files/\w+/rename\?next=[^"]*)"', first).group(1)
    assert f'folder%3D{photos["id"]}' in rename and "sort%3Dname" in rename


def test_new_folder_is_made_here_and_a_taken_or_bad_name_is_flashed_and_changes_nothing(signed_in):
    client, user, headers = signed_in
    photos = folder(client, headers, "Photos")
    upload(client, headers, "notes.txt", b"x")
    page = client.get(f"/files?folder={photos['id']}").get_data(as_text=True)
    assert '<label for="new-folder-name">New folder in Photos</label>' in page
    response = client.post("/folders", data={"csrf_token": csrf_from(page), "name": " 2024 ", "parent": photos["id"]})
    assert response.status_code == 302 and response.headers["Location"] == f"/files?folder={photos['id']}"
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert folder_rows(html) == ["2024"] and "Made the folder 2024." in flashes(html)

    count = db.session.execute(db.select(db.func.count(Folder.id))).scalar_one()
    for name, words in [("notes.txt", "This folder already has something named notes.txt."),
                        ("Photos", "This folder already has something named Photos."),
                        ("a/b", "can&#39;t contain any of"), ("   ", "Give the folder a name.")]:
        response = client.post("/folders", data={"csrf_token": token(client), "name": name})
        assert response.status_code == 302 and response.headers["Location"] == "/files"
        html = client.get("/files").get_data(as_text=True)
        assert any(words in flash for flash in flashes(html)), (name, flashes(html))
    assert db.session.execute(db.select(db.func.count(Folder.id))).scalar_one() == count
    # Without the CSRF token nothing is made.
    client.post("/folders", data={"name": "Sneaky"})
    assert db.session.execute(db.select(db.func.count(Folder.id))).scalar_one() == count


def test_rename_a_folder(signed_in):
    client, _, headers = signed_in
    photos = folder(client, headers, "Photos")
    folder(client, headers, "Music")
    form = client.get(f"/folders/{photos['id']}/rename?next=/files?sort%3Dname")
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and "<h1>Rename Photos</h1>" in html and 'value="Photos"' in html
    taken = client.post(f"/folders/{photos['id']}/rename", data={"csrf_token": csrf_from(html), "name": "Music"})
    assert taken.status_code == 409 and "This folder already has something named Music." in taken.get_data(as_text=True)
    done = client.post(f"/folders/{photos['id']}/rename",
                       data={"csrf_token": csrf_from(html), "name": "Pictures", "next": "/files?sort=name"})
    assert done.status_code == 302 and done.headers["Location"] == "/files?sort=name"
    page = client.get("/files").get_data(as_text=True)
    assert folder_rows(page) == ["Music", "Pictures"] and "Renamed Photos to Pictures." in flashes(page)


def test_the_move_page_lists_the_folders_and_moves_a_file_or_a_folder(signed_in):
    client, _, headers = signed_in
    photos = folder(client, headers, "Photos")
    year = folder(client, headers, "2024", photos["id"])
    music = folder(client, headers, "Music")
    file = upload(client, headers, "beach.jpg", b"x")

    form = client.get(f"/files/{file['id']}/move").get_data(as_text=True)
    labels = re.findall(r'<label for="to-[0-9a-f]{32}">([^<]*)</label>', form)
    assert labels == ["Your files (where it is now)", "Your files/Music", "Your files/Photos", "Your files/Photos/2024"]
    assert re.search(r'<input type="radio" id="to-\w+" name="to" value="\w+" checked>', form)
    assert "<legend>Move to</legend>" in form
    response = client.post(f"/files/{file['id']}/move", data={"csrf_token": csrf_from(form), "to": year["id"],
                                                                "next": "/files?sort=name"})
    assert response.status_code == 302 and response.headers["Location"] == "/files?sort=name"
    assert stored(file["id"]).folder.public_id == year["id"]
    assert "Moved beach.jpg to Photos/2024." in flashes(client.get("/files").get_data(as_text=True))

    # A folder's page leaves out itself and what is inside it; it moves with everything in it.
    form = client.get(f"/folders/{photos['id']}/move").get_data(as_text=True)
    assert re.findall(r'<label for="to-[0-9a-f]{32}">([^<]*)</label>', form) == [
        "Your files (where it is now)", "Your files/Music"]
    response = client.post(f"/folders/{photos['id']}/move", data={"csrf_token": csrf_from(form), "to": music["id"]})
    assert response.status_code == 302 and response.headers["Location"] == "/files"
    inside = client.get(f"/files?folder={music['id']}").get_data(as_text=True)
    assert folder_rows(inside) == ["Photos"] and "Folder, 1 file<" in inside


def test_a_refused_move_is_flashed_and_changes_nothing(signed_in):
    client, _, headers = signed_in
    photos = folder(client, headers, "Photos")
    year = folder(client, headers, "2024", photos["id"])
    upload(client, headers, "beach.jpg", b"x", folder=photos["id"])
    other = upload(client, headers, "beach.jpg", b"y")
    form = client.get(f"/folders/{photos['id']}/move").get_data(as_text=True)

    into_itself = client.post(f"/folders/{photos['id']}/move", data={"csrf_token": csrf_from(form), "to": year["id"]})
    assert into_itself.status_code == 302 and into_itself.headers["Location"].startswith(f"/folders/{photos['id']}/move")
    page = client.get(into_itself.headers["Location"]).get_data(as_text=True)
    assert "Photos can&#39;t be moved into itself or a folder inside it." in flashes(page)
    taken = client.post(f"/files/{other['id']}/move", data={"csrf_token": csrf_from(form), "to": photos["id"]})
    page = client.get(taken.headers["Location"]).get_data(as_text=True)
    assert "This folder already has something named beach.jpg." in flashes(page)
    db.session.expire_all()
    assert db.session.execute(db.select(Folder.parent_id).filter_by(public_id=photos["id"])).scalar_one() == \
        db.session.execute(db.select(Folder.id).filter_by(parent_id=None)).scalar_one()
    assert stored(other["id"]).folder.is_root


def test_delete_to_the_trash_then_restore_from_the_trash_page(app, signed_in):
    client, _, headers = signed_in
    photos = folder(client, headers, "Photos")
    year = folder(client, headers, "2024", photos["id"])
    file = upload(client, headers, "beach.jpg", b"x" * 3000, folder=year["id"])
    upload(client, headers, "inside.txt", b"y" * 100, folder=year["id"])

    confirm = client.get(f"/files/{file['id']}/delete").get_data(as_text=True)
    assert "will be moved to the" in confirm and "trash" in confirm and "for good" not in confirm
    response = client.post(f"/files/{file['id']}/delete", data={"csrf_token": csrf_from(confirm)})
    assert response.headers["Location"] == f"/files?folder={year['id']}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert row_names(page) == ["inside.txt"] and "Moved beach.jpg to the trash." in flashes(page)
    assert '<a href="/trash">Trash</a>: 2.9 KiB' in page

    asked = client.get(f"/folders/{photos['id']}/delete").get_data(as_text=True)
    assert "Delete this folder?" in asked and "1 file, 100 bytes" in asked
    client.post(f"/folders/{photos['id']}/delete", data={"csrf_token": csrf_from(asked)})
    assert folder_rows(client.get("/files").get_data(as_text=True)) == []

    trash_page = client.get("/trash").get_data(as_text=True)
    assert "stay here for 30 days" in trash_page and "<strong>3.0 KiB</strong>" in trash_page
    rows = re.findall(r'<td class="name" data-label="Name">([^<]*)(?:<span class="badge">folder</span>)?</td>\s*'
                      r'<td class="from" data-label="Deleted from">([^<]*)</td>', trash_page)
    assert rows == [("Photos ", "Your files"), ("beach.jpg", "Your files/Photos/2024")]
    assert 'aria-label="Restore: beach.jpg"' in trash_page and 'aria-label="Delete forever: Photos"' in trash_page

    response = client.post(f"/trash/folder/{photos['id']}/restore", data={"csrf_token": csrf_from(trash_page)})
    assert response.headers["Location"] == "/trash"
    assert "Restored Photos to Your files." in flashes(client.get("/trash").get_data(as_text=True))
    response = client.post(f"/trash/file/{file['id']}/restore", data={"csrf_token": csrf_from(trash_page)})
    assert "Restored beach.jpg to Photos/2024." in flashes(client.get("/trash").get_data(as_text=True))
    assert sorted(row_names(client.get(f"/files?folder={year['id']}").get_data(as_text=True))) == [
        "beach.jpg", "inside.txt"]
    assert "The trash is empty." in client.get("/trash").get_data(as_text=True)

    # Restored where the name is taken meanwhile: numbered, and the notice says so.
    csrf = csrf_from(trash_page)
    client.post(f"/files/{file['id']}/delete", data={"csrf_token": csrf})
    upload(client, headers, "beach.jpg", b"new", folder=year["id"])
    client.post(f"/trash/file/{file['id']}/restore", data={"csrf_token": csrf})
    assert "Restored beach.jpg to Photos/2024 as beach (1).jpg." in flashes(client.get("/trash").get_data(as_text=True))


def test_delete_forever_and_empty_trash_ask_first_and_remove_rows_and_bytes(app, signed_in):
    client, user, headers = signed_in
    storage = app.extensions["locker.storage"]
    photos = folder(client, headers, "Photos")
    kept = upload(client, headers, "kept.txt", b"k" * 10)
    first = upload(client, headers, "first.txt", b"a" * 10)
    second = upload(client, headers, "second.txt", b"b" * 20, folder=photos["id"])
    keys = {file["id"]: stored(file["id"]).storage_key for file in (kept, first, second)}
    csrf = token(client)
    for file in (first,):
        client.post(f"/files/{file['id']}/delete", data={"csrf_token": csrf})
    client.post(f"/folders/{photos['id']}/delete", data={"csrf_token": csrf})
    assert client.get("/api/v1/me", headers=headers).get_json()["used_bytes"] == 40

    asked = client.get(f"/trash/file/{first['id']}/purge")
    assert asked.status_code == 200 and "Delete this file forever?" in asked.get_data(as_text=True)
    assert stored(first["id"]).status == "trashed"  # asking changes nothing
    response = client.post(f"/trash/file/{first['id']}/purge", data={"csrf_token": csrf})
    assert response.headers["Location"] == "/trash"
    page = client.get("/trash").get_data(as_text=True)
    assert "Deleted first.txt for good." in flashes(page) and "first.txt</td>" not in page
    assert stored(first["id"]) is None or stored(first["id"]).status != "trashed"
    assert storage.stat(keys[first["id"]]) is None

    asked = client.get("/trash/empty").get_data(as_text=True)
    assert "Empty the trash?" in asked and "1 item (20 bytes)" in asked
    client.post("/trash/empty", data={"csrf_token": csrf})
    page = client.get("/trash").get_data(as_text=True)
    assert "Emptied the trash: 1 item deleted for good." in flashes(page) and "The trash is empty." in page
    assert "<strong>0 bytes</strong>" in page
    assert storage.stat(keys[second["id"]]) is None and storage.stat(keys[kept["id"]]) is not None
    assert client.get("/api/v1/me", headers=headers).get_json()["used_bytes"] == 10
    assert db.session.execute(db.select(Folder).filter_by(public_id=photos["id"])).scalar_one_or_none() is None


def test_uploads_from_a_folder_page_go_into_that_folder(signed_in):
    client, _, headers = signed_in
    photos = folder(client, headers, "Photos")
    page = client.get(f"/files?folder={photos['id']}").get_data(as_text=True)
    assert f'<div id="uploader" data-folder="{photos["id"]}"' in page
    assert 'data-folder=' not in client.get("/files").get_data(as_text=True).split('id="uploader"')[1].split(">")[0]
    # What upload.js sends with that setting: the session, the page's CSRF token, and the folder.
    response = client.post("/api/v1/uploads", headers={"X-CSRFToken": csrf_from(page)},
                           json={"name": "from the page.txt", "size": 1, "content_type": "text/plain",
                                 "folder": photos["id"]})
    assert response.status_code == 201, response.get_json()
    db.session.expire_all()
    row = db.session.execute(db.select(File).filter_by(public_id=response.get_json()["id"])).scalar_one()
    assert row.folder.public_id == photos["id"]


def test_a_link_to_a_trashed_file_says_so(signed_in):
    client, _, headers = signed_in
    file = upload(client, headers, "beach.jpg", b"x")
    link = share(client, headers, file, expires_in="7d")
    client.post(f"/files/{file['id']}/delete", data={"csrf_token": token(client)})
    page = client.get(path(link))
    html = page.get_data(as_text=True)
    assert page.status_code == 410 and "<h1>This link has ended</h1>" in html
    assert "The file behind this link is in its owner&#39;s trash. The link works again if they restore it." in html


@pytest.mark.parametrize("page", ["/files?folder={id}", "/folders/{id}/rename", "/folders/{id}/move",
                                  "/folders/{id}/delete", "/trash/folder/{id}/purge"])
def test_another_users_folder_is_404(accounts, signed_in, page):
    owner_client, _, owner_headers = signed_in
    theirs = folder(owner_client, owner_headers, "Private")
    if "purge" in page:
        owner_client.post(f"/folders/{theirs['id']}/delete", data={"csrf_token": token(owner_client)})
    intruder, _ = accounts.signed_in_client()
    assert intruder.get(page.format(id=theirs["id"])).status_code == 404
    assert intruder.get(page.format(id="f" * 32)).status_code == 404
    csrf = token(intruder)
    for post in ["/folders/{id}/delete", "/folders/{id}/move", "/trash/folder/{id}/restore"]:
        assert intruder.post(post.format(id=theirs["id"]), data={"csrf_token": csrf, "to": "root"}).status_code == 404
    assert intruder.post("/folders", data={"csrf_token": csrf, "name": "x", "parent": theirs["id"]}).status_code == 404


@pytest.mark.parametrize("page", ["/folders/{id}/rename", "/folders/{id}/move", "/folders/{id}/delete"])
def test_the_root_folder_has_no_rename_move_or_delete_page(signed_in, page):
    client, user, _ = signed_in
    root_id = folders.root_folder(user.id).public_id  # made on first need
    db.session.commit()
    for folder_id in ("root", root_id):
        assert client.get(page.format(id=folder_id)).status_code == 404
    assert client.post(page.format(id=root_id), data={"csrf_token": token(client), "to": "root"}).status_code == 404


def test_a_folder_with_many_folders_shows_them_a_page_at_a_time(signed_in, monkeypatch):
    from app.services import folders as folder_service
    client, _, headers = signed_in
    monkeypatch.setattr(folder_service, "FOLDER_PAGE", 2)
    for name in ("c", "a", "b"):
        assert client.post("/api/v1/folders", headers=headers, json={"name": name}).status_code == 201
    first = client.get("/files").get_data(as_text=True)
    assert re.findall(r'class="folder-link"[^>]*><span[^>]*>▸ </span>(\w)</a>', first) == ["a", "b"]
    more = re.search(r'href="([^"]+)">Show the next folders</a>', first).group(1).replace("&amp;", "&")
    second = client.get(more).get_data(as_text=True)
    assert re.findall(r'class="folder-link"[^>]*><span[^>]*>▸ </span>(\w)</a>', second) == ["c"]
    assert "Show the next folders" not in second


def test_a_folders_more_menu_leads_to_its_share_page(signed_in):
    client, _, headers = signed_in
    photos = folder(client, headers, "Photos")
    page = client.get("/files").get_data(as_text=True)
    share_page = re.search(r'<a class="button" href="([^"]+)" aria-label="Share: Photos">Share</a>', page).group(1)
    assert share_page == f"/folders/{photos['id']}/share"
    form = client.get(share_page)
    assert form.status_code == 200 and "Photos" in form.get_data(as_text=True)
