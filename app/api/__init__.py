"""The JSON API at /api/v1: the same services the pages use, described by an OpenAPI document.

flask-smorest builds the document from the marshmallow schemas in
app/api/schemas.py, serves it at /api/v1/openapi.json and a Swagger UI at
/api/docs (assets from node_modules, never a CDN).
"""
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


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()


class Api(flask_smorest.Api):
    ERROR_SCHEMA = Error


api = Api()
bp = Blueprint("api", __name__, url_prefix="/api/v1", description="Files, uploads and tokens.")


def init_api(app):
    for name, value in OPENAPI_SETTINGS.items():
        app.config.setdefault(name, value)
    api.init_app(app)
    api.register_blueprint(bp)


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


from app.api import activity, auth, file_requests, files, shares  # noqa: E402,F401  (routes attach themselves to bp)
