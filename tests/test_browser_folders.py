"""Moving in a real browser: a row dragged onto a folder's row (or a breadcrumb), and the "Move to…" page by keyboard."""
import uuid

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import File
from app.services import folders, tokens, users
from tests.browser_support import browser, live_server, log_in, new_page  # noqa: F401  (fixtures)
from tests.conftest import PASSWORD
from tests.helpers import upload


@pytest.fixture
def site(make_app, live_server):
    """A user with a folder Photos (holding 2024), a file at the root, and another beach.jpg inside Photos."""
    app = live_server.app = make_app(STORAGE_BACKEND="local", PUBLIC_URL=live_server.url)
    with app.test_request_context():
        user = users.create_user(f"mover{uuid.uuid4().hex[:8]}", PASSWORD)
        headers = {"Authorization": f"Bearer {tokens.create_token(user, 'tests')[1]}"}
        photos = folders.create_folder(user, "Photos")
        year = folders.create_folder(user, "2024", photos.public_id)
        client = app.test_client()
        loose = upload(client, headers, "beach.jpg", b"sand", "image/jpeg")
        inside = upload(client, headers, "beach.jpg", b"other sand", "image/jpeg", folder=photos.public_id)
        upload(client, headers, "notes.txt", b"notes", "text/plain")
        return {"app": app, "user": user.username, "photos": photos.public_id, "year": year.public_id,
                "loose": loose["id"], "inside": inside["id"]}


def folder_of(app, file_id):
    with app.app_context():
        file = db.session.execute(db.select(File).filter_by(public_id=file_id)).scalar_one()
        return folders.path_of(file.folder)


def test_a_file_row_dragged_onto_a_folder_row_moves_there(browser, live_server, site):
    context, page, errors = new_page(browser, live_server, viewport={"width": 1280, "height": 900})
    try:
        log_in(page, site["user"])
        page.goto(f"/files?folder={site['photos']}")
        notes_row = page.locator("tr[data-file-id]").filter(has_text="beach.jpg")
        year_row = page.locator("tr.folder-row").filter(has_text="2024")
        notes_row.drag_to(year_row)
        expect(page.locator("#move-done")).to_have_text("Moved beach.jpg to 2024.")
        expect(page.locator("tr[data-file-id]")).to_have_count(0)
        assert folder_of(site["app"], site["inside"]) == "Photos/2024"
        # Nothing went to the uploader: the row's drag was not taken for files dropped from the computer.
        expect(page.locator("#uploader .uppy-Dashboard-Item")).to_have_count(0)

        # Onto a breadcrumb: the root, where another beach.jpg is, refuses with the server's words, in an alert.
        page.goto(f"/files?folder={site['year']}")
        page.locator("tr[data-file-id]").filter(has_text="beach.jpg").drag_to(
            page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Your files"))
        alert = page.locator("#move-message")
        expect(alert).to_be_visible()
        expect(alert).to_have_text("beach.jpg was not moved: This folder already has something named beach.jpg.")
        expect(alert).to_have_attribute("role", "alert")
        assert folder_of(site["app"], site["inside"]) == "Photos/2024"

        # A folder's row onto a breadcrumb: 2024 (with beach.jpg) goes up to the root.
        page.goto(f"/files?folder={site['photos']}")
        page.locator("tr.folder-row").filter(has_text="2024").drag_to(
            page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Your files"))
        expect(page.locator("#move-done")).to_have_text("Moved 2024 to Your files.")
        assert folder_of(site["app"], site["inside"]) == "2024"
        assert errors == []
    finally:
        context.close()


def test_the_move_page_works_by_keyboard_alone(browser, live_server, site):
    context, page, errors = new_page(browser, live_server, viewport={"width": 390, "height": 844})
    try:
        log_in(page, site["user"])
        expect(page).to_have_url(f"{live_server.url}/files")
        row = page.locator("tr[data-file-id]").filter(has_text="notes.txt")
        row.get_by_role("link", name="Download: notes.txt", exact=True).focus()
        page.keyboard.press("Tab")
        expect(row.get_by_label("More: notes.txt", exact=True)).to_be_focused()
        page.keyboard.press("Enter")
        move = page.get_by_role("link", name="Move to…: notes.txt", exact=True)
        for _ in range(10):
            page.keyboard.press("ArrowDown")
            if move.evaluate("element => element === document.activeElement"):
                break
        expect(move).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Move notes.txt")).to_be_visible()

        # Tab reaches the checked choice (where it is now); the arrows walk the folders.
        current = page.get_by_label("Your files (where it is now)", exact=True)
        while not current.evaluate("element => element === document.activeElement"):
            page.keyboard.press("Tab")
        page.keyboard.press("ArrowDown")
        expect(page.get_by_label("Your files/Photos", exact=True)).to_be_checked()
        page.keyboard.press("ArrowDown")
        expect(page.get_by_label("Your files/Photos/2024", exact=True)).to_be_checked()
        expect(page.get_by_label("Your files/Photos/2024", exact=True)).to_be_focused()
        page.keyboard.press("Tab")
        expect(page.get_by_role("button", name="Move here")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page).to_have_url(f"{live_server.url}/files")
        expect(page.locator(".flashes .flash-info")).to_have_text("Moved notes.txt to Photos/2024.")
        assert folder_of(site["app"], next(iter(file_ids(site["app"], "notes.txt")))) == "Photos/2024"
        assert errors == []
    finally:
        context.close()


def file_ids(app, name):
    with app.app_context():
        return db.session.execute(db.select(File.public_id).filter_by(name=name)).scalars().all()


MAKE_DATA_TRANSFER = """(file) => {
  const transfer = new DataTransfer()
  transfer.items.add(new File([file.text], file.name, { type: 'text/plain' }))
  return transfer
}"""


def test_files_dropped_from_the_computer_on_a_folder_page_are_uploaded_into_it(browser, live_server, site):
    """Rows take row drags only: files from the computer dropped on a folder's row still go to the uploader,
    which puts them in the folder shown."""
    context, page, errors = new_page(browser, live_server, viewport={"width": 1280, "height": 900})
    try:
        log_in(page, site["user"])
        page.goto(f"/files?folder={site['photos']}")
        expect(page.locator("#uploader .uppy-Dashboard-inner")).to_be_visible()
        transfer = page.evaluate_handle(MAKE_DATA_TRANSFER, {"name": "dropped.txt", "text": "hello"})
        year_row = page.locator("tr.folder-row").filter(has_text="2024")
        for kind in ("dragenter", "dragover", "drop"):
            year_row.dispatch_event(kind, {"dataTransfer": transfer})
        expect(page.get_by_role("cell", name="dropped.txt", exact=True)).to_be_visible()
        assert folder_of(site["app"], file_ids(site["app"], "dropped.txt")[0]) == "Photos"
        assert errors == []
    finally:
        context.close()
