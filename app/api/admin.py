"""The admin area in the API (/api/v1/admin/...): the users list, accounts, the overview. Admins only
(anyone else: 403 not_admin); the schemas live here, beside the only views that use them."""
from flask import g
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.api import bp
from app.api.admin_support import admin_only
from app.api.schemas import CURSOR, PLAIN_TEXT, Loose, UtcDateTime
from app.services import admin, users

STATES = ["active", "disabled", "deleting"]


class AdminUsersQuery(Loose):
    q = fields.String(validate=[validate.Length(max=admin.MAX_QUERY_LENGTH), PLAIN_TEXT], metadata={
        "description": "usernames or email addresses containing this, ignoring case"})
    limit = fields.Integer(load_default=admin.PER_PAGE, validate=validate.Range(1, admin.MAX_PAGE_SIZE))
    cursor = fields.String(validate=CURSOR, metadata={"description": "next_cursor of the previous page (same q)"})


class AdminUser(Schema):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    email = fields.String(required=True, allow_none=True)
    is_admin = fields.Boolean(required=True)
    is_active = fields.Boolean(required=True, metadata={
        "description": "false: disabled by an admin (sign-in, sessions, tokens and links refused)"})
    state = fields.String(required=True, validate=validate.OneOf(STATES), metadata={
        "description": "active, disabled, or deleting (the account's deletion has begun)"})
    files = fields.Integer(required=True, metadata={"description": "ready files (not the trash's)"})
    used_bytes = fields.Integer(required=True, metadata={
        "description": "counted against the quota: files, the trash and unfinished uploads"})
    quota_bytes = fields.Integer(required=True, allow_none=True, metadata={
        "description": "the account's own quota (0: no limit); null: DEFAULT_QUOTA applies"})
    effective_quota_bytes = fields.Integer(required=True, allow_none=True, metadata={
        "description": "the limit in force; null: no limit"})
    created_at = UtcDateTime(required=True)
    last_sign_in_at = UtcDateTime(required=True, allow_none=True, metadata={"description": "null: never"})


class AdminUserPage(Schema):
    items = fields.List(fields.Nested(AdminUser), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


QUOTA = fields.Integer(strict=True, allow_none=True, validate=validate.Range(0, admin.MAX_QUOTA), metadata={
    "description": "bytes (0: no limit); null or omitted: DEFAULT_QUOTA applies"})


class AdminUserCreate(Loose):
    username = fields.String(required=True, validate=validate.Length(1, 32), metadata={
        "pattern": users.USERNAME_PATTERN.pattern, "description": "stored lower-case"})
    password = fields.String(required=True, load_only=True, validate=validate.Length(1, 1024), metadata={
        "description": f"at least {users.MIN_PASSWORD_LENGTH} characters and hard to guess (400 weak_password)"})
    email = fields.String(allow_none=True, validate=validate.Length(max=admin.MAX_EMAIL_LENGTH))
    quota_bytes = QUOTA
    is_admin = fields.Boolean(load_default=False)


class AdminUserUpdate(Loose):
    """Only the fields given change, all or (when one is refused) none; give at least one."""

    quota_bytes = fields.Integer(strict=True, allow_none=True, validate=validate.Range(0, admin.MAX_QUOTA), metadata={
        "description": "bytes (0: no limit); null: DEFAULT_QUOTA. A quota below what is used only stops new uploads."})
    is_admin = fields.Boolean(metadata={"description": "false for the last active admin: 409 last_admin"})
    is_active = fields.Boolean(metadata={
        "description": "false disables the account (its sessions end; 409 last_admin for the last active admin, "
                       "403 cannot_disable_self for your own)"})
    email = fields.String(allow_none=True, validate=validate.Length(max=admin.MAX_EMAIL_LENGTH), metadata={
        "description": "null or \"\" removes it; 409 email_taken if another account has it"})

    @validates_schema
    def something_to_change(self, data, **kwargs):
        if not data:
            raise ValidationError("Give quota_bytes, is_admin, is_active or email.")


class AdminOverview(Schema):
    users = fields.Integer(required=True)
    active_users = fields.Integer(required=True)
    admins = fields.Integer(required=True, metadata={"description": "active administrators"})
    files = fields.Integer(required=True, metadata={"description": "ready files"})
    stored_bytes = fields.Integer(required=True, metadata={"description": "bytes of ready files"})
    trash_files = fields.Integer(required=True)
    trash_bytes = fields.Integer(required=True)
    pending_uploads = fields.Integer(required=True, metadata={"description": "unfinished uploads"})
    reserved_bytes = fields.Integer(required=True, metadata={"description": "space unfinished uploads reserve"})
    storage = fields.String(required=True, validate=validate.OneOf(["ok", "degraded", "down"]), metadata={
        "description": "degraded: serving, but short of something (a replica missing), said in storage_detail"})
    storage_detail = fields.String(required=True, allow_none=True)
    database = fields.String(required=True, validate=validate.OneOf(["ok", "down"]))
    storage_name = fields.String(required=True)
    version = fields.String(required=True, metadata={"example": "0.1.0"})
    registration = fields.String(required=True, metadata={"description": "REGISTRATION: open, invite or closed"})
    default_quota = fields.Integer(required=True, allow_none=True, metadata={
        "description": "DEFAULT_QUOTA in bytes; null: no limit"})
    checked_at = UtcDateTime(required=True)


def user_payload(row):
    user = row.user
    return {"id": user.id, "username": user.username, "email": user.email, "is_admin": user.is_admin,
            "is_active": user.is_active_account, "state": row.state, "files": row.files, "used_bytes": row.used,
            "quota_bytes": user.quota_bytes, "effective_quota_bytes": row.quota, "created_at": user.created_at,
            "last_sign_in_at": user.last_sign_in_at}


@bp.get("/admin/users")
@admin_only
@bp.arguments(AdminUsersQuery, location="query")
@bp.response(200, AdminUserPage)
@bp.refuses(400, 401, 403)
def admin_list_users(query):
    """Every account by username, with its space, quota, files, last sign-in, state and role; follow next_cursor."""
    page = admin.list_users(query.get("q"), query.get("cursor"), query["limit"])
    return {"items": [user_payload(row) for row in page.items], "next_cursor": page.next_cursor}


@bp.post("/admin/users")
@admin_only
@bp.arguments(AdminUserCreate)
@bp.response(201, AdminUser)
@bp.refuses(400, 401, 403, 409, 413)
def admin_create_user(body):
    """Make an account (409 username_taken or email_taken)."""
    user = admin.create_user(g.api_user, body["username"], body["password"], email=body.get("email"),
                             quota_bytes=body.get("quota_bytes"), is_admin=body["is_admin"])
    return user_payload(admin.user_details(user))


@bp.get("/admin/users/<int:user_id>")
@admin_only
@bp.response(200, AdminUser)
@bp.refuses(401, 403, 404)
def admin_get_user(user_id):
    """One account (404 no_such_user)."""
    return user_payload(admin.user_details(admin.find_user(user_id)))


@bp.patch("/admin/users/<int:user_id>")
@admin_only
@bp.arguments(AdminUserUpdate)
@bp.response(200, AdminUser)
@bp.refuses(400, 401, 403, 404, 409, 413)
def admin_update_user(body, user_id):
    """Set or clear the quota, disable or enable, make or remove an admin, set the email; each change is logged."""
    user = admin.update_user(g.api_user, admin.find_user(user_id), **body)
    return user_payload(admin.user_details(user))


@bp.get("/admin/overview")
@admin_only
@bp.response(200, AdminOverview)
@bp.refuses(401, 403)
def admin_overview():
    """Users, files, bytes stored and in the trash, unfinished uploads, storage and database health, version."""
    return admin.overview()
