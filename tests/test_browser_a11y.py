"""axe-core finds no WCAG 2 A/AA problem on any page, in the light theme and in the dark one."""
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import expect

from app.services import file_requests, folders, shares, tokens, trash, users
from tests.browser_support import browser, live_server, log_in, new_page  # noqa: F401  (fixtures)
from tests.conftest import PASSWORD
from tests.helpers import upload

AXE = (Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js").read_text()
# page.add_script_tag would add an inline <script>, which the pages' CSP refuses (and the CSP watch
# would report); evaluate runs in the page through the DevTools protocol, which the CSP does not govern.
RUN_AXE = """async () => {
  // label-content-name-mismatch (WCAG 2.5.3, label in name) is tagged experimental, so it is named as well.
  const result = await axe.run(document, {
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
    rules: {'label-content-name-mismatch': {enabled: true}}
  })
  return result.violations.map((violation) => ({
    rule: violation.id,
    help: violation.help,
    nodes: violation.nodes.map((node) => `${node.target.join(' ')}: ${node.failureSummary.replace(/\\s+/g, ' ')}`)
  }))
}"""
# The page background each theme gives (locker.css's --bg).
THEMES = {"light": "rgb(255, 255, 255)", "dark": "rgb(20, 23, 28)"}


def axe_problems(page, theme):
    page.evaluate(AXE)
    return [f"[{theme}] {page.url} {problem['rule']} ({problem['help']}): {node}"
            for problem in page.evaluate(RUN_AXE) for node in problem["nodes"]]


def make_content(app, username):
    """A file, a share link (and a revoked one), an upload request, a folder and a link to it, all owned by
    `username`; returns their paths."""
    with app.test_request_context():  # links are made with url_for
        user = users.create_user(username, PASSWORD)
        headers = {"Authorization": f"Bearer {tokens.create_token(user, 'tests')[1]}"}
        file = upload(app.test_client(), headers, "notes.txt", b"Notes for the meeting.\n", "text/plain")
        share, share_link = shares.create_share(user, file["id"], expires_in="7d", note="For the team")
        share_id = share.public_id
        _, locked_link = shares.create_share(user, file["id"], expires_in="7d", password="blue whale")
        revoked, revoked_link = shares.create_share(user, file["id"], expires_in="7d")
        shares.revoke_share(user, revoked.public_id)
        request, request_link = file_requests.create_request(user, "Holiday photos", message="Send yours",
                                                             expires_in="7d")
        request_id = request.public_id
        folder = folders.create_folder(user, "Meeting notes")
        folder_id = folder.public_id
        upload(app.test_client(), headers, "agenda.txt", b"1. Zips\n", "text/plain", folder=folder_id, path="Mai")
        _, folder_link = shares.create_share(user, folder_id=folder_id, expires_in="7d", note="All of it")
        _, locked_request_link = file_requests.create_request(user, "Receipts", expires_in="7d", password="blue whale")
        # Folders (one inside another, holding a file) and a trash with a file and a folder in it.
        projects = folders.create_folder(user, "Projects")
        folders.create_folder(user, "2026", projects.public_id)
        upload(app.test_client(), headers, "plan.txt", b"The plan.\n", "text/plain", folder=projects.public_id)
        old = upload(app.test_client(), headers, "old.txt", b"Old.\n", "text/plain")
        gone = folders.create_folder(user, "Old projects")
        trash.trash(user, file_ids=[old["id"]], folder_ids=[gone.public_id])
        folder_id = projects.public_id
        gone_id = gone.public_id
    return {
        "username": username,
        "owner": [
            "/files", f"/files/{file['id']}/view", f"/files/{file['id']}/share", f"/files/{file['id']}/delete",
            f"/files/{file['id']}/rename",
            "/everyone", "/shares", f"/shares/{share_id}/edit", "/requests", "/requests/new",
            f"/requests/{request_id}/edit", "/activity", "/account", "/api/docs",
            f"/files?folder={folder_id}", f"/files?folder={folder_id}&q=plan&everywhere=1",
            f"/folders/{folder_id}/rename", f"/folders/{folder_id}/move", f"/files/{file['id']}/move",
            f"/folders/{folder_id}/delete", "/trash", f"/trash/file/{old['id']}/purge", "/trash/empty",
            f"/folders/{folder_id}/share",
            # Many at once (the files page's and the trash page's checkboxes).
            f"/files/bulk/move?file={file['id']}&folder={folder_id}", f"/files/bulk/share?file={file['id']}",
            f"/trash/bulk/purge?file={old['id']}&folder={gone_id}",
        ],
        "anyone": ["/login", "/register", "/no-such-page"] + [
            urlsplit(link).path for link in [share_link, locked_link, revoked_link, request_link, locked_request_link,
                                             folder_link]],
    }


def settle(page):
    """Wait for what scripts draw after load: the uploader, and Swagger UI once it has read the document."""
    if page.locator("#uploader").count():
        expect(page.locator("#uploader .uppy-Dashboard")).to_be_visible()
    if page.locator("#swagger-ui-container").count():
        expect(page.locator("#swagger-ui-container .info")).to_be_visible()


def test_every_page_passes_axe_in_both_themes(browser, make_app, live_server):
    live_server.app = make_app(STORAGE_BACKEND="local", PUBLIC_URL=live_server.url)
    paths = make_content(live_server.app, f"axe{uuid.uuid4().hex[:8]}")
    problems, errors = [], []
    for theme, background in THEMES.items():
        options = {"color_scheme": theme, "viewport": {"width": 1280, "height": 900}}
        owner, page, owner_errors = new_page(browser, live_server, **options)
        anyone, visitor, visitor_errors = new_page(browser, live_server, **options)
        try:
            log_in(page, paths["username"])
            expect(page).to_have_url(f"{live_server.url}/files")
            expect(page.locator("html")).to_have_css("background-color", background)
            expect(page.locator("#uploader .uppy-Dashboard")).to_have_attribute("data-uppy-theme", theme)
            for path in paths["owner"]:
                page.goto(path)
                settle(page)
                problems += axe_problems(page, theme)

            # The pages a form leads to: a new share link and a new request, each with its QR code.
            page.goto(paths["owner"][2])
            page.get_by_role("button", name="Create link").click()
            expect(page.get_by_role("heading", name="Link created")).to_be_visible()
            problems += axe_problems(page, theme)
            page.goto("/requests/new")
            page.get_by_label("Title (what you are asking for)").fill("Scans")
            page.get_by_role("button", name="Create upload link").click()
            expect(page.get_by_role("heading", name="Upload link created")).to_be_visible()
            problems += axe_problems(page, theme)

            # A flashed notice, and a form's field error.
            page.goto("/shares")
            page.get_by_role("button", name="Revoke link to notes.txt").first.click()
            expect(page.locator(".flash-info")).to_be_visible()
            problems += axe_problems(page, theme)
            page.goto("/requests/new")
            page.get_by_label("Title (what you are asking for)").fill("   ")  # the browser's `required` lets it pass
            page.get_by_role("button", name="Create upload link").click()
            expect(page.locator(".field-errors")).to_be_visible()
            problems += axe_problems(page, theme)

            # The files page with rows ticked: the toolbar and its count; the trash page's likewise.
            page.goto("/files")
            page.get_by_role("checkbox", name="Select all on this page").check()
            expect(page.get_by_role("group", name="selected")).to_be_visible()
            problems += axe_problems(page, theme)
            page.goto("/trash")
            page.get_by_role("checkbox", name="Select old.txt").check()
            expect(page.get_by_role("group", name="1 selected")).to_be_visible()
            problems += axe_problems(page, theme)

            # The uploader's list of files, once a file is in it.
            page.goto("/files")
            page.locator("#uploader input[type=file]").first.set_input_files(
                [{"name": f"{theme}.txt", "mimeType": "text/plain", "buffer": b"hello"}])
            expect(page.locator("#file-table").get_by_text(f"{theme}.txt")).to_be_visible()
            problems += axe_problems(page, theme)

            for path in paths["anyone"]:
                visitor.goto(path)
                settle(visitor)
                problems += axe_problems(visitor, theme)
            # A flashed error: a wrong password.
            visitor.goto("/login")
            visitor.get_by_label("Username", exact=True).fill(paths["username"])
            visitor.get_by_label("Password", exact=True).fill("not the password")
            visitor.get_by_role("button", name="Log in").click()
            expect(visitor.locator(".flash-error")).to_be_visible()
            problems += axe_problems(visitor, theme)
            errors += owner_errors + visitor_errors
        finally:
            owner.close()
            anyone.close()
    assert not errors, errors
    assert not problems, "\n".join(problems)
