"""The JSON API at /api/v1: the same services the pages use."""
from flask import Blueprint, g, jsonify, request
from flask_login import current_user

from app.errors import InvalidInput, Unauthorized
from app.extensions import csrf
from app.services import tokens

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PUBLIC_ENDPOINTS = {"api.create_token"}


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


def json_body():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("Send a JSON object with Content-Type: application/json.", code="invalid_json")
    return body


def created(payload):
    response = jsonify(payload)
    response.status_code = 201
    return response


from app.api import auth, files  # noqa: E402,F401  (routes attach themselves to bp)
