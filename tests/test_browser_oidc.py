"""Single sign-on in Chromium: Locker's button, the real provider's page (oidc-provider-mock), and back.

Also the sign-in page with the button passes axe in both themes and fits at 390 and 1280 px, with and
without the password form, and the button works by keyboard.
"""
import uuid

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import UserIdentity
from tests.browser_support import browser, live_server, new_page  # noqa: F401  (fixtures)
from tests.oidc_support import oidc_provider  # noqa: F401  (fixture)
from tests.test_browser_a11y import THEMES, axe_problems
from tests.test_browser_layout import OVERFLOW


@pytest.fixture
def sso_live(make_app, live_server, oidc_provider):
    """Locker on live_server signing in with the test provider; call it with setting overrides."""
    def start(**overrides):
        live_server.app = make_app(STORAGE_BACKEND="local", PUBLIC_URL=live_server.url,
                                   **oidc_provider.settings(**overrides))
        return live_server.app
    return start


def open_page(browser, live_server, **options):
    context, page, errors = new_page(browser, live_server, **options)
    # The provider's page asks a CDN for its stylesheet; these tests have no Internet to wait for.
    context.route("https://cdn.jsdelivr.net/**", lambda route: route.abort())
    return context, page, errors


def test_sign_in_with_the_provider_lands_on_the_files_page(browser, live_server, oidc_provider, sso_live):
    app = sso_live()
    sub = f"browser-{uuid.uuid4().hex[:10]}"
    oidc_provider.set_user(sub, preferred_username=f"b{sub[-10:]}", email=f"{sub}@example.org", email_verified=True)
    context, page, errors = open_page(browser, live_server)
    try:
        page.goto("/login")
        page.get_by_role("link", name="Sign in with Test SSO").click()
        page.wait_for_url(f"{oidc_provider.url}/oauth2/authorize**")
        page.get_by_placeholder("sub").fill(sub)
        page.get_by_role("button", name="Authorize").click()
        expect(page).to_have_url(f"{live_server.url}/files")
        page.goto("/account")
        expect(page.get_by_text(f"Signed in as b{sub[-10:]}")).to_be_visible()
        with app.app_context():
            identity = db.session.execute(db.select(UserIdentity).filter_by(subject=sub)).scalar_one()
            assert identity.user.password_hash is None
    finally:
        context.close()
    assert not errors, errors


def test_a_login_refused_at_the_provider_shows_the_message(browser, live_server, oidc_provider, sso_live):
    sso_live()
    context, page, errors = open_page(browser, live_server)
    try:
        page.goto("/login")
        page.get_by_role("link", name="Sign in with Test SSO").click()
        page.wait_for_url(f"{oidc_provider.url}/oauth2/authorize**")
        page.get_by_role("button", name="Deny").click()
        page.wait_for_url(f"{live_server.url}/login/sso/callback**")
        expect(page.get_by_role("alert")).to_have_text(
            "Signing in with Test SSO was cancelled or refused. You are not signed in.")
        expect(page.get_by_role("link", name="Sign in with Test SSO")).to_be_visible()
        page.goto("/files")
        expect(page).to_have_url(f"{live_server.url}/login?next=%2Ffiles")
    finally:
        context.close()
    assert not errors, errors


def test_the_button_works_by_keyboard(browser, live_server, oidc_provider, sso_live):
    sso_live(LOCAL_LOGIN=False)
    context, page, errors = open_page(browser, live_server)
    try:
        page.goto("/login")
        button = page.get_by_role("link", name="Sign in with Test SSO")
        for _ in range(20):
            page.keyboard.press("Tab")
            if button.evaluate("element => element === document.activeElement"):
                break
        expect(button).to_be_focused()
        page.keyboard.press("Enter")
        page.wait_for_url(f"{oidc_provider.url}/oauth2/authorize**")
    finally:
        context.close()
    assert not errors, errors


@pytest.mark.parametrize("local_login", [True, False])
def test_the_sign_in_page_with_the_button_passes_axe_and_fits(browser, live_server, sso_live, local_login):
    sso_live(LOCAL_LOGIN=local_login)
    problems = []
    for theme, background in THEMES.items():
        context, page, errors = open_page(browser, live_server, color_scheme=theme,
                                          viewport={"width": 1280, "height": 900})
        try:
            page.goto("/login")
            expect(page.get_by_role("link", name="Sign in with Test SSO")).to_be_visible()
            expect(page.get_by_label("Password", exact=True)).to_have_count(1 if local_login else 0)
            expect(page.locator("html")).to_have_css("background-color", background)
            problems += axe_problems(page, theme)
        finally:
            context.close()
        assert not errors, errors
    assert not problems, "\n".join(problems)
    for width, height in [(390, 844), (1280, 800)]:
        context, page, errors = open_page(browser, live_server, viewport={"width": width, "height": height})
        try:
            page.goto("/login")
            page.wait_for_load_state("networkidle")
            assert page.evaluate(OVERFLOW) == [], width
            box = page.get_by_role("link", name="Sign in with Test SSO").bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width, (width, box)
        finally:
            context.close()
        assert not errors, errors
