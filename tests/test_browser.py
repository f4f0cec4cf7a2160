"""Real browser journeys: headless Chromium (Playwright) against a live Locker.

The journey runs once on local storage (Locker serves its own signed
/_storage/ URLs) and once on S3, where the browser PUTs straight to moto's
HTTP server with the bucket's own CORS rules in force (conftest sets
MOTO_DISABLE_GLOBAL_CORS before moto is imported). Debian's Chromium is used;
a missing browser is a failure, never a skip.
"""
import base64
import random
import re
import threading
import uuid

import pytest
from moto.moto_server import werkzeug_app
from moto.server import ThreadedMotoServer
from playwright.sync_api import expect, sync_playwright
from werkzeug.serving import make_server

from app.services import tokens, users
from tests.conftest import PASSWORD
from tests.helpers import upload

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOST = "127.0.0.1"

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


class LiveServer:
    """Locker on a real socket in a background thread.

    The socket is bound first (port 0, so no free-port race) and the app is
    plugged in afterwards, because the S3 app's config needs this address.
    """

    def __init__(self):
        self.app = None
        self.server = make_server(HOST, 0, self.dispatch, threaded=True)
        self.url = f"http://{HOST}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def dispatch(self, environ, start_response):
        return self.app(environ, start_response)

    def start(self):
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def live_server():
    server = LiveServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def moto_server():
    """moto's S3 over HTTP on loopback: the app's boto3 and the browser both really talk to it."""
    # With moto's global CORS layer every preflight passes and CORS bugs go unseen.
    assert werkzeug_app.DISABLE_GLOBAL_CORS, "set MOTO_DISABLE_GLOBAL_CORS=true before moto is imported"
    server = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(params=["local", "s3"])
def live_app(request, make_app, live_server):
    """A Locker app on each storage backend, served by live_server."""
    if request.param == "s3":
        endpoint = request.getfixturevalue("moto_server")
        settings = {"STORAGE_BACKEND": "s3", "S3_BUCKET": f"locker-browser-{uuid.uuid4().hex[:12]}",
                    "S3_ENDPOINT_URL": endpoint, "S3_CREATE_BUCKET": True, "PUBLIC_URL": live_server.url}
    else:
        settings = {"STORAGE_BACKEND": "local", "PUBLIC_URL": live_server.url}
    live_server.app = make_app(**settings)
    return live_server.app


@pytest.fixture(scope="module")
def browser():
    """One Chromium for this module's tests; each test gets its own context (cookies, downloads)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, accept_downloads=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def log_in(page, username):
    """Sign in through the login form, by its labels, as a person would."""
    if "/login" not in page.url:
        page.goto("/login")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


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
    expect(page.get_by_role("link", name=f"Download {kept}", exact=True)).to_be_visible()
    page.screenshot(path=f"/tmp/locker-browser-{backend}-after-upload.png", full_page=True)

    # Download one: the same bytes, under the original (non-ASCII) name.
    with page.expect_download() as download_info:
        page.get_by_role("link", name=f"Download {kept}", exact=True).click()
    download = download_info.value
    assert download.failure() is None
    # The bytes come straight from storage, not through Locker.
    storage_url = live_app.config["S3_ENDPOINT_URL"] if backend == "s3" else f"{live_server.url}/_storage/"
    assert download.url.startswith(storage_url), download.url
    assert download.suggested_filename == kept
    with open(download.path(), "rb") as saved:
        assert saved.read() == uploads[kept][1]

    # Delete the other, through the confirmation page.
    page.get_by_role("link", name=f"Delete {deleted}", exact=True).click()
    expect(page.get_by_role("heading", name="Delete this file?")).to_be_visible()
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/files")
    expect(flash).to_have_text(f"Deleted {deleted}.")
    expect(rows).to_have_count(1)
    expect(page.get_by_role("cell", name=deleted, exact=True)).to_have_count(0)
    expect(page.get_by_role("link", name=f"Delete {deleted}", exact=True)).to_have_count(0)
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
    """At 375 px the page never scrolls sideways, and a row's controls are reached and used by keyboard."""
    name = "Quarterly report for the north-east region, final version 2026.pdf"
    with local_live_app.app_context():
        user = users.create_user(f"phone{uuid.uuid4().hex[:8]}", PASSWORD)
        username = user.username
        headers = {"Authorization": f"Bearer {tokens.create_token(user, 'tests')[1]}"}
        upload(local_live_app.test_client(), headers, name, random.Random(7).randbytes(4096), "application/pdf")

    context = browser.new_context(base_url=live_server.url, viewport={"width": 375, "height": 740},
                                  is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        log_in(page, username)
        expect(page).to_have_url(f"{live_server.url}/files")
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

        # Tab from the top of the page to the row's controls, then use them from the keyboard.
        download = page.get_by_role("link", name=f"Download {name}", exact=True)
        delete = page.get_by_role("link", name=f"Delete {name}", exact=True)
        for _ in range(40):
            page.keyboard.press("Tab")
            if download.evaluate("element => element === document.activeElement"):
                break
        expect(download).to_be_focused()
        expect(download).to_be_in_viewport()
        page.keyboard.press("Tab")
        expect(delete).to_be_focused()
        expect(delete).to_be_in_viewport()
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Delete this file?")).to_be_visible()
        expect(page.get_by_role("button", name="Delete", exact=True)).to_be_focused()
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], widths
    finally:
        context.close()


def test_files_over_the_limit_are_refused_before_any_byte_is_sent(browser, make_app, live_server):
    """The page states the limit, and Uppy refuses a larger file without asking Locker or storage."""
    live_server.app = make_app(STORAGE_BACKEND="local", PUBLIC_URL=live_server.url, MAX_FILE_SIZE=1000)
    with live_server.app.app_context():
        username = users.create_user(f"limit{uuid.uuid4().hex[:8]}", PASSWORD).username
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        log_in(page, username)
        expect(page.get_by_text("Files of any type, up to 1000 bytes each.")).to_be_visible()

        sent = []
        page.on("request", lambda request: sent.append(request.url)
                if "/api/v1/uploads" in request.url or "/_storage/" in request.url else None)
        page.locator("#uploader input[type=file]").first.set_input_files(
            [{"name": "too big.bin", "mimeType": "application/octet-stream", "buffer": b"x" * 1001}])
        expect(page.locator("#uploader .uppy-Informer").filter(has_text="exceeds maximum allowed size").first).to_be_visible()
        expect(page.locator("#uploader .uppy-Dashboard-Item")).to_have_count(0)
        expect(page.locator("#file-table tbody tr")).to_have_count(0)
        assert sent == []
    finally:
        context.close()
