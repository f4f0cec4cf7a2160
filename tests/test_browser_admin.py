"""The admin area in Chromium: axe finds nothing in either theme, nothing scrolls sideways at 390 or 1280 px,
and an admin makes a user and sets its quota with the keyboard alone."""
import uuid

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import User
from app.services import admin, users
from tests.browser_support import browser, live_server, log_in, new_page  # noqa: F401  (fixtures)
from tests.conftest import PASSWORD
from tests.test_browser_a11y import THEMES, axe_problems
from tests.test_browser_layout import OVERFLOW

STRONG = "mauve lantern orbit 42"


@pytest.fixture
def site(make_app, live_server):
    """An admin, a disabled user with an email and a long name, and enough users for two pages."""
    app = live_server.app = make_app(STORAGE_BACKEND="local", PUBLIC_URL=live_server.url)
    with app.test_request_context():
        boss = users.create_user(f"boss{uuid.uuid4().hex[:8]}", PASSWORD, is_admin=True)
        long_name = admin.create_user(boss, "a" * 32, STRONG, email=("long." * 40)[:200] + "@example.org",
                                      quota_bytes=5 * 1024 ** 3)
        admin.set_active(boss, long_name, False)
        for number in range(52):
            db.session.add(User(username=f"member{number:02}", password_hash="x"))
        db.session.commit()
        return {"app": app, "admin": boss.username, "admin_id": boss.id, "user_id": long_name.id}


def admin_paths(site):
    return ["/admin", "/admin/users", "/admin/users?q=member", f"/admin/users/{site['user_id']}",
            f"/admin/users/{site['admin_id']}"]


def test_the_admin_pages_pass_axe_in_both_themes(browser, live_server, site):
    problems, errors = [], []
    for theme, background in THEMES.items():
        context, page, page_errors = new_page(browser, live_server, color_scheme=theme,
                                              viewport={"width": 1280, "height": 900})
        try:
            log_in(page, site["admin"])
            expect(page).to_have_url(f"{live_server.url}/files")
            for path in admin_paths(site):
                page.goto(path)
                expect(page.locator("html")).to_have_css("background-color", background)
                problems += axe_problems(page, theme)
            # A field error on the New user form, and a flashed notice on a user's page.
            page.goto("/admin/users")
            page.get_by_label("Username", exact=True).fill("x")
            page.get_by_label("Password", exact=True).fill(STRONG)
            page.get_by_label("Quota (optional)").fill("plenty")
            page.get_by_role("button", name="Create user").click()
            expect(page.locator(".field-errors")).to_be_visible()
            problems += axe_problems(page, theme)
            page.goto(f"/admin/users/{site['user_id']}")
            page.get_by_role("button", name="Enable account").click()
            expect(page.locator(".flash-info")).to_be_visible()
            problems += axe_problems(page, theme)
            page.get_by_role("button", name="Disable account").click()
            expect(page.locator(".flash-info")).to_be_visible()
            errors += page_errors
        finally:
            context.close()
    assert not errors, errors
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("width, height", [(390, 844), (1280, 800)])
def test_no_admin_page_scrolls_sideways(browser, live_server, site, width, height):
    context, page, errors = new_page(browser, live_server, viewport={"width": width, "height": height})
    try:
        log_in(page, site["admin"])
        expect(page).to_have_url(f"{live_server.url}/files")
        for path in admin_paths(site):
            assert page.goto(path).status == 200
            assert page.evaluate(OVERFLOW) == [], (width, path)
        # The users table stacks into one block per user on a phone, and stays a table on a laptop.
        page.goto("/admin/users")
        display = page.evaluate("getComputedStyle(document.querySelector('table.users thead')).position")
        assert display == ("absolute" if width < 1000 else "static")
    finally:
        context.close()
    assert not errors, errors


def focused(page):
    """The accessible name of what has the keyboard focus: its label, or a button's text or value."""
    return page.evaluate("""() => {
      const element = document.activeElement
      if (element.type === 'submit' || element.tagName === 'BUTTON') return (element.value || element.textContent).trim()
      return element.labels?.[0]?.textContent.trim() ?? element.textContent.trim()
    }""")


@pytest.mark.parametrize("width", [390, 1280])
def test_an_admin_makes_a_user_and_sets_its_quota_by_keyboard(browser, live_server, site, width):
    context, page, errors = new_page(browser, live_server, viewport={"width": width, "height": 900})
    name = f"kb{width}"
    try:
        log_in(page, site["admin"])
        expect(page).to_have_url(f"{live_server.url}/files")
        # From the main navigation's Admin link, by keyboard.
        page.get_by_role("link", name="Admin", exact=True).focus()
        page.keyboard.press("Enter")
        expect(page).to_have_url(f"{live_server.url}/admin")
        page.get_by_role("navigation", name="Admin area").get_by_role("link", name="Users").focus()
        page.keyboard.press("Enter")
        expect(page).to_have_url(f"{live_server.url}/admin/users")

        page.get_by_label("Username", exact=True).focus()
        page.keyboard.type(name)
        page.keyboard.press("Tab")
        assert focused(page) == "Password"
        page.keyboard.type(STRONG)
        page.keyboard.press("Tab")
        assert focused(page) == "Email (optional)"
        page.keyboard.type(f"{name}@example.org")
        page.keyboard.press("Tab")
        assert focused(page) == "Quota (optional)"
        page.keyboard.type("3 GiB")
        page.keyboard.press("Tab")
        assert focused(page) == "Administrator"
        page.keyboard.press("Tab")
        assert focused(page) == "Create user"
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
        expect(page.get_by_role("status")).to_have_text(f"Created {name}.")

        quota = page.get_by_role("textbox", name="Quota", exact=True)
        expect(quota).to_have_value("3 GiB")
        quota.focus()
        page.keyboard.press("Control+A")
        page.keyboard.type("750 MiB")
        page.keyboard.press("Tab")
        assert focused(page) == "Set quota"
        page.keyboard.press("Enter")
        expect(page.get_by_role("status")).to_have_text(f"{name} now has a quota of 750 MiB.")
        expect(page.get_by_role("textbox", name="Quota", exact=True)).to_have_value("750 MiB")
    finally:
        context.close()
    assert not errors, errors
    with site["app"].app_context():
        user = db.session.execute(db.select(User).filter_by(username=name)).scalar_one()
        assert user.quota_bytes == 750 * 1024 ** 2 and user.email == f"{name}@example.org"
