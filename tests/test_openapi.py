"""The OpenAPI document describes the API truthfully: schemathesis fuzzes every operation.

It generates valid and invalid requests from the document and checks each
answer: never a 5xx, status codes and bodies exactly as documented.
"""
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from app.services import tokens
from tests.conftest import MULTIPART_SETTINGS


@pytest.fixture
def app_settings():
    return MULTIPART_SETTINGS


@pytest.fixture
def api_schema(app):
    # Read from the running app, as any client would.
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


# Two checks ask more than the API promises: some rules cannot be written in a schema (a page
# cursor is opaque; a name must not contain "/"), so a schema-valid request may still get a 400;
# and unknown fields are ignored on purpose, so newer clients keep working. Every other check
# runs: no 5xx, documented status codes, content types, headers and bodies.
RULES_BEYOND_THE_SCHEMA = [positive_data_acceptance, negative_data_rejection]
FUZZ_SETTINGS = settings(max_examples=20, deadline=None, database=None, derandomize=True,
                         suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_as_documented(api_schema, owner, mode):
    """Valid and invalid requests for every operation: never a 5xx, always the documented shape."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 12

    for operation in operations:
        @FUZZ_SETTINGS
        @given(case=operation.as_strategy(generation_mode=mode))
        def answers_as_documented(case):
            # A fresh token per call, so an example that revokes its token cannot starve the rest.
            headers = {"Authorization": f"Bearer {tokens.create_token(owner, 'fuzz')[1]}"}
            case.call_and_validate(headers=headers, excluded_checks=RULES_BEYOND_THE_SCHEMA)

        answers_as_documented()


def test_the_document_is_served_and_covers_the_api(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    assert {"/api/v1/files", "/api/v1/uploads", "/api/v1/uploads/{file_id}/parts",
            "/api/v1/uploads/{file_id}/complete", "/api/v1/auth/token", "/api/v1/me"} <= set(document["paths"])
    assert document["components"]["securitySchemes"]["token"] == {"type": "http", "scheme": "bearer"}
    error = document["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["$ref"].endswith("ErrorDetail")


def test_the_docs_page_needs_no_cdn(client):
    page = client.get("/api/docs").get_data(as_text=True)
    assert "/api/v1/openapi.json" in page and "https://" not in page
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"):
        assert f"/vendor/{asset}" in page
        assert client.get(f"/vendor/{asset}").status_code == 200, asset
