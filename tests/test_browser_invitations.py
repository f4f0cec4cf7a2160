"""The invitation and password reset pages in Chromium: axe finds nothing in either theme, nothing scrolls
sideways at 390 or 1280 px, and an invitation is accepted with the keyboard alone."""
import uuid
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from app.services import account_email, invitations, password_resets, users
from tests.browser_support import browser, live_server, log_in, new_page  # noqa: F401  (fixtures)
from tests.conftest import PASSWORD
from tests.test_browser_a11y import THEMES, axe_problems
from tests.test_browser_layout import OVERFLOW

NEW_PASSWORD = "violet tangerine orbit"


@pytest.fixture
def site(make_app, live_server, smtp_server):
    """An admin with invitations in every state, a user with an address and a reset link; mail configured,
    so /forgot exists."""
    app = live_server.app = make_app(**{**smtp_server.settings, "PUBLIC_URL": live_server.url}, STORAGE_BACKEND="local",
                                     REGISTRATION="invite")
    with app.app_context():
        admin = users.create_user(f"admin{uuid.uuid4().hex[:6]}", PASSWORD, is_admin=True)
        used, used_url, _ = invitations.create(admin, note="For the design team")
        invitations.accept(urlsplit(used_url).path.rsplit("/", 1)[1], f"used{uuid.uuid4().hex[:6]}", NEW_PASSWORD)
        revoked, _, _ = invitations.create(admin, expires_in="1d", email="someone.with.a.long.address@example.org")
        invitations.revoke(admin, revoked.public_id)
        _, invite_url, _ = invitations.create(admin, quota_bytes=10 * 1024 ** 3, is_admin=True,
                                              email="new.colleague@example.org", note="Welcome to the archive team")
        user = users.create_user(f"reader{uuid.uuid4().hex[:6]}", PASSWORD)
        account_email.set_email(user, "reader@example.org")
        reset_url, _ = password_resets.issue(user, send_mail=False)
        return {"admin": admin.username, "user_id": user.id, "invite": urlsplit(invite_url).path,
                "reset": urlsplit(reset_url).path}


def admin_pages(site):
    return ["/admin/invitations", "/account", f"/admin/users/{site['user_id']}/reset-password"]


def public_pages(site):
    return [site["invite"], site["reset"], "/forgot", "/register", "/invite/no-such-token"]


def test_the_pages_pass_axe_in_both_themes(browser, live_server, site):
    problems = []
    for theme, background in THEMES.items():
        options = {"color_scheme": theme, "viewport": {"width": 1280, "height": 900}}
        context, page, errors = new_page(browser, live_server, **options)
        visitor_context, visitor, visitor_errors = new_page(browser, live_server, **options)
        try:
            log_in(page, site["admin"])
            expect(page).to_have_url(f"{live_server.url}/files")
            for path in admin_pages(site):
                page.goto(path)
                problems += axe_problems(page, theme)
            # The link made, shown once; and the list with a flashed notice after making an invitation.
            page.get_by_role("button", name="Reset password of").click()
            expect(page.get_by_role("heading", name="Password reset for")).to_be_visible()
            problems += axe_problems(page, theme)
            page.goto("/admin/invitations")
            page.get_by_label("Note (optional, for you and in the email)").fill("Another one")
            page.get_by_role("button", name="Make invitation").click()
            expect(page.locator(".flash-info")).to_be_visible()
            problems += axe_problems(page, theme)
            # A field error beside its field.
            page.get_by_label("Storage quota (optional, e.g. 10 GiB; 0 for no limit)").fill("lots")
            page.get_by_role("button", name="Make invitation").click()
            expect(page.locator(".field-errors")).to_be_visible()
            problems += axe_problems(page, theme)
            for path in public_pages(site):
                visitor.goto(path)
                expect(visitor.locator("html")).to_have_css("background-color", background)
                problems += axe_problems(visitor, theme)
        finally:
            context.close()
            visitor_context.close()
        assert not errors and not visitor_errors, errors + visitor_errors
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("width, height", [(390, 844), (1280, 800)])
def test_nothing_scrolls_sideways(browser, live_server, site, width, height):
    context, page, errors = new_page(browser, live_server, viewport={"width": width, "height": height})
    visitor_context, visitor, _ = new_page(browser, live_server, viewport={"width": width, "height": height})
    try:
        log_in(page, site["admin"])
        for path in admin_pages(site):
            page.goto(path)
            assert page.evaluate(OVERFLOW) == [], (width, path)
        for path in public_pages(site):
            visitor.goto(path)
            assert visitor.evaluate(OVERFLOW) == [], (width, path)
    finally:
        context.close()
        visitor_context.close()
    assert not errors, errors


def test_an_invitation_is_accepted_by_keyboard(browser, live_server, site):
    context, page, errors = new_page(browser, live_server, viewport={"width": 390, "height": 844})
    try:
        page.goto(site["invite"])
        expect(page.get_by_text("the administrator role and a storage quota of 10.0 GiB")).to_be_visible()
        for _ in range(30):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "username":
                break
        assert page.evaluate("document.activeElement.id") == "username"
        page.keyboard.type("keyboard.user")
        page.keyboard.press("Tab")
        page.keyboard.type(NEW_PASSWORD)
        page.keyboard.press("Tab")
        page.keyboard.type(NEW_PASSWORD)
        page.keyboard.press("Enter")
        expect(page).to_have_url(f"{live_server.url}/files")
        expect(page.get_by_text("Welcome, keyboard.user!")).to_be_visible()
        # The link is used up: opening it again says so.
        response = page.goto(site["invite"])
        assert response.status == 410
        expect(page.get_by_role("alert")).to_have_text("This invitation has already been used.")
    finally:
        context.close()
    assert not errors, errors


def test_a_reset_link_sets_a_new_password_by_keyboard(browser, live_server, site):
    context, page, errors = new_page(browser, live_server, viewport={"width": 1280, "height": 800})
    try:
        page.goto(site["reset"])
        page.get_by_label("New password (at least 8 characters)").focus()
        page.keyboard.type(NEW_PASSWORD)
        page.keyboard.press("Tab")
        page.keyboard.type(NEW_PASSWORD)
        page.keyboard.press("Enter")
        expect(page).to_have_url(f"{live_server.url}/login")
        expect(page.locator(".flash-info")).to_contain_text("Your password is changed.")
        expect(page.get_by_role("link", name="Forgot your password?")).to_be_visible()
    finally:
        context.close()
    assert not errors, errors
