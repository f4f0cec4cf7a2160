"""The pages' CSP in a real browser: previews load from each store, and a refused script is reported."""
import struct
import uuid
import zlib

from playwright.sync_api import expect

from app.services import tokens, users
from tests.browser_support import browser, live_app, live_server, log_in, new_page, page  # noqa: F401  (fixtures)
from tests.conftest import PASSWORD
from tests.helpers import upload
from tests.live_support import moto_server  # noqa: F401  (fixture)


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# One white pixel, and a tenth of a second of silence: real enough for the browser to draw and play.
PNG = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(b"\x00\xff\xff\xff")) + chunk(b"IEND", b""))
SAMPLES = b"\x00\x00" * 800
WAV = (b"RIFF" + struct.pack("<I", 36 + len(SAMPLES)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
       + b"data" + struct.pack("<I", len(SAMPLES)) + SAMPLES)

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


def test_previews_load_from_the_store_under_the_policy(browser, live_app, live_server, page):
    """The image and the audio come from the bucket on S3 (from Locker with local storage), and nothing is refused."""
    with live_app.app_context():
        user = users.create_user(f"viewer{uuid.uuid4().hex[:8]}", PASSWORD)
        headers = {"Authorization": f"Bearer {tokens.create_token(user, 'tests')[1]}"}
        image = upload(live_app.test_client(), headers, "pixel.png", PNG, "image/png")
        sound = upload(live_app.test_client(), headers, "quiet.wav", WAV, "audio/wav")
        username = user.username
    log_in(page, username)
    page.goto(f"/files/{image['id']}/view")
    picture = page.get_by_role("img", name="pixel.png")
    expect(picture).to_be_visible()
    page.wait_for_function("(img) => img.complete && img.naturalWidth === 1", arg=picture.element_handle())
    page.goto(f"/files/{sound['id']}/view")
    page.wait_for_function("() => document.querySelector('audio').readyState >= 1")
