"""The browser uploader explains itself: why a file was refused (next to it, in plain words), what a mixed batch
came to, what to do when the session ends (the picked files stay), and sizes in the units Locker uses.

Headless Chromium (Playwright) against a live Locker on local storage: these are about the page, not the stores.
"""
import re
import uuid

import pytest
from playwright.sync_api import expect

from app.services import users
from tests.browser_support import browser, live_server, log_in, new_page  # noqa: F401  (fixtures)
from tests.conftest import PASSWORD

LONG_NAME = "n" * 296 + ".txt"  # 300 characters: Locker takes at most 255


@pytest.fixture
def signed_in(browser, make_app, live_server):
    """(page, context, username) signed in on the files page of a Locker with a small quota and .exe files blocked."""
    live_server.app = make_app(STORAGE_BACKEND="local", PUBLIC_URL=live_server.url, DEFAULT_QUOTA=8192,
                               BLOCKED_TYPES=[".exe"])
    with live_server.app.app_context():
        username = users.create_user(f"picker{uuid.uuid4().hex[:8]}", PASSWORD).username
    context, page, errors = new_page(browser, live_server)
    log_in(page, username)
    expect(page).to_have_url(f"{live_server.url}/files")
    yield page, context, username
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def pick(page, *files):
    page.locator("#uploader input[type=file]").first.set_input_files(
        [{"name": name, "mimeType": kind, "buffer": data} for name, kind, data in files])


def item(page, name):
    """A file's item in the Dashboard (which shortens long names on screen but keeps them in the title)."""
    return page.locator("#uploader .uppy-Dashboard-Item").filter(
        has=page.locator(f'.uppy-Dashboard-Item-name[title="{name}"]'))


def test_refused_files_say_why_beside_them_and_a_mixed_batch_is_counted_once(signed_in):
    page, _, _ = signed_in
    pick(page, ("kept.txt", "text/plain", b"hello"),
         (LONG_NAME, "text/plain", b"long name"),
         ("big.bin", "application/octet-stream", b"x" * 10_000),
         ("setup.exe", "application/x-msdownload", b"MZ"))

    reasons = {LONG_NAME: "The name is too long: at most 255 characters.",
               "big.bin": "Not enough space: this file needs 9.8 KiB and you have 8.0 KiB left",
               "setup.exe": "Files of type .exe are not accepted here."}
    for name, reason in reasons.items():
        expect(item(page, name).locator(".upload-refusal")).to_have_text(re.compile(f"^{re.escape(reason)}"))
    live = page.locator("#list-status")
    expect(live).to_contain_text("1 uploaded, 3 failed.")
    for name, reason in reasons.items():
        expect(live).to_contain_text(f"{name}: {reason}")
    assert live.inner_text().count("uploaded") == 1

    status = page.locator("#uploader .uppy-StatusBar")
    expect(status).to_contain_text("1 uploaded, 3 failed")
    expect(status).not_to_contain_text("0 of 0")
    expect(status).not_to_contain_text("Upload failed")
    expect(status).not_to_contain_text("Complete")
    # Nothing here would go better a second time.
    expect(page.get_by_role("button", name="Retry upload")).to_have_count(0)
    expect(page.get_by_role("cell", name="kept.txt", exact=True)).to_be_visible()
    # Only a name can be changed.
    expect(page.get_by_role("button", name=re.compile("^Rename"))).to_have_count(1)

    page.get_by_role("button", name=f"Rename {LONG_NAME}").click()
    dialog = page.get_by_role("dialog", name="Rename the file")
    expect(dialog).to_be_visible()
    dialog.get_by_label("New name").fill("short name.txt")
    dialog.get_by_role("button", name="Rename and upload").click()
    expect(page.get_by_role("cell", name="short name.txt", exact=True)).to_be_visible()
    expect(item(page, "short name.txt").locator(".upload-refusal")).to_have_count(0)
    expect(status).to_contain_text("2 uploaded, 2 failed")
    expect(page.get_by_role("cell", name=LONG_NAME)).to_have_count(0)


def test_the_rename_dialog_refuses_a_too_long_name_fits_a_phone_and_works_by_keyboard(signed_in):
    page, _, _ = signed_in
    page.set_viewport_size({"width": 390, "height": 800})
    pick(page, (LONG_NAME, "text/plain", b"long name"))
    rename = page.get_by_role("button", name=f"Rename {LONG_NAME}")
    expect(rename).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    rename.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Rename the file")
    expect(dialog.get_by_label("New name")).to_be_focused()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    dialog.get_by_label("New name").fill("m" * 256)
    dialog.get_by_role("button", name="Rename and upload").click()
    expect(dialog.get_by_role("alert")).to_have_text("That name has 256 characters; at most 255 are allowed.")
    expect(dialog.get_by_label("New name")).to_be_focused()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("button", name=f"Rename {LONG_NAME}")).to_be_focused()


def test_an_ended_session_keeps_the_picked_file_and_retry_sends_it_after_signing_in_again(signed_in, live_server):
    page, context, username = signed_in
    context.clear_cookies()
    pick(page, ("after.txt", "text/plain", b"sent after signing in again"))

    notice = page.get_by_role("alert").filter(has_text="Your session has ended.")
    expect(notice).to_contain_text("Your session has ended. Sign in again to continue uploading.")
    link = notice.get_by_role("link", name=re.compile("^Sign in again"))
    expect(link).to_have_attribute("href", "/login?next=%2Ffiles")
    expect(link).to_have_attribute("target", "_blank")
    expect(page).to_have_url(f"{live_server.url}/files")
    expect(item(page, "after.txt")).to_have_count(1)
    expect(item(page, "after.txt").locator(".upload-refusal")).to_contain_text("Your session has ended.")

    other = context.new_page()
    other.goto("/files")
    expect(other).to_have_url(re.compile(r"/login\?next=%2Ffiles$"))
    expect(other.get_by_text("Log in to see that page.")).to_have_count(1)
    log_in(other, username)
    expect(other).to_have_url(f"{live_server.url}/files")
    other.close()

    page.get_by_role("button", name="Retry upload").click()
    expect(page.get_by_role("cell", name="after.txt", exact=True)).to_be_visible()
    expect(item(page, "after.txt").locator(".upload-refusal")).to_have_count(0)
    expect(notice).to_be_hidden()


def test_uppy_gives_sizes_in_the_units_locker_uses(signed_in):
    page, _, _ = signed_in
    held = []  # the PUT to storage waits, so the status bar's progress can be read
    page.route("**/_storage/**", lambda route: held.append(route))
    pick(page, ("sized.bin", "application/octet-stream", b"s" * 7_900))
    expect(item(page, "sized.bin").locator(".uppy-Dashboard-Item-statusSize")).to_have_text("7.7 KiB")
    expect(page.locator("#uploader .uppy-StatusBar-additionalInfo")).to_contain_text(re.compile(r"\bof 7\.7 KiB\b"))
    assert len(held) == 1
    held[0].continue_()
    expect(page.get_by_role("cell", name="sized.bin", exact=True)).to_be_visible()
    expect(item(page, "sized.bin").locator(".uppy-Dashboard-Item-statusSize")).to_have_text("7.7 KiB")
