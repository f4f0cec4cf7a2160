"""Deleting accounts through the API: your own (DELETE /me, with your password) and, for admins, anyone else's."""
from flask import g
from marshmallow import Schema, fields, validate

from app.api import bp
from app.api.admin_support import admin_only
from app.api.schemas import Loose
from app.auth import limits
from app.services import admin, deletion


class OwnDeletionRequest(Loose):
    password = fields.String(required=True, validate=validate.Length(max=1024),
                             metadata={"description": "your current password, checked as a sign-in attempt is"})
    code = fields.String(validate=validate.Length(max=64),
                         metadata={"description": "a two-factor code, when your account has two-factor sign-in on"})


class AccountDeletion(Schema):
    username = fields.String(required=True)
    finished = fields.Boolean(required=True, metadata={
        "description": "false: the account can no longer be used, but storage did not remove every file in time; "
                       "`flask locker sweep` removes the rest"})


@bp.delete("/me")
@bp.arguments(OwnDeletionRequest)
@bp.response(202, AccountDeletion)
@bp.refuses(400, 401, 403, 413, 429, 503)
def delete_me(body):
    """Delete your account with all its files, folders, links, requests and tokens (this one included)."""
    user = g.api_user
    deletion.check_deletable(user)
    limits.confirm_identity(user, body["password"], body.get("code"), second_factor=True)
    return deletion.delete_own(user)


@bp.delete("/admin/users/<int:user_id>")
@admin_only
@bp.response(202, AccountDeletion)
@bp.refuses(400, 401, 403, 404)
def delete_user(user_id):
    """Admins: delete an account (not your own: use DELETE /me) with all its files, folders, links, requests
    and tokens. One whose deletion was cut short is finished."""
    return deletion.delete_by_admin(g.api_user, admin.find_user(user_id))
