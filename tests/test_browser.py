"""Real browser journeys: headless Chromium (Playwright) against a live Locker.

The journey runs once on local storage (Locker serves its own signed
/_storage/ URLs) and once on S3, where the browser PUTs straight to moto's
HTTP server with the bucket's own CORS rules in force (conftest sets
MOTO_DISABLE_GLOBAL_CORS before moto is imported). So does the large-file
test: a multipart upload interrupted by closing the tab, then resumed by
picking the file again. Debian's Chromium is used; a missing browser is a
failure, never a skip.
"""
import base64
import hashlib
import random
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from app.services import tokens, users
from tests.browser_support import (backend_settings, browser, live_app, live_server, log_in,  # noqa: F401  (fixtures)
                                   new_page, page, signed_in_phone)
from tests.conftest import PASSWORD
from tests.helpers import send_parts, start_multipart, start_upload, upload
from tests.live_support import moto_server  # noqa: F401  (fixture)

MIB = 1024 * 1024
# Uppy 5's S3 plugin never cuts parts under 5 MiB, so the browser tests use the smallest parts it sends.
PART = 5 * MIB
BROWSER_MULTIPART = {"MULTIPART_THRESHOLD": PART, "MULTIPART_PART_SIZE": PART}

# Builds File objects in the page and a DataTransfer carrying them, as a real drop would.
MAKE_DATA_TRANSFER = """(files) => {
  const transfer = new DataTransfer()
  for (const file of files) {
    const bytes = Uint8Array.from(atob(file.base64), (c) => c.charCodeAt(0))
    transfer.items.add(new File([bytes], file.name, { type: file.type }))
  }
  return transfer
}"""

# Records what the Dashboard shows while the upload runs: status bar states,
# progress bar values and per-file "in progress" items. Upload to loopback is
# too quick to catch with a polling assertion, but every render is observed.
WATCH_PROGRESS = """() => {
  const seen = window.__uploadProgress = { states: [], values: [], itemsInProgress: 0 }
  const record = () => {
    const bar = document.querySelector('#uploader .uppy-StatusBar')
    if (bar) {
      const state = [...bar.classList].find((c) => c.startsWith('is-') && c !== 'is-indeterminate')
      if (state && seen.states.at(-1) !== state) seen.states.push(state)
      const value = bar.querySelector('[role="progressbar"]')?.getAttribute('aria-valuenow')
      if (value !== null && value !== undefined && seen.values.at(-1) !== value) seen.values.push(value)
    }
    seen.itemsInProgress = Math.max(seen.itemsInProgress,
      document.querySelectorAll('#uploader .uppy-Dashboard-Item.is-inprogress').length)
  }
  new MutationObserver(record).observe(document.getElementById('uploader'),
    { subtree: true, childList: true, attributes: true })
}"""


def test_journey_register_upload_download_delete(live_app, live_server, page):
    """Sign up, log out and in, drop two files, download one intact, delete the other, log out."""
    backend = live_app.config["STORAGE_BACKEND"]
    username = f"walker{uuid.uuid4().hex[:8]}"
    rng = random.Random(2026)
    uploads = {"résumé 2026.txt": ("text/plain", rng.randbytes(300 * 1024)),
               "holiday photos.bin": ("application/octet-stream", rng.randbytes(200 * 1024 + 7))}
    kept, deleted = "résumé 2026.txt", "holiday photos.bin"

    # Flash messages (Uppy's status bar also has role=status, so look among the flashes only).
    flash = page.locator(".flashes").get_by_role("status")

    # Create an account: it lands signed in on the files page.
    page.goto("/register")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password (at least 8 characters)", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(f"{live_server.url}/files")
    expect(page.get_by_role("heading", name="Your files")).to_be_visible()
    expect(flash).to_contain_text(f"Welcome, {username}!")

    # Log out, then back in.
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(flash).to_have_text("You are logged out.")
    log_in(page, username)
    expect(page).to_have_url(f"{live_server.url}/files")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    # Drag two files onto the Dashboard and drop them.
    dashboard = page.locator("#uploader .uppy-Dashboard")
    drop_target = dashboard.locator(".uppy-Dashboard-inner")
    expect(drop_target).to_be_visible()
    page.evaluate(WATCH_PROGRESS)
    transfer = page.evaluate_handle(MAKE_DATA_TRANSFER, [
        {"name": name, "type": kind, "base64": base64.b64encode(data).decode()}
        for name, (kind, data) in uploads.items()])
    drop_target.dispatch_event("dragenter", {"dataTransfer": transfer})
    drop_target.dispatch_event("dragover", {"dataTransfer": transfer})
    expect(dashboard).to_have_class(re.compile(r"\buppy-Dashboard--isDraggingOver\b"))
    drop_target.dispatch_event("drop", {"dataTransfer": transfer})

    # Uppy shows both files, their progress, and then that both are done.
    items = dashboard.locator(".uppy-Dashboard-Item")
    expect(items).to_have_count(2)
    for name in uploads:
        expect(items.filter(has_text=name)).to_have_count(1)
    status_bar = dashboard.locator(".uppy-StatusBar")
    expect(status_bar).to_have_class(re.compile(r"\bis-(complete|error)\b"), timeout=15_000)
    expect(status_bar, "the upload failed; Uppy's informer says: "
           + " / ".join(dashboard.locator(".uppy-Informer").all_inner_texts())).to_have_class(
        re.compile(r"\bis-complete\b"))
    expect(dashboard.locator(".uppy-Dashboard-Item.is-complete")).to_have_count(2)
    expect(dashboard.locator(".uppy-Dashboard-Item.is-error")).to_have_count(0)
    progress = page.evaluate("window.__uploadProgress")
    assert "is-uploading" in progress["states"], progress
    assert progress["states"][-1] == "is-complete", progress
    assert progress["itemsInProgress"] >= 1, progress
    assert "100" in progress["values"], progress

    # Both are listed once Locker has checked them, without a reload.
    rows = page.locator("#file-table tbody tr")
    expect(rows).to_have_count(2)
    for name in uploads:
        expect(rows.filter(has=page.get_by_role("cell", name=name, exact=True))).to_have_count(1)
    # A short status is announced, not the whole table.
    expect(page.locator("#list-status")).to_have_text("2 files uploaded. The list is up to date.")
    assert page.locator("[aria-live]").evaluate_all("els => els.filter(e => e.closest('#file-table')).length") == 0
    assert page.locator("#file-table").get_attribute("aria-live") is None
    # Each file was hashed before it was sent (its signed request carries the digest). Local storage
    # checks it as it writes, and a real S3 store reports the digest it checked; moto keeps no
    # checksum of a presigned PUT, so there it stays declared.
    listed = {f["name"]: f for f in page.request.get("/api/v1/files").json()["items"]}
    for name, (_, data) in uploads.items():
        assert listed[name]["sha256"] == hashlib.sha256(data).hexdigest()
        assert listed[name]["sha256_verified"] is (live_app.config["TEST_STORE"] != "s3")
    expect(page.get_by_role("link", name=f"Download: {kept}", exact=True)).to_be_visible()
    page.screenshot(path=f"/tmp/locker-browser-{backend}-after-upload.png", full_page=True)

    # Download one: the same bytes, under the original (non-ASCII) name.
    with page.expect_download() as download_info:
        page.get_by_role("link", name=f"Download: {kept}", exact=True).click()
    download = download_info.value
    assert download.failure() is None
    # The bytes come straight from storage, not through Locker.
    storage_url = live_app.config["S3_ENDPOINT_URL"] if backend == "s3" else f"{live_server.url}/_storage/"
    assert download.url.startswith(storage_url), download.url
    assert download.suggested_filename == kept
    with open(download.path(), "rb") as saved:
        assert saved.read() == uploads[kept][1]

    # Delete the other, from its row's "More" menu, through the confirmation page.
    page.get_by_label(f"More: {deleted}", exact=True).click()
    page.get_by_role("link", name=f"Delete: {deleted}", exact=True).click()
    expect(page.get_by_role("heading", name="Delete this file?")).to_be_visible()
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/files")
    expect(flash).to_have_text(f"Moved {deleted} to the trash.")
    expect(rows).to_have_count(1)
    expect(page.get_by_role("cell", name=deleted, exact=True)).to_have_count(0)
    expect(page.get_by_role("link", name=f"Delete: {deleted}", exact=True)).to_have_count(0)
    expect(page.get_by_role("cell", name=kept, exact=True)).to_be_visible()

    # Log out: the files page now sends the browser to log in.
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/files")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Ffiles$"))
    expect(flash).to_have_text("Log in to see that page.")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)


@pytest.fixture
def local_live_app(make_app, live_server):
    live_server.app = make_app(STORAGE_BACKEND="local", PUBLIC_URL=live_server.url)
    return live_server.app


def test_files_page_fits_a_phone_and_works_by_keyboard(browser, local_live_app, live_server):
    """At 375 px the page never scrolls sideways, sorts without the (hidden) table head, and works by keyboard."""
    name = "Quarterly report for the north-east region, final version 2026.pdf"
    with local_live_app.app_context():
        user = users.create_user(f"phone{uuid.uuid4().hex[:8]}", PASSWORD)
        username = user.username
        headers = {"Authorization": f"Bearer {tokens.create_token(user, 'tests')[1]}"}
        client = local_live_app.test_client()
        for index, (row_name, kind) in enumerate([("Zulu notes.txt", "text/plain"), (name, "application/pdf"),
                                                 ("Alpha notes.txt", "text/plain")]):
            upload(client, headers, row_name, random.Random(index).randbytes(4096), kind)

    with signed_in_phone(browser, live_server, username, 375, 740) as page:
        expect(page.locator("#uploader .uppy-Dashboard-inner")).to_be_visible()
        # (The narrow layout prefixes each cell with its column label: "Name: ...".)
        expect(page.get_by_role("cell", name=f"Name: {name}", exact=True)).to_be_visible()
        page.screenshot(path="/tmp/locker-browser-phone.png", full_page=True)

        widths = page.evaluate("""() => ({
            scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,
            body: document.body.scrollWidth })""")
        assert widths["client"] == 375, widths
        assert widths["scroll"] <= widths["client"], widths
        assert widths["body"] <= widths["client"], widths

        # The table head (its sort links) is hidden here; the sort form outside the table is not.
        names = page.locator("#file-table td.name")
        expect(page.get_by_label("Sort by")).to_be_visible()
        expect(names).to_have_text(["Alpha notes.txt", name, "Zulu notes.txt"])  # newest first
        page.get_by_label("Sort by").select_option(label="Name")
        page.get_by_label("Order").select_option("desc")
        page.get_by_role("button", name="Sort", exact=True).click()
        expect(page).to_have_url(re.compile(r"/files\?sort=name&order=desc$"))
        expect(names).to_have_text(["Zulu notes.txt", name, "Alpha notes.txt"])
        expect(page.get_by_label("Sort by")).to_have_value("name")
        page.get_by_label("Order").select_option("asc")
        page.get_by_role("button", name="Sort", exact=True).click()
        expect(names).to_have_text(["Alpha notes.txt", name, "Zulu notes.txt"])

        # Tab from the top of the page to the row's controls, then use them from the keyboard: Download, then
        # "More", whose menu (opened with Enter) holds the rest.
        download = page.get_by_role("link", name=f"Download: {name}", exact=True)
        more = page.get_by_label(f"More: {name}", exact=True)
        share = page.get_by_role("link", name=f"Share: {name}", exact=True)
        delete = page.get_by_role("link", name=f"Delete: {name}", exact=True)
        for _ in range(60):
            page.keyboard.press("Tab")
            if download.evaluate("element => element === document.activeElement"):
                break
        expect(download).to_be_focused()
        expect(download).to_be_in_viewport()
        page.keyboard.press("Tab")
        expect(more).to_be_focused()
        expect(more).to_be_in_viewport(ratio=1)
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name=f"View: {name}", exact=True)).to_be_focused()
        page.keyboard.press("Tab")
        expect(share).to_be_focused()
        expect(share).to_be_in_viewport()
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name=f"Rename: {name}", exact=True)).to_be_focused()
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name=f"Move to…: {name}", exact=True)).to_be_focused()
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name=f"Activity: {name}", exact=True)).to_be_focused()
        page.keyboard.press("Tab")
        expect(page.get_by_role("button", name=f"Visible to everyone: {name}", exact=True)).to_be_focused()
        page.keyboard.press("Tab")
        expect(delete).to_be_focused()
        expect(delete).to_be_in_viewport(ratio=1)  # the menu opens in place instead of running off the screen
        expect(delete).to_be_in_viewport()
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Delete this file?")).to_be_visible()
        # The safe choice has the focus; deleting takes a deliberate step back to the Delete button.
        expect(page.get_by_role("link", name="Cancel", exact=True)).to_be_focused()
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], widths
        page.keyboard.press("Shift+Tab")
        expect(page.get_by_role("button", name="Delete", exact=True)).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator(".flashes").get_by_role("status")).to_have_text(f"Moved {name} to the trash.")
        expect(names).to_have_text(["Alpha notes.txt", "Zulu notes.txt"])


def test_files_over_the_limit_or_of_refused_types_are_refused_before_any_byte_is_sent(browser, make_app, live_server):
    """The page states the limit and the type rules, and Uppy refuses other files without asking Locker or storage."""
    live_server.app = make_app(STORAGE_BACKEND="local", PUBLIC_URL=live_server.url, MAX_FILE_SIZE=1000,
                               ALLOWED_TYPES=[".bin", ".exe", "text/*"], BLOCKED_TYPES=[".exe"])
    with live_server.app.app_context():
        username = users.create_user(f"limit{uuid.uuid4().hex[:8]}", PASSWORD).username
    context, page, errors = new_page(browser, live_server)
    try:
        log_in(page, username)
        hint = "Only .bin, .exe, text/* files, up to 1000 bytes each. Not accepted: .exe."
        expect(page.get_by_text(hint)).to_be_visible()

        sent = []
        page.on("request", lambda request: sent.append(request.url)
                if "/api/v1/uploads" in request.url or "/_storage/" in request.url else None)
        file_input = page.locator("#uploader input[type=file]").first
        informer = page.locator("#uploader .uppy-Informer")
        file_input.set_input_files([{"name": "too big.bin", "mimeType": "application/octet-stream",
                                     "buffer": b"x" * 1001}])
        expect(informer.filter(has_text="too big.bin was not added: it is larger than 1000 bytes, the most one file "
                                        "can be.").first).to_be_visible()
        file_input.set_input_files([{"name": "photo.png", "mimeType": "image/png", "buffer": b"png"}])
        expect(informer.filter(has_text="Only these types are accepted here: .bin, .exe, text/*.").first).to_be_visible()
        expect(page.locator("#uploader .uppy-Dashboard-Item")).to_have_count(0)
        # A blocked type is listed, to say why beside it (tests/test_browser_uploader.py), and never sent.
        file_input.set_input_files([{"name": "setup.exe", "mimeType": "application/x-msdownload", "buffer": b"MZ"}])
        expect(page.locator("#uploader .upload-refusal")).to_have_text("Files of type .exe are not accepted here.")
        expect(page.locator("#file-table tbody tr")).to_have_count(0)
        assert sent == []
        assert not errors, errors
    finally:
        context.close()


def is_part_put(request):
    """A part sent to storage: S3 part URLs name the part; to local storage these tests send only parts."""
    url = urlsplit(request.url)
    return request.method == "PUT" and ("partNumber" in parse_qs(url.query) or url.path.startswith("/_storage/"))


def part_number(request):
    return int(parse_qs(urlsplit(request.url).query)["partNumber"][0])


@pytest.fixture(params=["local", "s3", "seaweedfs"])
def multipart_live_app(request, make_app, live_server):
    live_server.app = make_app(**backend_settings(request, live_server), **BROWSER_MULTIPART)
    return live_server.app


def test_a_large_upload_goes_in_parts_survives_a_closed_tab_and_resumes(browser, multipart_live_app, live_server,
                                                                          tmp_path):
    """Parts go up signed for their SHA-256; after the tab closes mid-way, Resume sends only the missing parts."""
    app = multipart_live_app
    backend = app.config["STORAGE_BACKEND"]
    name = "holiday video.bin"
    data = random.Random(11).randbytes(3 * PART + MIB + 123)  # four parts, the last one short
    path = tmp_path / name
    path.write_bytes(data)
    part_checksums = {n: base64.b64encode(hashlib.sha256(data[(n - 1) * PART:n * PART]).digest()).decode()
                      for n in range(1, 5)}
    with app.app_context():
        username = users.create_user(f"mover{uuid.uuid4().hex[:8]}", PASSWORD).username

    # 1. Start the upload; two parts arrive, the others hang on the wire until the tab is closed.
    context, page, errors = new_page(browser, live_server)
    try:
        sent, passed = [], []

        def hold_after_two(route):
            if is_part_put(route.request):
                if len(passed) >= 2:
                    return  # never answered
                passed.append(route.request)
            route.fallback()

        page.on("request", lambda request: sent.append(request) if is_part_put(request) else None)
        storage = f"{app.config['S3_ENDPOINT_URL']}/**" if backend == "s3" else "**/_storage/**"
        page.route(storage, hold_after_two)
        log_in(page, username)
        expect(page.get_by_text("unlimited remaining")).to_be_visible()
        stored = []
        with page.expect_event("requestfinished", timeout=20_000,
                               predicate=lambda r: is_part_put(r) and not stored.append(r) and len(stored) == 2):
            page.locator("#uploader input[type=file]").first.set_input_files(str(path))
        assert [r.response().status for r in stored] == [200, 200]
        expect(page.locator("#uploader .uppy-Dashboard-Item.is-inprogress")).to_have_count(1)
        # The other two parts go out as well, side by side (both are held unanswered at once).
        for _ in range(200):
            if len(sent) == 4:
                break
            page.wait_for_timeout(50)
        # Several parts were in flight at once (all four were sent or held before any answer came).
        page.screenshot(path=f"/tmp/locker-browser-{backend}-multipart-interrupted.png", full_page=True)
        assert not errors, errors
    finally:
        context.close()
    assert len(sent) == 4, [r.url for r in sent]
    if backend == "s3":
        for request in sent:
            assert request.headers.get("x-amz-checksum-sha256") == part_checksums[part_number(request)]
    stored_numbers = {part_number(r) for r in stored} if backend == "s3" else None

    # 2. In a new tab: the unfinished upload is listed with what is missing, and resumes.
    context, page, errors = new_page(browser, live_server)
    try:
        log_in(page, username)
        expect(page.locator("#uploader .uppy-Dashboard-inner")).to_be_visible()
        pending = page.get_by_role("region", name="Unfinished uploads")
        item = pending.get_by_role("listitem").filter(has_text=name)
        expect(item).to_contain_text("2 of 4 parts stored")
        expect(item).to_contain_text("2 missing")
        listed = page.request.get("/api/v1/uploads").json()["items"]
        assert [(u["name"], len(u["parts"]), u["multipart"]["part_checksums"]) for u in listed] == [(name, 2, True)]
        page.screenshot(path=f"/tmp/locker-browser-{backend}-multipart-pending.png", full_page=True)

        # Another file is refused, saying why.
        (tmp_path / "other").mkdir()
        (tmp_path / "other" / name).write_bytes(b"not it")
        with page.expect_file_chooser() as chooser:
            page.get_by_role("button", name=f"Resume {name}", exact=True).click()
        chooser.value.set_files(str(tmp_path / "other" / name))
        expect(page.get_by_role("alert")).to_contain_text("so it is not the same file")
        expect(page.locator("#uploader .uppy-Dashboard-Item")).to_have_count(0)

        # The same file: only the two missing parts go up, and no new upload is started.
        after = []
        page.on("request", lambda r: after.append(r) if is_part_put(r) or r.url.endswith("/api/v1/uploads") else None)
        with page.expect_file_chooser() as chooser:
            page.get_by_role("button", name=f"Resume {name}", exact=True).click()
        chooser.value.set_files(str(path))
        status_bar = page.locator("#uploader .uppy-StatusBar")
        expect(status_bar).to_have_class(re.compile(r"\bis-(complete|error)\b"), timeout=20_000)
        informer = " / ".join(page.locator("#uploader .uppy-Informer").all_inner_texts())
        expect(status_bar, f"the resume failed: {informer}").to_have_class(re.compile(r"\bis-complete\b"))
        expect(page.locator("#list-status")).to_have_text("1 file uploaded. The list is up to date.")
        expect(pending).to_have_count(0)
        row = page.locator("#file-table tbody tr").filter(has=page.get_by_role("cell", name=name, exact=True))
        expect(row).to_have_count(1)
        parts_sent = [r for r in after if r.method == "PUT"]
        assert len(parts_sent) == 2, [r.url for r in parts_sent]
        assert [r for r in after if r.method == "POST"] == []
        if backend == "s3":
            assert {part_number(r) for r in parts_sent} == {1, 2, 3, 4} - stored_numbers
            for request in parts_sent:
                assert request.headers.get("x-amz-checksum-sha256") == part_checksums[part_number(request)]
        page.screenshot(path=f"/tmp/locker-browser-{backend}-multipart-done.png", full_page=True)

        # The bytes come back intact, and the SHA-256 shown and returned is theirs.
        with page.expect_download() as download_info:
            page.get_by_role("link", name=f"Download: {name}", exact=True).click()
        with open(download_info.value.path(), "rb") as saved:
            assert saved.read() == data
        digest = hashlib.sha256(data).hexdigest()
        row.locator("td.checksum summary").click()
        expect(row.locator(".sha256-full")).to_be_visible()
        expect(row.locator(".sha256-full")).to_have_text(digest)
        files = page.request.get("/api/v1/files").json()["items"]
        assert [(f["name"], f["size"], f["sha256"]) for f in files] == [(name, len(data), digest)]
        assert page.request.get("/api/v1/uploads").json()["items"] == []
        assert not errors, errors
    finally:
        context.close()


def test_unfinished_uploads_are_cancelled_after_asking_and_uploads_pause_and_resume(browser, make_app, live_server):
    """Cancel asks first, then the upload leaves the list and the server and its space comes back; the
    uploader's own pause, resume and cancel work on multipart uploads (cancel aborts it in Locker too)."""
    app = live_server.app = make_app(STORAGE_BACKEND="local", PUBLIC_URL=live_server.url, DEFAULT_QUOTA=100 * MIB,
                                     **BROWSER_MULTIPART)
    data = bytes(2 * PART + MIB)
    with app.app_context():
        user = users.create_user(f"quitter{uuid.uuid4().hex[:8]}", PASSWORD)
        username = user.username
        headers = {"Authorization": f"Bearer {tokens.create_token(user, 'tests')[1]}"}
        client = app.test_client()
        # A multipart upload with one part stored, and a one-PUT upload whose bytes never came.
        send_parts(client, headers, start_multipart(client, headers, "archive.tar", data), data, [1])
        assert start_upload(client, headers, "notes.txt", b"x" * 100, "text/plain").status_code == 201

    context, page, errors = new_page(browser, live_server)
    try:
        log_in(page, username)
        expect(page.locator(".usage")).to_have_text("Space: 11.0 MiB used of 100 MiB, 89.0 MiB remaining.")
        pending = page.get_by_role("region", name="Unfinished uploads")
        items = pending.get_by_role("listitem")
        expect(items).to_have_count(2)
        expect(items.filter(has_text="archive.tar")).to_contain_text("1 of 3 parts stored")
        expect(items.filter(has_text="notes.txt")).to_contain_text("Not received yet")
        # The uploader's script shows Resume once it runs; a Cancel clicked before that is a plain link.
        expect(page.get_by_role("button", name="Resume archive.tar", exact=True)).to_be_visible()

        # Saying no to the question changes nothing.
        questions = []

        def answer(accept):
            def handle(dialog):
                questions.append(dialog.message)
                dialog.accept() if accept else dialog.dismiss()
            page.once("dialog", handle)

        answer(False)
        page.get_by_role("link", name="Cancel archive.tar", exact=True).click()
        expect(items).to_have_count(2)
        assert questions == ["Cancel the upload of “archive.tar”? What has arrived so far will be deleted."]

        answer(True)
        page.get_by_role("link", name="Cancel archive.tar", exact=True).click()
        expect(items).to_have_count(1)
        expect(page.locator("#list-status")).to_have_text("Cancelled the upload of archive.tar.")
        expect(page.get_by_role("heading", name="Unfinished uploads")).to_be_focused()
        assert [u["name"] for u in page.request.get("/api/v1/uploads").json()["items"]] == ["notes.txt"]

        answer(True)
        page.get_by_role("link", name="Cancel notes.txt", exact=True).click()
        expect(pending).to_have_count(0)
        expect(page.locator("#list-status")).to_have_text("Cancelled the upload of notes.txt.")
        assert page.request.get("/api/v1/uploads").json()["items"] == []
        expect(page.locator(".usage")).to_have_text("Space: 0 bytes used of 100 MiB, 100 MiB remaining.")

        # Pause an upload whose parts are on the wire, then resume it: it completes.
        uploader = page.locator("#uploader")
        file_input = uploader.locator("input[type=file]").first
        status_bar = uploader.locator(".uppy-StatusBar")
        page.route("**/_storage/**", lambda route: None)  # parts hang until the route goes
        with page.expect_request(is_part_put):
            file_input.set_input_files([{"name": "paused.bin", "mimeType": "application/octet-stream",
                                         "buffer": bytes(PART + MIB)}])
        status_bar.get_by_role("button", name="Pause", exact=True).click()
        expect(status_bar).to_contain_text("Paused")
        page.unroute("**/_storage/**")
        status_bar.get_by_role("button", name="Resume", exact=True).click()
        expect(status_bar).to_have_class(re.compile(r"\bis-complete\b"))
        expect(page.get_by_role("cell", name="paused.bin", exact=True)).to_be_visible()
        uploader.get_by_role("button", name="Done", exact=True).click()

        # Cancel in the uploader while parts are on the wire: Locker drops the upload too.
        page.route("**/_storage/**", lambda route: None)
        with page.expect_request(is_part_put):
            file_input.set_input_files([{"name": "dropped.bin", "mimeType": "application/octet-stream",
                                         "buffer": bytes(PART + MIB)}])
        expect(page.locator(".usage")).to_contain_text("12.0 MiB used")
        with page.expect_response(lambda r: r.request.method == "DELETE" and "/api/v1/uploads/" in r.url) as deleted:
            status_bar.get_by_role("button", name="Cancel", exact=True).click()
        assert deleted.value.status == 204
        expect(uploader.locator(".uppy-Dashboard-Item")).to_have_count(0)
        assert page.request.get("/api/v1/uploads").json()["items"] == []
        expect(page.locator(".usage")).to_have_text("Space: 6.0 MiB used of 100 MiB, 94.0 MiB remaining.")
        expect(pending).to_have_count(0)
        assert not errors, errors
    finally:
        context.close()


def test_a_list_refresh_after_the_session_ended_goes_to_log_in(browser, local_live_app, live_server):
    """When the session is gone, refreshing the list sends the page to log in; no login form lands in the table."""
    with local_live_app.app_context():
        username = users.create_user(f"sleeper{uuid.uuid4().hex[:8]}", PASSWORD).username
    context, page, errors = new_page(browser, live_server)
    try:
        log_in(page, username)
        page.locator("#uploader input[type=file]").first.set_input_files(
            [{"name": "note.txt", "mimeType": "text/plain", "buffer": b"hello"}])
        expect(page.locator("#uploader .uppy-StatusBar")).to_have_class(re.compile(r"\bis-complete\b"))
        expect(page.get_by_role("cell", name="note.txt", exact=True)).to_be_visible()
        context.clear_cookies()
        page.get_by_role("button", name="Done", exact=True).click()  # clears the uploader and refreshes the list
        expect(page).to_have_url(re.compile(r"/login\?next=%2Ffiles$"))
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        expect(page.locator("#file-table")).to_have_count(0)
        assert not errors, errors
    finally:
        context.close()


def test_a_password_share_link_opens_in_a_fresh_browser(browser, live_app, live_server, page):
    """The owner makes a password link in the page; a stranger's browser unlocks it and downloads the file."""
    data = random.Random(11).randbytes(64 * 1024)
    name = "holiday plan.pdf"
    with live_app.app_context():
        user = users.create_user(f"sharer{uuid.uuid4().hex[:8]}", PASSWORD)
        username = user.username
        headers = {"Authorization": f"Bearer {tokens.create_token(user, 'tests')[1]}"}
        upload(live_app.test_client(), headers, name, data, "application/pdf", sha256=hashlib.sha256(data).hexdigest())

    log_in(page, username)
    page.get_by_label(f"More: {name}", exact=True).click()
    page.get_by_role("link", name=f"Share: {name}", exact=True).click()
    page.get_by_label("Most downloads (empty: no limit)").fill("2")
    page.get_by_label("Password (optional)").fill("blue whale")
    page.get_by_label("Note for the recipient (optional)").fill("See you in June")
    page.get_by_role("button", name="Create link").click()
    expect(page.get_by_role("heading", name="Link created")).to_be_visible()
    link = page.get_by_label("Share link").input_value()
    assert link.startswith(f"{live_server.url}/s/")

    stranger, visit, visit_errors = new_page(browser, live_server)
    try:
        visit.goto(link)
        expect(visit.get_by_role("heading", name="This link needs a password")).to_be_visible()
        expect(visit.get_by_text(name)).to_have_count(0)
        visit.get_by_label("Password").fill("wrong guess")
        visit.get_by_role("button", name="Unlock").click()
        expect(visit.get_by_role("alert")).to_have_text("That password is not right.")
        visit.get_by_label("Password").fill("blue whale")
        visit.get_by_role("button", name="Unlock").click()
        expect(visit.get_by_role("heading", name=name)).to_be_visible()
        expect(visit.get_by_text("See you in June")).to_be_visible()
        expect(visit.get_by_text(hashlib.sha256(data).hexdigest())).to_be_visible()
        with visit.expect_download() as download_info:
            visit.get_by_role("button", name="Download").click()
        download = download_info.value
        assert download.suggested_filename == name
        with open(download.path(), "rb") as saved:
            assert saved.read() == data
        assert not visit_errors, visit_errors
    finally:
        stranger.close()

    page.get_by_role("link", name="Links", exact=True).click()
    expect(page.get_by_role("cell", name="1 of 2")).to_be_visible()


def test_account_tokens_fit_a_phone_and_buttons_names_contain_their_text(browser, local_live_app, live_server):
    """At 390 px the tokens table does not scroll sideways; a reload after making a token makes no second one;
    every button and link whose accessible name is set contains its visible text (WCAG 2.5.3)."""
    with local_live_app.app_context():
        user = users.create_user(f"tokens{uuid.uuid4().hex[:8]}", PASSWORD)
        username = user.username
        headers = {"Authorization": f"Bearer {tokens.create_token(user, 'a rather long token name for the backup')[1]}"}
        upload(local_live_app.test_client(), headers, "photo.png", b"x" * 10)

    with signed_in_phone(browser, live_server, username, 390, 800) as page:
        page.goto("/account")
        page.get_by_label("Token name", exact=True).fill("phone script")
        page.get_by_role("button", name="Create token").click()
        expect(page).to_have_url(f"{live_server.url}/account")
        expect(page.get_by_label("Your new token. Copy it now: it is shown only once.")).to_be_visible()
        page.reload()
        expect(page.get_by_text("shown only once")).to_have_count(0)
        expect(page.get_by_role("button", name=re.compile("^Revoke"))).to_have_count(2)
        widths = page.evaluate("""() => ({
            scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,
            table: document.querySelector('.table-wrap').scrollWidth,
            wrap: document.querySelector('.table-wrap').clientWidth })""")
        assert widths["scroll"] <= widths["client"] == 390, widths
        assert widths["table"] <= widths["wrap"], widths  # the table's own box does not scroll sideways either

        mismatched = """() => [...document.querySelectorAll('a[aria-label], button[aria-label], summary[aria-label]')]
            .filter(element => element.innerText.trim()
                    && !element.getAttribute('aria-label').toLowerCase().startsWith(element.innerText.trim().toLowerCase()))
            .map(element => element.getAttribute('aria-label') + ' / ' + element.innerText.trim())"""
        assert page.evaluate(mismatched) == []
        page.goto("/files")
        page.get_by_label("More: photo.png", exact=True).click()
        expect(page.get_by_role("button", name="Visible to everyone: photo.png", exact=True)).to_be_visible()
        assert page.evaluate(mismatched) == []
        page.get_by_role("button", name="Visible to everyone: photo.png", exact=True).click()
        expect(page.locator("td.name").filter(has_text="photo.png")).to_contain_text("visible to everyone")
        page.get_by_label("More: photo.png", exact=True).click()
        expect(page.get_by_role("button", name="Make private: photo.png", exact=True)).to_be_visible()
        assert page.evaluate(mismatched) == []
