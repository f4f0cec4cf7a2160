"""Two-factor sign-in in Chromium: set up by keyboard from the Account page (the key read off the page, the code
computed as an authenticator app would), then signing in with the second step; its pages pass axe in both themes
and fit 390 and 1280 px without scrolling sideways."""
import re
import time
import uuid

import pyotp
import pytest
from playwright.sync_api import expect

from app.services import two_factor, users
from tests.browser_support import browser, live_server, new_page  # noqa: F401  (fixtures)
from tests.conftest import PASSWORD
from tests.test_browser_a11y import THEMES, axe_problems
from tests.test_browser_layout import OVERFLOW


@pytest.fixture
def site(make_app, live_server):
    app = live_server.app = make_app(STORAGE_BACKEND="local", PUBLIC_URL=live_server.url)
    with app.app_context():
        user = users.create_user(f"twofa{uuid.uuid4().hex[:8]}", PASSWORD)
        admin = users.create_user(f"admin{uuid.uuid4().hex[:8]}", PASSWORD, is_admin=True)
        return {"app": app, "user": user.username, "admin": admin.username}


def code_at(secret, steps=0):
    """What the app shows `steps` steps from now, waiting out a step's last second so it is still valid when sent."""
    remaining = 30 - time.time() % 30
    if remaining < 1.5:
        time.sleep(remaining + 0.1)
    return pyotp.TOTP(secret).at(time.time() + steps * 30)


def press_on(page, locator, key="Enter"):
    locator.focus()
    expect(locator).to_be_focused()
    page.keyboard.press(key)


def log_in_by_keyboard(page, username):
    page.goto("/login")
    page.get_by_label("Username", exact=True).focus()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password", exact=True)).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).not_to_have_url(re.compile(r"/login$"))


def log_out(page):
    press_on(page, page.get_by_role("button", name="Log out"))
    expect(page).to_have_url(re.compile(r"/login$"))


def set_up(page):
    """From the Account page to two-factor on; returns (secret, recovery codes)."""
    page.goto("/account")
    press_on(page, page.get_by_role("link", name="Set up two-factor sign-in"))
    expect(page).to_have_url(re.compile(r"/account/two-factor$"))
    expect(page.get_by_role("img", name="QR code to scan with your authenticator app")).to_be_visible()
    secret = page.get_by_label("Key", exact=True).input_value()
    field = page.get_by_label("6-digit code from your app")
    field.focus()
    page.keyboard.type(code_at(secret))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/account/two-factor/recovery-codes$"))
    codes = page.get_by_role("list", name="Recovery codes").get_by_role("listitem").all_inner_texts()
    return secret, codes


def test_set_up_by_keyboard_then_sign_in_with_a_code_and_with_a_recovery_code(browser, live_server, site):
    context, page, errors = new_page(browser, live_server, viewport={"width": 1280, "height": 900})
    try:
        log_in_by_keyboard(page, site["user"])
        expect(page).to_have_url(re.compile(r"/files$"))
        secret, codes = set_up(page)
        assert len(codes) == 10
        expect(page.get_by_role("status")).to_contain_text("Two-factor sign-in is on.")
        press_on(page, page.get_by_role("link", name="I have saved them"))
        expect(page.get_by_role("region", name="Two-factor sign-in")).to_contain_text("10 unused recovery codes")
        log_out(page)

        log_in_by_keyboard(page, site["user"])
        expect(page).to_have_url(re.compile(r"/login/two-factor$"))
        field = page.get_by_label("Code from your app, or a recovery code")
        expect(field).to_be_focused()  # straight from the password to the code
        page.keyboard.type("000000" if code_at(secret, 1) != "000000" else "111111")
        page.keyboard.press("Enter")
        expect(page.get_by_role("alert")).to_contain_text("That code is not right")
        expect(field).to_be_focused()
        expect(field).to_have_value("")
        page.keyboard.type(code_at(secret, 1))  # the next step's: this one's was used to turn it on
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/files$"))
        log_out(page)

        log_in_by_keyboard(page, site["user"])
        page.get_by_label("Code from your app, or a recovery code").fill(codes[0])
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/files$"))
        with site["app"].app_context():
            user = users.authenticate(site["user"], PASSWORD)
            assert two_factor.remaining_recovery_codes(user) == 9
    finally:
        context.close()
    assert not errors, errors


def check(page, theme, width, problems):
    page.wait_for_load_state("networkidle")
    problems += axe_problems(page, theme)
    problems += [f"[{theme} {width}px] {page.url}: {problem}" for problem in page.evaluate(OVERFLOW)]


@pytest.mark.parametrize("width,height", [(390, 844), (1280, 800)])
def test_the_two_factor_pages_pass_axe_and_fit(browser, live_server, site, width, height):
    problems = []
    for theme, background in THEMES.items():
        context, page, errors = new_page(browser, live_server, color_scheme=theme,
                                         viewport={"width": width, "height": height})
        try:
            # An admin, so that the Security page is checked too.
            log_in_by_keyboard(page, site["admin"])
            page.goto("/account")
            check(page, theme, width, problems)
            page.goto("/account/two-factor")
            expect(page.locator("html")).to_have_css("background-color", background)
            check(page, theme, width, problems)
            secret, codes = set_up(page)
            check(page, theme, width, problems)  # the recovery codes
            page.goto("/account")
            check(page, theme, width, problems)  # with the forms for new codes and turning off
            page.goto("/admin/security")
            check(page, theme, width, problems)
            log_out(page)
            log_in_by_keyboard(page, site["admin"])
            expect(page).to_have_url(re.compile(r"/login/two-factor$"))
            check(page, theme, width, problems)
            page.get_by_label("Code from your app, or a recovery code").fill("nope")
            page.keyboard.press("Enter")
            expect(page.get_by_role("alert")).to_be_visible()
            check(page, theme, width, problems)  # with the error shown
            with site["app"].app_context():
                two_factor.reset(users.authenticate(site["admin"], PASSWORD), actor_name="test")
        finally:
            context.close()
        assert not errors, errors
    assert problems == []
