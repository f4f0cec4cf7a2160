"""The pages' Content-Security-Policy: Locker's own scripts and styles only, and the bucket's origin for bytes."""
import re
from pathlib import Path
from urllib.parse import urlsplit

from moto import mock_aws

from tests.conftest import S3_SETTINGS
from tests.helpers import upload

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# Presigning touches no network, so no bucket is made (mock_aws gives the credentials to sign with).
S3 = {name: value for name, value in S3_SETTINGS.items() if name != "SETUP_STORAGE"}
BUCKET_DIRECTIVES = ["img-src", "media-src", "frame-src", "connect-src", "form-action"]


def directives(response):
    policy = response.headers["Content-Security-Policy"]
    return {name: rest for name, _, rest in (part.strip().partition(" ") for part in policy.split(";"))}


def origin(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def signed_upload_origin(app):
    with app.app_context():
        storage = app.extensions["locker.storage"]
        return origin(storage.presign_upload("u/1/probe", 1, "text/plain", 60).url)


def test_pages_allow_only_their_own_scripts_and_styles(local_app, accounts):
    client, _ = accounts.signed_in_client()
    for path in ["/files", "/login", "/account", "/api/docs", "/no-such-page"]:
        policy = directives(client.get(path))
        assert policy["default-src"] == "'self'", path
        assert policy["script-src"] == "'self' 'wasm-unsafe-eval'", path
        assert policy["style-src"] == "'self'", path
        assert policy["worker-src"] == "'self'", path
        assert policy["object-src"] == policy["base-uri"] == policy["frame-ancestors"] == "'none'", path


def test_with_local_storage_bytes_come_from_locker_itself(local_app, accounts):
    client, _ = accounts.signed_in_client()
    policy = directives(client.get("/files"))
    assert policy["connect-src"] == policy["frame-src"] == policy["form-action"] == "'self'"
    assert policy["img-src"] == "'self' data: blob:"
    assert policy["media-src"] == "'self' blob:"


def test_with_local_storage_on_a_public_url_bytes_may_come_from_there(make_app, accounts):
    app = make_app(STORAGE_BACKEND="local", PUBLIC_URL="https://files.example.org:8443/")
    with app.test_request_context():
        signed = origin(app.extensions["locker.storage"].presign_upload("u/1/" + "0" * 32, 1, "text/plain", 60).url)
    policy = directives(app.test_client().get("/login"))  # as a page reached at a LAN address would get it
    assert signed == "https://files.example.org:8443"
    for name in BUCKET_DIRECTIVES:
        assert policy[name].split()[-1] == signed, name


def test_the_bucket_origin_is_the_one_signed_urls_point_to(make_app):
    with mock_aws():
        app = make_app(**S3, S3_ENDPOINT_URL="http://127.0.0.1:8333")
        bucket = signed_upload_origin(app)
        policy = directives(app.test_client().get("/login"))
    assert bucket == "http://127.0.0.1:8333"
    for name in BUCKET_DIRECTIVES:
        assert policy[name].split()[-1] == bucket, name
    assert bucket not in policy["script-src"] + policy["style-src"] + policy["default-src"]


def test_with_a_public_endpoint_browsers_are_allowed_that_one_only(make_app):
    with mock_aws():
        app = make_app(**S3, S3_ENDPOINT_URL="http://s3.internal:8333",
                       S3_PUBLIC_ENDPOINT_URL="https://files.example.org")
        assert signed_upload_origin(app) == "https://files.example.org"
        policy = directives(app.test_client().get("/login"))
    assert policy["connect-src"] == "'self' https://files.example.org"
    assert "s3.internal" not in app.extensions["locker.page_headers"]["Content-Security-Policy"]


def test_on_aws_the_virtual_hosted_bucket_is_allowed(make_app):
    with mock_aws():
        app = make_app(**S3, S3_REGION="eu-west-1")
        bucket = signed_upload_origin(app)
        policy = directives(app.test_client().get("/login"))
    assert bucket.startswith("https://") and S3["S3_BUCKET"] in bucket
    assert policy["connect-src"] == f"'self' {bucket}"


def test_stored_bytes_keep_their_own_stricter_policy(local_app, accounts):
    client = local_app.test_client()
    headers = accounts.headers(accounts.create())
    file = upload(client, headers, "notes.txt", b"hello")
    location = client.get(f"/api/v1/files/{file['id']}/download", headers=headers).headers["Location"]
    assert client.get(location).headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:", re.IGNORECASE)


def test_no_template_has_inline_script_style_or_handler():
    for template in TEMPLATES.rglob("*.html"):
        found = INLINE.findall(template.read_text())
        assert not found, f"{template.relative_to(TEMPLATES)}: {found}"


def test_the_api_docs_are_locker_s_page_not_flask_smorest_s_inline_one(local_app):
    page = local_app.test_client().get("/api/docs").get_data(as_text=True)
    assert not INLINE.findall(page)
    assert '<script src="/static/api-docs.js">' in page and 'data-spec-url="/api/v1/openapi.json"' in page
