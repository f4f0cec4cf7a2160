"""Admin API: invitations (GET/POST /admin/invitations, DELETE /admin/invitations/<id>) and password
reset links (POST /admin/users/<id>/password-reset). Their schemas live here, beside the views."""
from flask import g
from marshmallow import Schema, fields, validate

from app.api import bp
from app.api.admin_support import admin_only
from app.api.schemas import PLAIN_TEXT, Loose, Pattern, UtcDateTime
from app.services import account_email, admin, invitations, links, password_resets

EXPIRES_IN = Pattern(links.DURATION_PATTERN.pattern, error="A number and a unit: 30m, 12h, 7d or 2w.")
EMAIL = [validate.Length(max=account_email.MAX_EMAIL_LENGTH), Pattern(account_email.EMAIL_PATTERN.pattern, error="An email address, like ann@example.org.")]


class InvitationRequest(Loose):
    expires_in = fields.String(load_default=invitations.DEFAULT_EXPIRY, validate=EXPIRES_IN, metadata={
        "description": "how long the link works (default 7d); at most 100 years"})
    quota_bytes = fields.Integer(strict=True, allow_none=True, validate=validate.Range(0, admin.MAX_QUOTA),
                                 metadata={"description": "the new account's quota; 0 no limit, null the default"})
    is_admin = fields.Boolean(load_default=False, metadata={"description": "the new account is an administrator"})
    email = fields.String(allow_none=True, validate=EMAIL, metadata={
        "description": "who it is for; when mail is configured the link is emailed there"})
    note = fields.String(allow_none=True, validate=[validate.Length(max=invitations.MAX_NOTE_LENGTH), PLAIN_TEXT])


class Invitation(Schema):
    id = fields.String(required=True, attribute="public_id")
    state = fields.String(required=True, validate=validate.OneOf(["active", "used", "expired", "revoked"]))
    url = fields.String(required=True, allow_none=True, metadata={
        "description": "the sign-up link while the invitation is active (null once it ended, or when Locker "
                       "can no longer show it)"})
    created_at = UtcDateTime(required=True)
    expires_at = UtcDateTime(required=True)
    created_by = fields.String(required=True, allow_none=True, metadata={"description": "the admin's username"})
    quota_bytes = fields.Integer(required=True, allow_none=True)
    is_admin = fields.Boolean(required=True)
    email = fields.String(required=True, allow_none=True)
    note = fields.String(required=True, allow_none=True)
    used_at = UtcDateTime(required=True, allow_none=True)
    used_by = fields.String(required=True, allow_none=True, metadata={"description": "the account it made"})
    revoked_at = UtcDateTime(required=True, allow_none=True)


class NewInvitation(Invitation):
    emailed = fields.Boolean(required=True, metadata={"description": "the link was queued to the email address"})


class Invitations(Schema):
    items = fields.List(fields.Nested(Invitation), required=True)


class PasswordReset(Schema):
    url = fields.String(required=True, allow_none=True, metadata={
        "description": "the one-time link to pass on; null when it was emailed to the user instead"})
    emailed = fields.Boolean(required=True)


def invitation_payload(invitation):
    state = invitations.state(invitation)
    return {"public_id": invitation.public_id, "state": state,
            "url": invitations.link_url(invitation) if state == "active" else None,
            "created_at": invitation.created_at, "expires_at": invitation.expires_at,
            "created_by": invitation.created_by.username if invitation.created_by else None,
            "quota_bytes": invitation.quota_bytes, "is_admin": invitation.is_admin, "email": invitation.email,
            "note": invitation.note, "used_at": invitation.used_at,
            "used_by": invitation.used_by.username if invitation.used_by else None,
            "revoked_at": invitation.revoked_at}


@bp.get("/admin/invitations")
@admin_only
@bp.response(200, Invitations)
@bp.refuses(401, 403)
def list_invitations():
    """Every invitation, newest first, with its state (active, used and by whom, expired, revoked)."""
    return {"items": [invitation_payload(item) for item in invitations.list_invitations(g.api_user)]}


@bp.post("/admin/invitations")
@admin_only
@bp.arguments(InvitationRequest)
@bp.response(201, NewInvitation)
@bp.refuses(400, 401, 403, 413)
def create_invitation(body):
    """Make a single-use sign-up link (it works whatever REGISTRATION is), emailed when it names an address
    and mail is configured."""
    invitation, url, emailed = invitations.create(g.api_user, **body)
    return {**invitation_payload(invitation), "url": url, "emailed": emailed}


@bp.delete("/admin/invitations/<invitation_id>")
@admin_only
@bp.response(204)
@bp.refuses(400, 401, 403, 404, 409)
def revoke_invitation(invitation_id):
    """Withdraw an invitation (409 when it was already used)."""
    invitations.revoke(g.api_user, invitation_id)


@bp.post("/admin/users/<int:user_id>/password-reset")
@admin_only
@bp.response(201, PasswordReset)
@bp.refuses(400, 401, 403, 404)
def create_password_reset(user_id):
    """A one-time password reset link for a user (it voids older ones): emailed to their address when mail is
    configured and they have one (url is then null), else returned for you to pass on."""
    _, url, emailed = password_resets.create_for_user(g.api_user, user_id)
    return {"url": url, "emailed": emailed}
