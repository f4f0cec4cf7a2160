from flask import g, jsonify

from app.api import bp, created, json_body
from app.auth.limits import sign_in_limits
from app.services import quotas, tokens, users


@bp.post("/auth/token")
@sign_in_limits
def create_token():
    body = json_body()
    user = users.authenticate(body.get("username"), body.get("password"))
    name = body.get("name") if isinstance(body.get("name"), str) else "API token"
    token, secret = tokens.create_token(user, name)
    return created({"token": secret, "id": token.id, "name": token.name})


@bp.delete("/auth/token")
def revoke_current_token():
    """Revoke the token this request was made with (what a client does on logout)."""
    if g.api_token:
        tokens.revoke_secret(g.api_token)
    return "", 204


@bp.get("/me")
def me():
    usage = quotas.usage(g.api_user)
    return jsonify(username=g.api_user.username, is_admin=g.api_user.is_admin,
                   used_bytes=usage.used, quota_bytes=usage.quota, remaining_bytes=usage.remaining)
