"""The JSON API at /api/v1: the same services the pages use, described by an OpenAPI document.

flask-smorest builds the document from the marshmallow schemas in
app/api/schemas.py, serves it at /api/v1/openapi.json and a Swagger UI at
/api/docs (assets from node_modules, never a CDN).
"""
from http import HTTPStatus

import flask_smorest
from flask import g, request
from flask_login import current_user
from webargs.flaskparser import FlaskParser

from app.api.schemas import Error
from app.errors import Unauthorized
from app.extensions import csrf
from app.services import tokens

PUBLIC_ENDPOINTS = {"api.create_token"}
OPENAPI_SETTINGS = {
    "API_TITLE": "Locker",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "v1/openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": "/vendor/",  # served from node_modules by the web blueprint
    "API_SPEC_OPTIONS": {
        "info": {"description": "Files go straight between clients and storage through signed URLs; "
                                "this API signs them and keeps the records. Errors are always "
                                '{"error": {"code", "message"}}.'},
        "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
        "security": [{"token": []}],
    },
}


class Parser(FlaskParser):
    # Bad input is a 400 everywhere in Locker, with the same error body.
    DEFAULT_VALIDATION_STATUS = 400


def sent_a_body(_arguments):
    """webargs reads a missing JSON body as {}; a required body must have been sent."""
    return bool(request.get_data())


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()

    def arguments(self, schema, *, location="json", required=True, **kwargs):
        """flask-smorest's `required` only documents a body as required; this also refuses a request without one."""
        if location == "json" and required:
            kwargs["validate"] = sent_a_body
        return super().arguments(schema, location=location, required=required, **kwargs)

    def refuses(self, *statuses):
        """Document the errors an operation answers with, each with the Error body.

        Only these are documented (there is no catch-all "default"), so the document
        tells clients, and schemathesis checks, exactly which statuses can come back.
        A call that changes something without a body lists 400 too: a browser session
        that sends no CSRF token gets it.
        """
        def decorate(view):
            for status in statuses:
                view = self.alt_response(status, HTTPStatus(status).name)(view)
            return view
        return decorate


class Api(flask_smorest.Api):
    ERROR_SCHEMA = Error
    DEFAULT_ERROR_RESPONSE_NAME = None


api = Api()
bp = Blueprint("api", __name__, url_prefix="/api/v1", description="Files, uploads and tokens.")


def init_api(app):
    for name, value in OPENAPI_SETTINGS.items():
        app.config.setdefault(name, value)
    api.init_app(app)
    api.register_blueprint(bp)
    document_settings(app)


def document_settings(app):
    """Write into the document this app serves what its schemas cannot say: limits that are settings,
    not constants, and that a file's PATCH must name something to change (FileUpdate's validates_schema)."""
    schemas = api.spec.components.schemas
    schemas["OwnUploadRequest"]["properties"]["size"]["maximum"] = app.config["MAX_FILE_SIZE"]
    for update in ("FileUpdate", "FolderUpdate"):
        schemas[update]["anyOf"] = [{"required": [name]} for name in schemas[update]["properties"]]
    schemas["ShareRequest"]["oneOf"] = [
        {"required": [name], "not": {"anyOf": [{"required": [other]} for other in ("file_id", "folder_id", "file_ids")
                                              if other != name]}} for name in ("file_id", "folder_id", "file_ids")]
    for selection in ("Selection", "MoveRequest"):
        schemas[selection]["anyOf"] = [{"required": [name], "properties": {name: {"minItems": 1}}}
                                       for name in ("files", "folders")]


@bp.before_request
def authenticate():
    """Bearer tokens for programs; the browser's session (plus CSRF) for the pages' own scripts."""
    g.api_token = None
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, secret = header.partition(" ")
        user = tokens.user_for_token(secret.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise Unauthorized("That API token is not valid: it may be mistyped, expired or revoked.",
                               code="invalid_token")
        g.api_user, g.api_token = user, secret.strip()
    elif current_user.is_authenticated:
        csrf.protect()
        g.api_user = current_user._get_current_object()
    else:
        raise Unauthorized("Send an API token as 'Authorization: Bearer <token>'.", code="unauthorized")


from app.api import (account_deletion, activity, admin, auth, file_requests, files, folders,  # noqa: E402,F401
                     invitations, shares, two_factor)  # (routes attach themselves to bp)
