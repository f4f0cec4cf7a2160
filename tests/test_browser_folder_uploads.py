"""Folder uploads in a real browser: a folder chosen (or dropped) on a folder page is made again below it, file by file
at its own path with its own bytes; a file Locker refuses inside the tree is named with why, and the rest arrive.
A guest's upload page takes the files only.

Headless Chromium (Playwright) against a live Locker, on local storage and on S3 (moto).
"""
import hashlib
import uuid

import pytest
from playwright.sync_api import expect

from app.services import file_requests, folders, users
from tests.browser_support import browser, live_server, log_in, new_page  # noqa: F401  (fixtures)
from tests.conftest import PASSWORD
from tests.live_support import moto_server  # noqa: F401  (fixture)

# relative path -> bytes: three levels, names that are not ASCII, one folder holding only a folder.
TREE = {
    "Trip/c.txt": b"c at the top",
    "Trip/D\u00eda 1/b.txt": b"b on the first day",
    "Trip/D\u00eda 1/Ma\u00f1ana/a.txt": b"a in the morning",
    "Trip/D\u00eda 1/Ma\u00f1ana/caf\u00e9 \u2615.txt": "caf\u00e9 au lait".encode(),
    "Trip/Notes/Deep/d.txt": b"d two folders down",
}


def make_tree(base, tree):
    for relative, data in tree.items():
        path = base.joinpath(*relative.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return base / next(iter(tree)).split("/")[0]


def settings(request, live_server):
    if request.param == "s3":
        return {"STORAGE_BACKEND": "s3", "S3_BUCKET": f"locker-folders-{uuid.uuid4().hex[:12]}",
                "S3_ENDPOINT_URL": request.getfixturevalue("moto_server"), "SETUP_STORAGE": True,
                "PUBLIC_URL": live_server.url}
    return {"STORAGE_BACKEND": "local", "PUBLIC_URL": live_server.url}


@pytest.fixture(params=["local", "s3"])
def holidays(request, browser, make_app, live_server):
    """(page, folder id) signed in on the page of a folder Holidays, on a Locker that blocks .exe files."""
    live_server.app = make_app(BLOCKED_TYPES=[".exe"], **settings(request, live_server))
    with live_server.app.app_context():
        user = users.create_user(f"trip{uuid.uuid4().hex[:8]}", PASSWORD)
        username = user.username
        folder = folders.create_folder(user, "Holidays").public_id
    context, page, errors = new_page(browser, live_server, viewport={"width": 1280, "height": 900})
    log_in(page, username)
    page.goto(f"/files?folder={folder}")
    expect(page.locator("#uploader .uppy-Dashboard-inner")).to_be_visible()
    yield page, folder
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def choose_folder(page, path):
    """The Dashboard's "browse folders": its folder input (webkitdirectory) given a folder on disk."""
    page.locator("#uploader input[type=file][webkitdirectory]").set_input_files(path)


def found(page, name):
    """The one file of this name, as the API lists it (with its folder's path)."""
    items = [item for item in page.request.get("/api/v1/files", params={"q": name}).json()["items"]
             if item["name"] == name]
    assert len(items) == 1, items
    return items[0]


def check_arrived(page, tree, under):
    for relative, data in tree.items():
        folder, _, name = relative.rpartition("/")
        item = found(page, name)
        assert item["path"] == f"{under}/{folder}", (relative, item["path"])
        download = page.request.get(f"/api/v1/files/{item['id']}/download")
        assert download.ok, (relative, download.status)
        assert hashlib.sha256(download.body()).hexdigest() == hashlib.sha256(data).hexdigest(), relative


def test_a_chosen_folder_is_made_again_below_the_folder_shown(holidays, tmp_path):
    page, folder = holidays
    assert page.get_by_role("button", name="browse folders").count() == 1
    choose_folder(page, make_tree(tmp_path, TREE))

    expect(page.locator("#list-status")).to_have_text(f"{len(TREE)} files uploaded. The list is up to date.")
    expect(page.locator("#uploader .uppy-StatusBar")).to_contain_text("Complete")
    # Items of the tree say which folder each goes in.
    expect(page.locator("#uploader .uppy-Dashboard-Item .upload-folder").filter(has_text="in Trip/D\u00eda 1/Ma\u00f1ana")
           ).to_have_count(2)
    # The list shows the new top folder without a reload.
    expect(page.locator("#file-table tr.folder-row").filter(has_text="Trip")).to_have_count(1)
    check_arrived(page, TREE, "Holidays")

    # Trip is inside Holidays, and holds what it held on disk.
    listing = page.request.get(f"/api/v1/folders/{folder}").json()
    trip = [sub for sub in listing["folders"] if sub["name"] == "Trip"]
    assert len(trip) == 1, listing
    page.locator("#file-table tr.folder-row").filter(has_text="Trip").get_by_role("link", name="Trip", exact=True).click()
    expect(page.locator("#file-table tr.folder-row")).to_have_count(2)  # Día 1 and Notes
    expect(page.get_by_role("cell", name="c.txt", exact=True)).to_be_visible()


def test_a_refused_file_in_the_tree_is_named_with_why_and_the_rest_arrive(holidays, tmp_path):
    page, _ = holidays
    refused = {"Trip/D\u00eda 1/setup.exe": b"MZ not wanted", "Trip/what?.txt": b"a question",
               "Trip/bad:folder/inside.txt": b"in a folder Locker can't name"}
    kept = {"Trip/kept.txt": b"kept", "Trip/D\u00eda 1/Ma\u00f1ana/also kept.txt": b"also kept"}
    choose_folder(page, make_tree(tmp_path, {**kept, **refused}))

    live = page.locator("#list-status")
    expect(live).to_contain_text("2 uploaded, 3 failed.")
    expect(live).to_contain_text("Trip/D\u00eda 1/setup.exe: Files of type .exe are not accepted here.")
    expect(live).to_contain_text("Trip/what?.txt: File names can't contain any of")
    expect(live).to_contain_text("Trip/bad:folder/inside.txt: Its folder Trip/bad:folder can't be made: "
                                 "Folder names can't contain any of")
    expect(page.locator("#uploader .uppy-StatusBar")).to_contain_text("2 uploaded, 3 failed")
    # A new name can help the file named with a "?", not the file whose folder is refused.
    expect(page.get_by_role("button", name="Rename what?.txt")).to_have_count(1)
    expect(page.get_by_role("button", name="Rename inside.txt")).to_have_count(0)
    for relative in refused:
        name = relative.rpartition("/")[2]
        assert page.request.get("/api/v1/files", params={"q": name}).json()["items"] == []
    check_arrived(page, kept, "Holidays")


@pytest.mark.parametrize("holidays", ["local"], indirect=True)
@pytest.mark.parametrize("where", ["main h1", "#uploader .uppy-Dashboard-inner"], ids=["page", "drop area"])
def test_a_dropped_folder_is_made_again_below_the_folder_shown(holidays, where):
    """A folder dropped on the page or on the drop area: Chromium hands Uppy directory entries, which it walks
    (faked here, as a test cannot drop a real folder)."""
    page, _ = holidays
    tree = {"Trip/c.txt": b"dropped c", "Trip/D\u00eda 1/Ma\u00f1ana/a.txt": b"dropped a"}
    transfer = page.evaluate_handle(DROPPED_FOLDER, [[path, data.decode()] for path, data in tree.items()])
    for kind in ("dragenter", "dragover", "drop"):
        page.locator(where).dispatch_event(kind, {"dataTransfer": transfer})
    expect(page.locator("#list-status")).to_have_text("2 files uploaded. The list is up to date.")
    expect(page.locator("#uploader .uppy-Dashboard-Item")).to_have_count(2)  # taken once, not by both
    expect(page.locator("#file-table tr.folder-row").filter(has_text="Trip")).to_have_count(1)
    check_arrived(page, tree, "Holidays")


# A DataTransfer whose one item is a folder, as Chromium gives a dropped one: webkitGetAsEntry() walks it.
DROPPED_FOLDER = """(files) => {
  const fileEntry = (name, text) => ({
    isFile: true, isDirectory: false, name,
    file: (done) => done(new File([text], name, { type: 'text/plain' }))
  })
  const folderEntry = (name) => {
    const children = new Map()
    return {
      isFile: false, isDirectory: true, name, children,
      createReader () {
        let read = false
        return { readEntries (done) { done(read ? [] : [...children.values()]); read = true } }
      }
    }
  }
  const top = folderEntry(files[0][0].split('/')[0])
  for (const [path, text] of files) {
    const parts = path.split('/').slice(1)
    let folder = top
    for (const part of parts.slice(0, -1)) {
      if (!folder.children.has(part)) folder.children.set(part, folderEntry(part))
      folder = folder.children.get(part)
    }
    folder.children.set(parts.at(-1), fileEntry(parts.at(-1), text))
  }
  const transfer = new DataTransfer()
  transfer.items.add(new File([''], top.name))
  const item = transfer.items[0]
  Object.defineProperty(item, 'kind', { value: 'file' })
  item.webkitGetAsEntry = () => top
  item.getAsFileSystemHandle = undefined
  Object.defineProperty(transfer, 'items', { value: [item] })
  Object.defineProperty(transfer, 'files', { value: [] })
  Object.defineProperty(transfer, 'types', { value: ['Files'] })
  return transfer
}"""


def test_a_guest_page_takes_a_folder_s_files_without_its_folders(browser, make_app, live_server, tmp_path):
    """An upload request puts everything in its own folder: the guest's page offers no folder picker and sends
    no path for a dropped folder's files."""
    live_server.app = make_app(STORAGE_BACKEND="local", PUBLIC_URL=live_server.url)
    app = live_server.app
    with app.test_request_context():
        owner = users.create_user(f"owner{uuid.uuid4().hex[:8]}", PASSWORD)
        link = file_requests.create_request(owner, "Photos of the trip")[1]
    context, page, errors = new_page(browser, live_server)
    try:
        page.goto(link)
        expect(page.locator("#uploader .uppy-Dashboard-inner")).to_be_visible()
        expect(page.locator("#uploader input[type=file][webkitdirectory]")).to_have_count(1)  # Uppy renders it always
        assert page.get_by_role("button", name="browse folders").count() == 0
        sent = []
        page.on("request", lambda request: sent.append(request.post_data_json)
                if request.method == "POST" and request.url.endswith("/uploads") else None)
        transfer = page.evaluate_handle(DROPPED_FOLDER, [["Trip/D\u00eda 1/b.txt", "b"], ["Trip/c.txt", "c"]])
        for kind in ("dragenter", "dragover", "drop"):
            page.locator("main h1").dispatch_event(kind, {"dataTransfer": transfer})
        expect(page.locator("#list-status")).to_have_text("2 files uploaded. The list is up to date.")
        assert sorted(body["name"] for body in sent) == ["b.txt", "c.txt"]
        assert all("path" not in body for body in sent), sent
    finally:
        context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"
