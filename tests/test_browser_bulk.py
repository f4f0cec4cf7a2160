"""Many rows at once in headless Chromium: ticking by click, Shift-click and the keyboard, the toolbar's count,
"Move to trash" for the selection, and "Download as zip" of a selection, unzipped to the right bytes."""
import uuid
import zipfile

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import File
from app.services import folders, tokens, users
from tests.browser_support import browser, live_server, log_in, new_page  # noqa: F401  (fixtures)
from tests.conftest import PASSWORD
from tests.helpers import upload

BYTES = {"a.txt": b"first file\n", "b.txt": b"second" * 100, "c.txt": b"c", "d.txt": b"d" * 7}
INSIDE = b"inside the folder\n" * 3


@pytest.fixture
def site(make_app, live_server):
    """A user with a folder Photos (holding inside.txt) and four files at the root."""
    app = live_server.app = make_app(STORAGE_BACKEND="local", PUBLIC_URL=live_server.url)
    with app.test_request_context():
        user = users.create_user(f"bulk{uuid.uuid4().hex[:8]}", PASSWORD)
        headers = {"Authorization": f"Bearer {tokens.create_token(user, 'tests')[1]}"}
        photos = folders.create_folder(user, "Photos")
        client = app.test_client()
        ids = {name: upload(client, headers, name, data, "text/plain")["id"] for name, data in BYTES.items()}
        inside = upload(client, headers, "inside.txt", INSIDE, "text/plain", folder=photos.public_id)["id"]
        return {"app": app, "user": user.username, "photos": photos.public_id, "files": ids, "inside": inside}


def statuses(app, ids):
    with app.app_context():
        return {row.public_id: row.status for row in
                db.session.execute(db.select(File).filter(File.public_id.in_(ids))).scalars()}


def test_tick_by_click_shift_click_and_keyboard_then_move_the_selection_to_the_trash(browser, live_server, site):
    context, page, errors = new_page(browser, live_server, viewport={"width": 1280, "height": 900})
    try:
        log_in(page, site["user"])
        expect(page).to_have_url(f"{live_server.url}/files")
        toolbar = page.get_by_role("group", name="selected")
        count = page.locator("#bulk-count")
        expect(page.locator(".bulk-toolbar")).to_be_hidden()  # nothing ticked yet
        boxes = page.locator("input.bulk-check")
        expect(boxes).to_have_count(5)
        names = [boxes.nth(i).get_attribute("aria-label") for i in range(5)]
        assert names[0] == "Select Photos" and sorted(names[1:]) == [f"Select {name}" for name in sorted(BYTES)]

        # A click ticks one; Shift-click ticks the range from it.
        page.get_by_role("checkbox", name=names[1], exact=True).click()
        expect(toolbar).to_be_visible()
        expect(page.locator("#bulk-heading")).to_have_text("1 selected")
        expect(count).to_have_text("1 selected")
        page.get_by_role("checkbox", name=names[3], exact=True).click(modifiers=["Shift"])
        expect(page.locator("#bulk-heading")).to_have_text("3 selected")
        assert [boxes.nth(i).is_checked() for i in range(5)] == [False, True, True, True, False]
        # Shift-click on a ticked box unticks the range back to the last one changed.
        page.get_by_role("checkbox", name=names[2], exact=True).click(modifiers=["Shift"])
        assert [boxes.nth(i).is_checked() for i in range(5)] == [False, True, False, False, False]
        expect(count).to_have_text("1 selected")

        # By keyboard: Space toggles the focused box, Shift+Space extends the range from the last one.
        page.get_by_role("checkbox", name=names[0], exact=True).focus()
        page.keyboard.press("Space")
        expect(count).to_have_text("2 selected")
        page.get_by_role("checkbox", name=names[4], exact=True).focus()
        page.keyboard.press("Shift+Space")
        expect(count).to_have_text("5 selected")
        select_all = page.get_by_role("checkbox", name="Select all on this page")
        expect(select_all).to_be_checked()
        select_all.focus()
        page.keyboard.press("Space")  # all off
        expect(count).to_have_text("Nothing selected")
        expect(page.locator(".bulk-toolbar")).to_be_hidden()
        page.keyboard.press("Space")  # all on
        expect(page.locator("#bulk-heading")).to_have_text("5 selected")

        # The toolbar's "Move to trash", reached by Tab from "Select all" and pressed with Enter.
        page.keyboard.press("Tab")
        expect(page.get_by_role("button", name="Move to…")).to_be_focused()
        page.keyboard.press("Tab")
        expect(page.get_by_role("button", name="Move to trash")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.get_by_text("Moved 4 files and 1 folder to the trash.")).to_be_visible()
        expect(page.locator("input.bulk-check")).to_have_count(0)
        ids = [*site["files"].values(), site["inside"]]
        assert set(statuses(site["app"], ids).values()) == {"trashed"}
        assert errors == []
    finally:
        context.close()


def test_download_a_selection_as_a_zip(browser, live_server, site, tmp_path):
    context, page, errors = new_page(browser, live_server, viewport={"width": 390, "height": 844})
    try:
        log_in(page, site["user"])
        expect(page).to_have_url(f"{live_server.url}/files")
        page.get_by_role("checkbox", name="Select Photos", exact=True).check()
        page.get_by_role("checkbox", name="Select b.txt", exact=True).check()
        expect(page.locator("#bulk-heading")).to_have_text("2 selected")
        button = page.get_by_role("button", name="Download as zip")
        with page.expect_download() as started:
            button.click()
        expect(page.locator("#bulk-form [data-zip-status]")).to_have_text("Downloaded files.zip.")
        download = started.value
        saved = tmp_path / "selection.zip"
        download.save_as(saved)
        assert download.suggested_filename == "files.zip"
        assert errors == []
    finally:
        context.close()
    with zipfile.ZipFile(saved) as archive:
        assert {name: archive.read(name) for name in archive.namelist()} == {
            "b.txt": BYTES["b.txt"], "Photos/inside.txt": INSIDE}
