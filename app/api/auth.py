from flask import current_app, g

from app.api import bp
from app.api.schemas import Me, NewToken, Token, Tokens
from app.api.two_factor import PasswordTokenRequest
from app.auth import limits
from app.auth.two_factor import require_for_token
from app.models import utcnow
from app.services import quotas, tokens


@bp.post("/auth/token")
@bp.arguments(PasswordTokenRequest)
@bp.response(201, Token)
@bp.doc(security=[])
@bp.refuses(401, 403, 413, 429, 503)
def create_token(body):
    """Trade a username and password (and, with two-factor, a code) for an API token (sign-in attempts and
    codes are rate-limited together).

    403 `account_disabled` when the password is right but an admin disabled the account, and 403
    `local_login_disabled` where password sign-in is turned off (make a token on the Account page after
    signing in with single sign-on instead)."""
    user = limits.authenticate(body["username"], body["password"])
    require_for_token(user, body.get("code"))
    user.last_sign_in_at = utcnow()  # committed with the token
    return new_token(user, body)


def new_token(user, body):
    token, secret = tokens.create_token(user, body.get("name") or "API token", body.get("expires_in_days"))
    return {"token": secret, "id": token.id, "name": token.name, "created_at": token.created_at,
            "last_used_at": token.last_used_at, "expires_at": token.expires_at}


@bp.get("/tokens")
@bp.response(200, Tokens)
@bp.refuses(401)
def list_tokens():
    """Your API tokens (never their secrets), newest first."""
    return {"items": tokens.list_tokens(g.api_user)}


@bp.post("/tokens")
@bp.arguments(NewToken)
@bp.response(201, Token)
@bp.refuses(401, 413)
def create_api_token(body):
    """Make another token, e.g. one per script, optionally expiring."""
    return new_token(g.api_user, body)


@bp.delete("/tokens/<int:token_id>")
@bp.response(204)
@bp.refuses(400, 401, 404)
def revoke_token(token_id):
    """Revoke one of your tokens."""
    tokens.revoke_token(g.api_user, token_id)


@bp.delete("/auth/token")
@bp.response(204)
@bp.refuses(400, 401)
def revoke_current_token():
    """Revoke the token this request was made with (what a client does on logout)."""
    if g.api_token:
        tokens.revoke_secret(g.api_token)


@bp.get("/me")
@bp.response(200, Me)
@bp.refuses(401)
def me():
    """Who the token belongs to, and how much space they use and have left."""
    usage = quotas.usage(g.api_user)
    return {"username": g.api_user.username, "is_admin": g.api_user.is_admin, "used_bytes": usage.used,
            "quota_bytes": usage.quota, "remaining_bytes": usage.remaining,
            "multipart_threshold": current_app.config["MULTIPART_THRESHOLD"]}
