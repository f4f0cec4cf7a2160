"""A real browser journey through an upload request, on local storage and on moto's S3 with bucket CORS.

The owner makes the link in the page; a stranger's browser (its own cookies)
opens it, gives a name and uploads through Uppy straight to storage; the file
shows in the stranger's visit and in the owner's list, marked as theirs.
"""
import random
import re
import uuid

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import File, FileRequest, FileStatus, User
from app.services import file_requests, users
from tests.conftest import PASSWORD
from tests.browser_support import browser, live_app, live_server, log_in, new_page, page  # noqa: F401  (fixtures)
from tests.live_support import moto_server  # noqa: F401  (fixture)


def test_a_guest_uploads_through_a_request_link_and_the_owner_sees_it_marked(browser, live_app, live_server, page,
                                                                              tmp_path):
    name = "tax return 2026.pdf"
    data = random.Random(7).randbytes(150 * 1024)
    (tmp_path / name).write_bytes(data)
    with live_app.app_context():
        username = users.create_user(f"asker{uuid.uuid4().hex[:8]}", PASSWORD).username

    log_in(page, username)
    page.get_by_role("link", name="Requests", exact=True).click()
    page.get_by_role("link", name="New upload request").click()
    page.get_by_label("Title (what you are asking for)").fill("Paperwork for the accountant")
    page.get_by_label("Message for the people who upload (optional)").fill("PDFs only, please.")
    page.get_by_label("Most files (empty: no limit)").fill("5")
    page.get_by_role("button", name="Create upload link").click()
    expect(page.get_by_role("heading", name="Upload link created")).to_be_visible()
    link = page.get_by_label("Upload link").input_value()
    assert link.startswith(f"{live_server.url}/r/")

    stranger, visit, errors = new_page(browser, live_server)
    try:
        visit.goto(link)
        expect(visit.get_by_role("heading", name="Paperwork for the accountant")).to_be_visible()
        expect(visit.get_by_text("PDFs only, please.")).to_be_visible()
        expect(visit.get_by_text("Nothing sent in this visit yet.")).to_be_visible()
        visit.get_by_label("Your name (optional)").fill("Ada Lovelace")
        visit.locator("#uploader input[type=file]").first.set_input_files(str(tmp_path / name))
        status_bar = visit.locator("#uploader .uppy-StatusBar")
        expect(status_bar).to_have_class(re.compile(r"\bis-(complete|error)\b"), timeout=20_000)
        informer = " / ".join(visit.locator("#uploader .uppy-Informer").all_inner_texts())
        expect(status_bar, f"the upload failed: {informer}").to_have_class(re.compile(r"\bis-complete\b"))
        expect(visit.locator("#list-status")).to_have_text("1 file uploaded. The list is up to date.")
        sent = visit.get_by_role("list", name="Sent in this visit")
        expect(sent.get_by_role("listitem")).to_have_count(1)
        expect(sent).to_contain_text(name)
        visit.screenshot(path=f"/tmp/locker-browser-{live_app.config['STORAGE_BACKEND']}-request-guest.png",
                         full_page=True)
    finally:
        stranger.close()
    assert not errors, errors

    page.goto("/files")
    row = page.locator("#file-table tbody tr").filter(has_text=name)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("from Ada Lovelace via Paperwork for the accountant")
    with page.expect_download() as download_info:
        page.get_by_role("link", name=f"Download: {name}", exact=True).click()
    with open(download_info.value.path(), "rb") as saved:
        assert saved.read() == data
    page.get_by_role("link", name="Requests", exact=True).click()
    listed = page.locator("tbody tr").filter(has_text="Paperwork for the accountant")
    expect(listed).to_contain_text("1 of 5")
    expect(listed).to_contain_text("Open")


@pytest.mark.parametrize("live_app", ["local", "s3"], indirect=True)
def test_a_guest_picks_five_files_at_once_and_all_five_arrive(browser, live_app, live_server, tmp_path):
    names = [f"scan {number}.pdf" for number in range(1, 6)]
    for number, name in enumerate(names):
        (tmp_path / name).write_bytes(random.Random(number).randbytes(20 * 1024 + number))
    with live_app.test_request_context():
        owner = users.create_user(f"asker{uuid.uuid4().hex[:8]}", PASSWORD)
        file_request, link = file_requests.create_request(owner, "Scans of the contract")
        request_id = file_request.id

    stranger, visit, errors = new_page(browser, live_server)
    try:
        visit.goto(link)
        visit.locator("#uploader input[type=file]").first.set_input_files([str(tmp_path / name) for name in names])
        status_bar = visit.locator("#uploader .uppy-StatusBar")
        expect(status_bar).to_have_class(re.compile(r"\bis-(complete|error)\b"), timeout=30_000)
        informer = " / ".join(visit.locator("#uploader .uppy-Informer").all_inner_texts())
        expect(status_bar, f"an upload failed: {informer}").to_have_class(re.compile(r"\bis-complete\b"))
        expect(visit.get_by_text("Upload failed")).to_have_count(0)
        expect(visit.locator("#list-status")).to_have_text("5 files uploaded. The list is up to date.")
        sent = visit.get_by_role("list", name="Sent in this visit")
        expect(sent.get_by_role("listitem")).to_have_count(5)
        for name in names:
            expect(sent).to_contain_text(name)
    finally:
        stranger.close()
    assert not errors, errors

    with live_app.app_context():
        received = db.session.execute(db.select(File.name, File.status).filter_by(
            file_request_id=request_id)).all()
        assert sorted(received) == [(name, FileStatus.READY) for name in names]
        assert db.session.get(FileRequest, request_id).files_used == 5


@pytest.mark.parametrize("live_app", ["local"], indirect=True)
def test_a_guest_is_told_of_the_space_left_and_of_a_new_password_not_asked_to_sign_in(browser, live_app,
                                                                                      live_server):
    with live_app.test_request_context():
        owner = users.create_user(f"asker{uuid.uuid4().hex[:8]}", PASSWORD)
        file_request, link = file_requests.create_request(owner, "Receipts", max_bytes=8 * 1024,
                                                          password="first secret")
        owner_id, request_id = owner.id, file_request.public_id

    stranger, visit, errors = new_page(browser, live_server)
    try:
        visit.goto(link)
        visit.get_by_label("Password").fill("first secret")
        visit.get_by_role("button", name="Unlock").click()
        expect(visit.get_by_role("heading", name="Receipts")).to_be_visible()
        expect(visit.get_by_text(re.compile(r"up to 8\.0 KiB in all\."))).to_be_visible()
        pick = visit.locator("#uploader input[type=file]").first
        pick.set_input_files([{"name": "big.pdf", "mimeType": "application/pdf", "buffer": b"x" * 10_000}])
        expect(visit.locator("#uploader .uppy-Informer").filter(has_text="big.pdf").first).to_contain_text(
            "big.pdf was not added: it is larger than 8.0 KiB, the space left in this upload request.")

        with live_app.test_request_context():  # the owner changes the password while the guest's page is open
            file_requests.update_request(db.session.get(User, owner_id), request_id, password="second secret")
        pick.set_input_files([{"name": "small.pdf", "mimeType": "application/pdf", "buffer": b"%PDF small"}])
        refusal = visit.locator("#uploader .uppy-Dashboard-Item .upload-refusal")
        expect(refusal).to_have_text("This link now asks for a password: reload the page, enter it, and send the "
                                     "file again.")
        expect(visit.get_by_text("Your session has ended")).to_have_count(0)
        expect(visit.get_by_role("link", name=re.compile("[Ss]ign in"))).to_have_count(0)
    finally:
        stranger.close()
    assert not errors, errors
