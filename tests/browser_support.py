"""Headless Chromium (Playwright) against a live Locker: the browser test modules import these fixtures."""
import uuid
from contextlib import contextmanager

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.conftest import PASSWORD
from tests.live_support import LiveServer
from tests.seaweed_support import seaweedfs_settings

CHROMIUM = "/usr/bin/chromium"
# Reports each CSP violation to Python as it happens (a page that navigates away keeps none of them).
REPORT_CSP_VIOLATIONS = """
document.addEventListener('securitypolicyviolation', (event) => {
  window.lockerCspViolation(`${event.violatedDirective} refused ${event.blockedURI || 'inline'} on ${location.pathname}`)
})
"""
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def live_server():
    server = LiveServer()
    server.start()
    yield server
    server.stop()


def backend_settings(request, live_server):
    """Settings for the backend the test is parametrized with: local disk, S3 on moto's HTTP server, or SeaweedFS.

    TEST_STORE names it, for the few things the stores do differently (moto keeps no checksum).
    """
    if request.param == "seaweedfs":
        settings = seaweedfs_settings(request.getfixturevalue("seaweedfs"), PUBLIC_URL=live_server.url)
    elif request.param == "s3":
        settings = {"STORAGE_BACKEND": "s3", "S3_BUCKET": f"locker-browser-{uuid.uuid4().hex[:12]}",
                    "S3_ENDPOINT_URL": request.getfixturevalue("moto_server"), "SETUP_STORAGE": True,
                    "PUBLIC_URL": live_server.url}
    else:
        settings = {"STORAGE_BACKEND": "local", "PUBLIC_URL": live_server.url}
    return {**settings, "TEST_STORE": request.param}


@pytest.fixture(params=["local", "s3", "seaweedfs"])
def live_app(request, make_app, live_server):
    """A Locker app on each storage backend, served by live_server (a module using it imports moto_server)."""
    live_server.app = make_app(**backend_settings(request, live_server))
    return live_server.app


@pytest.fixture(scope="module")
def browser():
    """One Chromium for a module's tests; each test gets its own context (cookies, downloads)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def watch(context):
    """The JavaScript errors and CSP violations of every page (and worker) the context opens, as a list that grows."""
    errors = []
    context.expose_binding("lockerCspViolation", lambda _source, text: errors.append(f"CSP violation: {text}"))
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    context.on("weberror", lambda error: errors.append(str(error.error)))
    # Chromium also logs each refusal to the console, including those inside workers, which no event reaches.
    context.on("console", lambda message: errors.append(f"CSP: {message.text}")
               if "Content Security Policy" in message.text else None)
    return errors


def new_page(browser, live_server, **options):
    """A fresh browser context (its own cookies) and page, collecting the page's JavaScript errors and CSP violations."""
    context = browser.new_context(base_url=live_server.url, accept_downloads=True, **options)
    context.set_default_timeout(10_000)
    errors = watch(context)
    page = context.new_page()
    return context, page, errors


@pytest.fixture
def page(browser, live_server):
    context, page, errors = new_page(browser, live_server)
    yield page
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


@contextmanager
def signed_in_phone(browser, live_server, username, width, height):
    """A page on a touch phone `width` px wide, signed in as `username` and on the files page."""
    context, page, errors = new_page(browser, live_server, viewport={"width": width, "height": height},
                                     is_mobile=True, has_touch=True)
    try:
        log_in(page, username)
        expect(page).to_have_url(f"{live_server.url}/files")
        yield page
    finally:
        context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def log_in(page, username):
    """Sign in through the login form, by its labels, as a person would."""
    if "/login" not in page.url:
        page.goto("/login")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
