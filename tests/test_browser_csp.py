"""The browser tests' CSP watch: a refused inline script fails the test that caused it."""
from playwright.sync_api import expect

from tests.browser_support import browser, live_server, new_page  # noqa: F401  (fixtures)

INJECT_INLINE_SCRIPT = """
const script = document.createElement('script')
script.textContent = 'window.injected = true'
document.head.append(script)
"""


def test_an_injected_inline_script_is_refused_and_reported(browser, make_app, live_server):
    live_server.app = make_app(STORAGE_BACKEND="local", PUBLIC_URL=live_server.url)
    context, page, errors = new_page(browser, live_server)
    try:
        page.goto("/login")
        expect(page.get_by_role("button", name="Log in")).to_be_visible()
        assert not errors, errors
        page.evaluate(INJECT_INLINE_SCRIPT)
        assert page.evaluate("window.injected") is None
        page.wait_for_timeout(200)  # the report reaches Python as an event of its own
        assert any(error.startswith("CSP violation: script-src-elem refused inline on /login") for error in errors), errors
    finally:
        context.close()
