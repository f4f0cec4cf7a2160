"""The OpenAPI document describes the API truthfully: schemathesis fuzzes every operation.

It generates valid and invalid requests from the document and checks each
answer: never a 5xx, status codes and bodies exactly as documented, invalid
requests refused, valid ones accepted. The targeted tests below pin the rules
the document once left out: each is refused by the code and stated in the document.
"""
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.extensions import db
from app.models import ApiToken
from app.services import links, tokens
from app.services.common import CURSOR_PATTERN, MAX_ROW_ID
from app.text import MULTILINE_TEXT_PATTERN, PLAIN_TEXT_PATTERN
from tests.conftest import MULTIPART_SETTINGS
from tests.helpers import cursor, share, upload


@pytest.fixture
def app_settings():
    return MULTIPART_SETTINGS


@pytest.fixture
def api_schema(app):
    # Read from the running app, as any client would.
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    # Locker refuses a size or body beyond its limits with 413, as HTTP says, not 400.
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    return schema


@pytest.fixture
def document(client):
    return client.get("/api/v1/openapi.json").get_json()


# Schema-valid requests these operations may still refuse with a 400, for rules no schema can state:
RULES_BEYOND_THE_SCHEMA = {
    # a page cursor is opaque: the document gives its alphabet, only the server can tell a real one
    "GET /api/v1/files", "GET /api/v1/activity",
    # an expiry must lie in the future and within 100 years of now, and only one of expires_at and
    # expires_in may be given
    "POST /api/v1/shares", "PATCH /api/v1/shares/{share_id}",
    "POST /api/v1/requests", "PATCH /api/v1/requests/{request_id}",
    # a file name may not be only dots, end with a dot or be a Windows device name (CON, LPT1, ...),
    # and a file needs no more space than the account has left (413 quota_exceeded)
    "POST /api/v1/uploads",
    # a batch follows those rules for every item, and all its items together need no more than is left
    "POST /api/v1/uploads/batch",
    # a new name follows the upload rules above and must not be another of the owner's files' (409 name_taken)
    "PATCH /api/v1/files/{file_id}",
    # a folder's name follows the same rules and must be free in its folder (409 name_taken); an upload path's
    # names too, and a folder goes no deeper than MAX_DEPTH
    "POST /api/v1/folders", "PATCH /api/v1/folders/{folder_id}",
}
FUZZ_SETTINGS = settings(max_examples=20, deadline=None, database=None, derandomize=True,
                         suppress_health_check=list(HealthCheck))


def with_live_token(case, owner):
    """A generated bearer header gets a real secret; a missing or malformed one (negative data) is sent as it is."""
    headers = dict(case.headers or {})
    if headers.get("Authorization", "").startswith("Bearer "):
        # A fresh token per call, so an example that revokes its token cannot starve the rest.
        headers["Authorization"] = f"Bearer {tokens.create_token(owner, 'fuzz')[1]}"
    return headers


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_as_documented(api_schema, owner, mode):
    """Valid and invalid requests for every operation: never a 5xx, always the documented shape."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 26
    assert RULES_BEYOND_THE_SCHEMA <= {operation.label for operation in operations}

    for operation in operations:
        excluded = [positive_data_acceptance] if operation.label in RULES_BEYOND_THE_SCHEMA else []

        @FUZZ_SETTINGS
        @given(case=operation.as_strategy(generation_mode=mode))
        def answers_as_documented(case):
            case.call_and_validate(headers=with_live_token(case, owner), excluded_checks=excluded)

        answers_as_documented()


def test_the_document_is_served_and_covers_the_api(document):
    assert document["openapi"].startswith("3.")
    assert {"/api/v1/files", "/api/v1/uploads", "/api/v1/uploads/{file_id}/parts",
            "/api/v1/uploads/{file_id}/complete", "/api/v1/auth/token", "/api/v1/me",
            "/api/v1/shares/{share_id}", "/api/v1/requests/{request_id}"} <= set(document["paths"])
    assert document["components"]["securitySchemes"]["token"] == {"type": "http", "scheme": "bearer"}
    error = document["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["$ref"].endswith("ErrorDetail")


def operations(document):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if method != "parameters":
                yield f"{method.upper()} {path}", operation


def test_every_operation_lists_its_errors_with_the_error_body(document):
    """No catch-all "default": each status an operation can answer with is listed, errors with the Error body."""
    for label, operation in operations(document):
        responses = operation["responses"]
        assert "default" not in responses, label
        if label != "POST /api/v1/auth/token":
            assert "401" in responses, label
        if "requestBody" in operation:
            assert {"400", "413"} <= set(responses), label
        if "{" in label:
            assert "404" in responses, label
        for status, response in responses.items():
            if int(status) >= 400:
                body = document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]] \
                    if "$ref" in response else response
                assert body["content"]["application/json"]["schema"]["$ref"].endswith("/Error"), (label, status)
    sign_in = dict(operations(document))["POST /api/v1/auth/token"]["responses"]
    assert {"401", "429"} <= set(sign_in)


def body_schema(document, label):
    operation = dict(operations(document))[label]
    reference = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return document["components"]["schemas"][reference.rsplit("/", 1)[1]]


def query_parameter(document, label, name):
    operation = dict(operations(document))[label]
    return next(p["schema"] for p in operation["parameters"] if p["name"] == name)


def error_code(response):
    return response.get_json()["error"]["code"]


CONTROL_TEXTS = ["a\x00b", "tab\there", "bell\x07", "del\x7f", "c1\x85", "line\n", "a\u202etxt.exe", "\u2066x"]


def test_the_document_states_the_control_character_rule(document):
    """The pattern in the document is the one the code checks, and JSON Schema reads it the same way."""
    assert query_parameter(document, "GET /api/v1/files", "q")["pattern"] == PLAIN_TEXT_PATTERN
    for label in ("POST /api/v1/tokens", "POST /api/v1/auth/token"):
        assert body_schema(document, label)["properties"]["name"]["pattern"] == PLAIN_TEXT_PATTERN, label
    for label in ("POST /api/v1/requests", "PATCH /api/v1/requests/{request_id}"):
        properties = body_schema(document, label)["properties"]
        assert properties["title"]["pattern"] == PLAIN_TEXT_PATTERN
        assert properties["message"]["pattern"] == MULTILINE_TEXT_PATTERN
    for label in ("POST /api/v1/shares", "PATCH /api/v1/shares/{share_id}"):
        assert body_schema(document, label)["properties"]["note"]["pattern"] == MULTILINE_TEXT_PATTERN
    name = re.compile(body_schema(document, "POST /api/v1/uploads")["properties"]["name"]["pattern"])
    assert all(name.fullmatch(f"a{c}b") is None for c in '<>:"/\\|?*\x00\u202e')
    # The $ anchor of JSON Schema (ECMA 262) ends the text; Python's fullmatch is the same test.
    plain = re.compile(PLAIN_TEXT_PATTERN)
    assert all(plain.fullmatch(text) is None for text in CONTROL_TEXTS)
    assert plain.fullmatch("Ärger (1).txt") and plain.fullmatch("")
    assert re.compile(MULTILINE_TEXT_PATTERN).fullmatch("two\r\nlines\tand a tab")


@pytest.mark.parametrize("q", CONTROL_TEXTS)
def test_a_search_with_control_characters_is_refused(client, headers, q):
    response = client.get("/api/v1/files", headers=headers, query_string={"q": q})
    assert response.status_code == 400 and error_code(response) == "invalid_query"


@pytest.mark.parametrize("name", CONTROL_TEXTS)
def test_a_token_name_with_control_characters_is_refused_and_makes_no_token(client, headers, owner, name):
    before = db.session.execute(db.select(db.func.count(ApiToken.id))).scalar()
    response = client.post("/api/v1/tokens", headers=headers, json={"name": name})
    assert response.status_code == 400 and error_code(response) == "invalid_name"
    assert db.session.execute(db.select(db.func.count(ApiToken.id))).scalar() == before


def test_post_tokens_without_a_body_is_refused_and_makes_no_token(client, headers, document):
    assert dict(operations(document))["POST /api/v1/tokens"]["requestBody"]["required"] is True
    before = db.session.execute(db.select(db.func.count(ApiToken.id))).scalar()
    response = client.post("/api/v1/tokens", headers=headers)
    assert response.status_code == 400 and error_code(response) == "invalid_json"
    assert set(response.get_json()["error"]) == {"code", "message"}
    assert db.session.execute(db.select(db.func.count(ApiToken.id))).scalar() == before
    # An empty object is a body: a token with the default name.
    made = client.post("/api/v1/tokens", headers=headers, json={})
    assert made.status_code == 201 and made.get_json()["name"] == "API token"


def test_every_body_but_completes_is_required(client, headers, document):
    """Only completing a single-PUT upload needs nothing; a PATCH without a body is refused, not a silent no-op."""
    for label, operation in operations(document):
        if "requestBody" in operation:
            assert operation["requestBody"]["required"] is (label != "POST /api/v1/uploads/{file_id}/complete"), label
    file = upload(client, headers, "a.txt", b"a")
    link = share(client, headers, file)
    response = client.patch(f"/api/v1/shares/{link['id']}", headers=headers)
    assert response.status_code == 400 and error_code(response) == "invalid_json"


def test_an_empty_link_password_is_refused_everywhere(client, headers, document):
    for label in ("POST /api/v1/shares", "PATCH /api/v1/shares/{share_id}",
                  "POST /api/v1/requests", "PATCH /api/v1/requests/{request_id}"):
        password = body_schema(document, label)["properties"]["password"]
        assert (password["minLength"], password["maxLength"]) == (1, links.MAX_PASSWORD_LENGTH), label

    file = upload(client, headers, "a.txt", b"a")
    made = client.post("/api/v1/shares", headers=headers, json={"file_id": file["id"], "password": ""})
    assert made.status_code == 400 and error_code(made) == "invalid_password"
    link = share(client, headers, file)
    changed = client.patch(f"/api/v1/shares/{link['id']}", headers=headers, json={"password": ""})
    assert changed.status_code == 400 and error_code(changed) == "invalid_password"

    made = client.post("/api/v1/requests", headers=headers, json={"title": "Photos", "password": ""})
    assert made.status_code == 400 and error_code(made) == "invalid_password"
    request = client.post("/api/v1/requests", headers=headers, json={"title": "Photos"}).get_json()
    changed = client.patch(f"/api/v1/requests/{request['id']}", headers=headers, json={"password": ""})
    assert changed.status_code == 400 and error_code(changed) == "invalid_password"
    # Neither link got a password (null is how one is removed).
    assert not any(item["has_password"] for item in client.get("/api/v1/shares", headers=headers).get_json()["items"])
    assert not client.get("/api/v1/requests", headers=headers).get_json()["items"][0]["has_password"]


def test_the_upload_size_bounds_are_documented_and_kept(app, client, headers, document):
    size = body_schema(document, "POST /api/v1/uploads")["properties"]["size"]
    assert (size["minimum"], size["maximum"]) == (1, app.config["MAX_FILE_SIZE"])
    empty = client.post("/api/v1/uploads", headers=headers, json={"name": "empty.txt", "size": 0})
    assert empty.status_code == 400 and error_code(empty) == "empty_file"
    too_large = client.post("/api/v1/uploads", headers=headers,
                            json={"name": "big.bin", "size": app.config["MAX_FILE_SIZE"] + 1})
    assert too_large.status_code == 413 and error_code(too_large) == "file_too_large"
    assert client.get("/api/v1/uploads", headers=headers).get_json()["items"] == []


def first_cursor(client, headers, path):
    response = client.get(path, headers=headers, query_string={"limit": 1})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["next_cursor"]


@pytest.mark.parametrize("path", ["/api/v1/files", "/api/v1/activity"])
def test_a_cursor_outside_its_documented_alphabet_is_refused(client, headers, document, path):
    """Base64 decoding skips foreign characters; a real cursor with one inserted used to pass as the original."""
    assert query_parameter(document, f"GET {path}", "cursor")["pattern"] == CURSOR_PATTERN
    for name in ("a.txt", "b.txt"):
        upload(client, headers, name, b"x")
    real = first_cursor(client, headers, path)
    assert real and re.fullmatch(CURSOR_PATTERN, real)
    for forged in (real[:4] + "!" + real[4:], real + "=", real[:4] + "+/" + real[4:], real + " "):
        response = client.get(path, headers=headers, query_string={"cursor": forged})
        assert response.status_code == 400 and error_code(response) == "invalid_cursor", forged


@pytest.mark.parametrize("row_id", [MAX_ROW_ID + 1, 2 ** 63 - 1, -1, "5", 5.0, True])
def test_a_cursor_naming_an_impossible_row_is_refused(client, headers, row_id):
    """Row ids are 32-bit on PostgreSQL: a larger one would fail in the database instead of being refused."""
    upload(client, headers, "a.txt", b"x")
    files_cursor = cursor({"s": "date", "o": "desc", "v": "2026-01-01T00:00:00", "i": row_id, "b": False,
                           "q": None, "c": "mine"})
    for path, forged in (("/api/v1/files", files_cursor), ("/api/v1/activity", cursor({"i": row_id, "b": False}))):
        response = client.get(path, headers=headers, query_string={"cursor": forged})
        assert response.status_code == 400 and error_code(response) == "invalid_cursor", path
    largest = client.get("/api/v1/activity", headers=headers, query_string={"cursor": cursor({"i": MAX_ROW_ID})})
    assert largest.status_code == 200 and largest.get_json()["items"]


def test_the_docs_page_needs_no_cdn(client):
    page = client.get("/api/docs").get_data(as_text=True)
    assert "/api/v1/openapi.json" in page and "https://" not in page
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"):
        assert f"/vendor/{asset}" in page
        assert client.get(f"/vendor/{asset}").status_code == 200, asset
