"""Two-factor in the API: the code a password-made token needs (see auth.create_token), and the admin's
switch and reset."""
from flask import g
from marshmallow import fields, validate

from app.api import bp
from app.api.admin_support import admin_only
from app.api.schemas import Loose, TokenRequest
from app.services import admin, two_factor


class PasswordTokenRequest(TokenRequest):
    code = fields.String(validate=validate.Length(max=two_factor.MAX_CODE_LENGTH), load_only=True, metadata={
        "description": "For an account with two-factor sign-in: the 6-digit code its app shows now, or an unused "
                       "recovery code. Without it such an account gets 401 two_factor_required."})


class SecuritySettings(Loose):
    require_two_factor = fields.Boolean(required=True, metadata={
        "description": "Every account must use two-factor sign-in: the web asks those without it to set it up "
                       "first, and a password makes no token for them (403 two_factor_setup_required)."})


class TwoFactorReset(Loose):
    user_id = fields.Integer(required=True)
    username = fields.String(required=True)
    was_enabled = fields.Boolean(required=True, metadata={"description": "Whether two-factor was on before."})


@bp.get("/admin/security")
@admin_only
@bp.response(200, SecuritySettings)
@bp.refuses(401, 403)
def get_security_settings():
    """The site's security settings (admins only)."""
    return {"require_two_factor": two_factor.is_required()}


@bp.put("/admin/security")
@admin_only
@bp.arguments(SecuritySettings)
@bp.response(200, SecuritySettings)
@bp.refuses(400, 401, 403, 413)
def put_security_settings(body):
    """Require two-factor sign-in for every account, or leave it to each (admins only)."""
    return {"require_two_factor": two_factor.set_required(body["require_two_factor"], g.api_user)}


@bp.post("/admin/users/<int:user_id>/two-factor/reset")
@admin_only
@bp.response(200, TwoFactorReset)
@bp.refuses(400, 401, 403, 404)
def reset_two_factor(user_id):
    """Clear a user's two-factor (a lost phone): they sign in with their password and set it up again.
    Recorded in their activity (admins only)."""
    user = admin.find_user(user_id)
    was_enabled = two_factor.reset(user, actor=g.api_user)
    return {"user_id": user.id, "username": user.username, "was_enabled": was_enabled}
