"""The Account page's self-service sections and the admin's delete page in a real browser: axe finds nothing in
either theme, nothing scrolls sideways at 390 or 1280 px, and the password changes by keyboard alone."""
import uuid

import pytest
from playwright.sync_api import expect

from app.services import tokens, users
from tests.browser_support import browser, live_server, log_in, new_page  # noqa: F401  (fixtures)
from tests.conftest import PASSWORD
from tests.helpers import upload
from tests.test_browser_a11y import THEMES, axe_problems
from tests.test_browser_layout import OVERFLOW

PHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "Version/17.5 Mobile/15E148 Safari/604.1")
NEW_PASSWORD = "purple elephant marmalade 42"


@pytest.fixture
def site(make_app, live_server):
    """An admin with a file and a second sign-in on a phone, and another user for the admin to delete."""
    app = live_server.app = make_app(STORAGE_BACKEND="local", PUBLIC_URL=live_server.url)
    with app.test_request_context():
        admin = users.create_user(f"admin{uuid.uuid4().hex[:8]}", PASSWORD, is_admin=True)
        other = users.create_user(f"other{uuid.uuid4().hex[:8]}", PASSWORD)
        upload(app.test_client(), {"Authorization": f"Bearer {tokens.create_token(admin, 'tests')[1]}"},
               "notes.txt", b"Notes.\n", "text/plain")
        return {"app": app, "admin": admin.username, "other_id": other.id}


def signed_in_elsewhere(browser, live_server, username):
    context, page, _ = new_page(browser, live_server, user_agent=PHONE)
    log_in(page, username)
    expect(page).to_have_url(f"{live_server.url}/files")
    return context, page


def test_the_account_and_delete_pages_pass_axe_and_fit_every_width(browser, live_server, site):
    phone, _ = signed_in_elsewhere(browser, live_server, site["admin"])
    problems = []
    try:
        for theme in THEMES:
            for width, height in [(390, 844), (1280, 800)]:
                context, page, errors = new_page(browser, live_server, color_scheme=theme,
                                                 viewport={"width": width, "height": height})
                try:
                    log_in(page, site["admin"])
                    expect(page).to_have_url(f"{live_server.url}/files")
                    for path in ["/account", f"/admin/users/{site['other_id']}/delete"]:
                        page.goto(path)
                        page.wait_for_load_state("networkidle")
                        assert page.evaluate(OVERFLOW) == [], (width, path)
                        problems += axe_problems(page, theme)
                    page.goto("/account")
                    expect(page.get_by_text("Safari on iOS")).to_be_visible()
                    expect(page.get_by_role("button", name="Sign out all other devices")).to_be_visible()
                    expect(page.get_by_label("Type your username to confirm")).to_be_visible()
                finally:
                    context.close()
                assert not errors, errors
    finally:
        phone.close()
    assert problems == []


def test_the_password_changes_by_keyboard_and_the_other_device_is_signed_out(browser, live_server, site):
    phone, phone_page = signed_in_elsewhere(browser, live_server, site["admin"])
    context, page, errors = new_page(browser, live_server, viewport={"width": 1280, "height": 900})
    try:
        log_in(page, site["admin"])
        expect(page).to_have_url(f"{live_server.url}/files")
        page.goto("/account")
        page.get_by_label("Current password").focus()
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Tab")
        page.keyboard.type(NEW_PASSWORD)
        page.keyboard.press("Tab")
        page.keyboard.type(NEW_PASSWORD)
        page.keyboard.press("Tab")
        expect(page.get_by_role("button", name="Change password")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.get_by_role("status").filter(has_text="Password changed")).to_contain_text(
            "signed out on 1 other device")
        # This device stays; the phone is sent to the login page on its next request.
        page.goto("/account")
        expect(page).to_have_url(f"{live_server.url}/account")
        phone_page.goto("/files")
        expect(phone_page).to_have_url(f"{live_server.url}/login?next=%2Ffiles")
    finally:
        context.close()
        phone.close()
    assert not errors, errors
