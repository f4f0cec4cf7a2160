"""The pages' layout in a real browser: nothing scrolls sideways or is cut off, at a phone's and two desktops' widths.

One local-storage Locker holds a user with long file names, a file shared with everyone by someone else, links,
an upload request, an unfinished upload, activity and a token; every signed-in page and the public pages are
measured at 390, 1025, 1280 and 1920 px. The files page also puts its list in sight first, takes files dropped
anywhere on it, and its "More" menus work by keyboard.
"""
import random
import uuid

import pytest
from playwright.sync_api import expect

from app.services import file_requests, files, folders, shares, tokens, trash, users
from tests.browser_support import browser, live_server, log_in  # noqa: F401  (fixtures)
from tests.conftest import PASSWORD
from tests.helpers import start_upload, upload

LONG_NAME = "Quarterly report for the north-east region, final version 2026.pdf"
UNBROKEN_NAME = "scan_" + "0123456789" * 12 + ".tiff"
WORD_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# 1025 px: the narrowest window that gets the files table as a table (below it, one block per file).
WIDTHS = [(390, 844), (1025, 768), (1280, 800), (1920, 1080)]

# What sticks out: the document wider than the window, a files table wider than its box, a row's controls
# outside the table or the window, a cell whose content runs past its edge.
OVERFLOW = """() => {
  const problems = []
  const root = document.documentElement
  if (root.scrollWidth > window.innerWidth) problems.push(`page ${root.scrollWidth} > ${window.innerWidth}`)
  const inside = (inner, outer) => inner.left >= outer.left - 0.5 && inner.right <= outer.right + 0.5
  for (const table of document.querySelectorAll('table.files')) {
    const box = table.getBoundingClientRect()
    const wrap = table.parentElement.getBoundingClientRect()
    if (!inside(box, wrap)) problems.push(`table ${box.left}-${box.right} outside its box ${wrap.left}-${wrap.right}`)
    for (const row of table.tBodies[0].rows) {
      const name = row.querySelector('td.name').textContent.trim().slice(0, 30)
      for (const cell of row.cells) {
        if (cell.scrollWidth > cell.clientWidth + 1) problems.push(`${name}: a cell's content is cut off`)
      }
      const controls = row.querySelectorAll('.row-actions > .button, .row-actions > details > summary')
      for (const control of controls) {
        const rect = control.getBoundingClientRect()
        const label = `${name}: ${control.textContent.trim()}`
        if (!inside(rect, box)) problems.push(`${label} outside the table`)
        if (rect.left < 0 || rect.right > window.innerWidth) problems.push(`${label} off-screen`)
      }
    }
  }
  return problems
}"""

MAKE_DATA_TRANSFER = """(file) => {
  const transfer = new DataTransfer()
  transfer.items.add(new File([file.text], file.name, { type: 'text/plain' }))
  return transfer
}"""


@pytest.fixture
def site(make_app, live_server):
    """The live app and what its pages show: the owner's name and the paths of every page to measure."""
    app = live_server.app = make_app(STORAGE_BACKEND="local", PUBLIC_URL=live_server.url)
    with app.test_request_context():
        owner = users.create_user(f"owner{uuid.uuid4().hex[:8]}", PASSWORD)
        other = users.create_user(f"other{uuid.uuid4().hex[:8]}", PASSWORD)
        client = app.test_client()
        headers = {"Authorization": f"Bearer {tokens.create_token(owner, 'laptop')[1]}"}
        made = [upload(client, headers, name, random.Random(index).randbytes(3000 + index), kind)
                for index, (name, kind) in enumerate([(LONG_NAME, "application/pdf"), (UNBROKEN_NAME, "image/tiff"),
                                                      ("Minutes.docx", WORD_TYPE), ("notes.txt", "text/plain")])]
        files.set_visibility(owner, made[3]["id"], True)
        other_headers = {"Authorization": f"Bearer {tokens.create_token(other, 'phone')[1]}"}
        theirs = upload(client, other_headers, "Team handbook, shared with everyone.pdf", b"%PDF-1.4 handbook",
                        "application/pdf")
        files.set_visibility(other, theirs["id"], True)
        pending = start_upload(client, headers, "Holiday video, still uploading.mp4", b"v" * 2048, "video/mp4")
        share, share_url = shares.create_share(owner, made[0]["id"], expires_in="7d", max_downloads=3,
                                               note="For the board meeting on Thursday.")
        ended, ended_url = shares.create_share(owner, made[2]["id"], expires_in="1d")
        shares.revoke_share(owner, ended.public_id)
        file_request, request_url = file_requests.create_request(
            owner, "Signed contracts for the north-east region", message="Please send the signed copies.",
            expires_in="7d", max_files=5, max_bytes=1024 * 1024)
        # A folder at the root with a long name, one inside it holding a file, and a trash with a file and a folder.
        archive = folders.create_folder(owner, "Archive of the north-east region's signed contracts, 2019 to 2025")
        inner = folders.create_folder(owner, UNBROKEN_NAME.removesuffix(".tiff"), archive.public_id)
        upload(client, headers, "contract.pdf", b"%PDF-1.4 contract", "application/pdf", folder=inner.public_id)
        old = upload(client, headers, LONG_NAME.replace("final", "draft"), b"old draft", "application/pdf",
                     folder=inner.public_id)
        old_folder = folders.create_folder(owner, "Old", inner.public_id).public_id
        trash.trash(owner, file_ids=[old["id"]], folder_ids=[old_folder])
        signed_in = ["/files", "/files?q=report", "/files?q=handbook&everywhere=1", "/files?q=contract&everywhere=1",
                     f"/files?folder={archive.public_id}", f"/files?folder={inner.public_id}",
                     f"/folders/{inner.public_id}/rename", f"/folders/{inner.public_id}/move",
                     f"/files/{made[0]['id']}/move", f"/folders/{archive.public_id}/delete", "/trash",
                     f"/trash/file/{old['id']}/purge", "/trash/empty",
                     "/everyone", "/shares",
                     f"/shares/{share.public_id}/edit", "/requests", "/requests/new",
                     f"/requests/{file_request.public_id}/edit", "/activity", "/account",
                     f"/files/{made[0]['id']}/view", f"/files/{made[1]['id']}/view", f"/files/{made[0]['id']}/delete",
                     f"/files/{made[0]['id']}/share", f"/uploads/{pending.get_json()['id']}/cancel",
                     f"/files/bulk/move?file={made[0]['id']}&file={made[1]['id']}&folder={archive.public_id}",
                     f"/files/bulk/share?file={made[0]['id']}&file={made[1]['id']}",
                     f"/trash/bulk/purge?file={old['id']}&folder={old_folder}"]
        public = ["/login", "/register", share_url, request_url, "/no-such-page", ended_url]
        return {"app": app, "owner": owner.username, "signed_in": signed_in, "public": public}


def measure(page, path, width):
    response = page.goto(path)
    assert response.status in (200, 404, 410), (path, response.status)
    page.wait_for_load_state("networkidle")
    assert page.evaluate(OVERFLOW) == [], (width, path)


def test_no_page_scrolls_sideways_or_cuts_off_a_row(browser, site, live_server):
    """At 390, 1025, 1280 and 1920 px every page fits its window, and each file row's controls are inside its table."""
    for width, height in WIDTHS:
        guest = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": height})
        signed = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": height})
        try:
            guest_page = guest.new_page()
            for path in site["public"]:
                measure(guest_page, path, width)
            page = signed.new_page()
            log_in(page, site["owner"])
            expect(page.locator("table.files tbody tr[data-file-id]")).to_have_count(4)
            for path in site["signed_in"]:
                measure(page, path, width)
            # Every row ticked: the toolbar shows all its buttons, and still nothing sticks out.
            page.goto("/files")
            page.get_by_role("checkbox", name="Select all on this page").check()
            expect(page.get_by_role("button", name="Make visible to everyone")).to_be_visible()
            assert page.evaluate(OVERFLOW) == [], (width, "/files with every row ticked")
            page.goto("/trash")
            page.get_by_role("checkbox", name="Select all").check()
            expect(page.get_by_role("button", name="Delete forever selected…")).to_be_visible()
            assert page.evaluate(OVERFLOW) == [], (width, "/trash with every row ticked")
            page.goto("/files")
            if width >= 1280:
                # A name wraps between its words in a column wide enough for some; the date stays on one line.
                name_cell = page.locator("td.name").filter(has_text=LONG_NAME)
                assert name_cell.bounding_box()["width"] >= 150
                dates = page.evaluate("[...document.querySelectorAll('tr[data-file-id] td.date time')]"
                                      ".map(t => t.getClientRects().length)")
                assert dates == [1, 1, 1, 1]
                # (OVERFLOW checked every row's controls are within the window's width.)
                first = page.locator("table.files tbody tr[data-file-id]").first
                expect(first.get_by_role("link", name="Download")).to_be_in_viewport(ratio=1)
                expect(first.locator("details.menu > summary")).to_be_in_viewport(ratio=1)
            # An open menu hangs over the rows, or opens in place on a phone, without widening the page.
            page.locator("table.files tbody tr").last.locator("details.menu > summary").click()
            expect(page.locator("details.menu[open] .menu-items")).to_be_visible()
            # Nothing below (the uploader) covers the menu: its last item is what a click there reaches.
            on_top = page.evaluate("""() => {
              const item = document.querySelector('details.menu[open] .menu-items > :last-child')
              item.scrollIntoView({ block: 'center' })
              const box = item.getBoundingClientRect()
              return item.contains(document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2))
            }""")
            assert on_top, width
            page.screenshot(path=f"/tmp/locker-layout-{width}.png", full_page=True)
            assert page.evaluate(OVERFLOW) == [], width
        finally:
            guest.close()
            signed.close()


def test_the_list_comes_first_and_files_dropped_anywhere_are_uploaded(browser, site, live_server):
    """At 1280×800 the first row is above the fold and the drop area below is compact; the page body takes drops."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    errors = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        log_in(page, site["owner"])
        drop_area = page.locator("#uploader .uppy-Dashboard-inner")
        expect(drop_area).to_be_visible()
        first_row = page.locator("table.files tbody tr[data-file-id]").first
        assert first_row.bounding_box()["y"] + first_row.bounding_box()["height"] < 800
        assert drop_area.bounding_box()["height"] < 200

        # Dropped on the page's heading, far from the drop area.
        transfer = page.evaluate_handle(MAKE_DATA_TRANSFER, {"name": "dropped on the page.txt", "text": "hello"})
        heading = page.get_by_role("heading", name="Your files")
        for kind in ("dragenter", "dragover", "drop"):
            heading.dispatch_event(kind, {"dataTransfer": transfer})
        expect(page.get_by_role("cell", name="dropped on the page.txt", exact=True)).to_be_visible()
        expect(page.locator("table.files tbody tr[data-file-id]")).to_have_count(5)
        assert errors == []
    finally:
        context.close()


@pytest.mark.parametrize("width", [390, 1280])
def test_the_more_menu_works_by_keyboard(browser, site, live_server, width):
    """Enter opens "More", the arrows and Tab reach Delete, Escape closes it and gives the focus back to "More"."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": 800})
    try:
        page = context.new_page()
        log_in(page, site["owner"])
        # The arrow keys are menus.js's: on a busy machine the first key could come before the page's scripts ran.
        page.wait_for_load_state("load")
        row = page.locator("table.files tbody tr").filter(has_text=LONG_NAME)
        more = row.get_by_label(f"More: {LONG_NAME}", exact=True)
        menu = row.locator("details.menu")
        delete = page.get_by_role("link", name=f"Delete: {LONG_NAME}", exact=True)
        row.get_by_role("link", name=f"Download: {LONG_NAME}", exact=True).focus()
        page.keyboard.press("Tab")
        expect(more).to_be_focused()
        expect(delete).to_be_hidden()
        page.keyboard.press("Enter")
        expect(menu).to_have_attribute("open", "")
        items = [("link", "View"), ("link", "Share"), ("link", "Rename"), ("link", "Move to…"), ("link", "Activity"),
                 ("button", "Visible to everyone")]
        for role, label in items:
            page.keyboard.press("ArrowDown")
            expect(page.get_by_role(role, name=f"{label}: {LONG_NAME}", exact=True)).to_be_focused()
        page.keyboard.press("Tab")
        expect(delete).to_be_focused()
        expect(delete).to_be_in_viewport(ratio=1)
        page.keyboard.press("ArrowUp")
        expect(page.get_by_role("button", name=f"Visible to everyone: {LONG_NAME}", exact=True)).to_be_focused()
        page.keyboard.press("Escape")
        expect(menu).not_to_have_attribute("open", "")
        expect(more).to_be_focused()
        expect(delete).to_be_hidden()
        # Space opens it too, and Delete still asks first.
        page.keyboard.press(" ")
        expect(menu).to_have_attribute("open", "")
        delete.focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Delete this file?")).to_be_visible()
    finally:
        context.close()
