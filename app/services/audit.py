"""The activity log: who did what to which file or link, when, and from where.

Events are added to the caller's transaction, so an action and its record
are committed (or rolled back) together. Never pass a token or a password.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import has_request_context, request
from sqlalchemy.orm import aliased

from app.errors import Forbidden, InvalidInput
from app.extensions import db
from app.models import AuditEvent, File, FileRequest, FileStatus, Share, User, utcnow
from app.services.common import MAX_ROW_ID, find_ready_file, pack_cursor, unpack_cursor
from app.text import is_control

ACTIONS = {
    "sign_in": "signed in",
    "sign_in_failed": "failed to sign in",
    # The admin area (services.admin): the actor is the admin (or "command line"), the owner the account.
    "user_created": "created the account",
    "quota_changed": "changed the quota",
    "user_disabled": "disabled the account",
    "user_enabled": "enabled the account",
    "admin_granted": "made the account an administrator",
    "admin_revoked": "removed administrator rights",
    "email_changed": "changed the email address",
    "upload": "uploaded",
    "download": "downloaded",
    "share_download": "downloaded through a link",
    "delete": "deleted",
    "rename": "renamed",
    "move": "moved",
    "trash": "moved to the trash",
    "restore": "restored from the trash",
    "purge": "deleted for good",
    "folder_created": "created the folder",
    "folder_renamed": "renamed the folder",
    "share_created": "created a link to",
    "share_revoked": "turned off a link to",
    "share_changed": "changed a link to",
    "visibility_changed": "changed who can see",
    "request_created": "created an upload request",
    "request_revoked": "closed an upload request",
    "request_changed": "changed an upload request",
    "guest_upload": "uploaded through a request",
    "bytes_missing": "found the stored bytes missing of",
    "bytes_changed": "found the stored bytes changed of",
    # Two-factor sign-in (services.two_factor).
    "two_factor_on": "turned on two-factor sign-in",
    "two_factor_off": "turned off two-factor sign-in",
    "two_factor_reset": "reset two-factor sign-in of",
    "recovery_codes_renewed": "made new recovery codes",
    "two_factor_requirement": "changed whether everyone needs two-factor sign-in",
    # Invitations, password resets and email (services.invitations, password_resets, account_email).
    "invitation_created": "created an invitation",
    "invitation_revoked": "withdrew an invitation",
    "invitation_used": "signed up through an invitation",
    "password_reset_created": "made a password reset link",
    "password_reset": "set a new password through a reset link",
    # The Account page and account deletion (services.accounts, deletion).
    "account_deleted": "deleted the account",
    "password_changed": "changed their password",
}


def record(action, *, owner_id, actor=None, actor_name=None, file=None, share=None, file_request=None, detail=None,
           name=None):
    """Add one event for `owner_id`'s activity to the session; the caller commits.

    `actor` is the signed-in user who acted (None for someone with only a link, or a
    failed sign-in, in which case `actor_name` says who they claimed or said they were).
    `name` names what the event is about when it is not a file (a folder).
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    event = AuditEvent(
        action=action, owner_id=owner_id,
        actor_id=actor.id if actor is not None else None,
        actor_name=(actor.username if actor is not None else actor_name or None),
        file_id=file.id if file is not None else None,
        file_name=file.name if file is not None else name,
        share_id=share.id if share is not None else None,
        file_request_id=file_request.id if file_request is not None else None,
        address=request.remote_addr[:45] if has_request_context() and request.remote_addr else None,
        detail=(plain(detail[:500]) or None) if detail else None)
    if event.actor_name:
        event.actor_name = plain(event.actor_name)[:100] or None
    db.session.add(event)
    return event


def plain(text):
    """Text safe to show in a table: control and display-reordering characters become spaces."""
    cleaned = "".join(" " if is_control(c) else c for c in text.encode("utf-8", "replace").decode("utf-8"))
    return cleaned.strip()


SCOPES = ("mine", "all")
PER_PAGE = 50
MAX_PAGE_SIZE = 500
PRUNE_BATCH = 1000


@dataclass
class Entry:
    """One event as people see it: names rather than row ids, and only ids that still lead somewhere."""

    id: int
    created_at: datetime
    action: str
    label: str
    actor: str | None  # the account that acted
    actor_name: str | None  # a name given without an account: tried at sign-in, or by a guest
    who: str
    owner: str | None  # whose activity it is
    file_id: str | None  # while the file is still listed and the viewer may open it
    file_name: str | None
    share_id: str | None
    file_request_id: str | None
    address: str | None
    detail: str | None


@dataclass
class Page:
    items: list
    next_cursor: str | None
    prev_cursor: str | None
    file: File | None  # the file the page is filtered to


def encode_cursor(event_id, before=False):
    return pack_cursor({"i": event_id, "b": before})


def decode_cursor(cursor):
    return unpack_cursor(cursor, cursor_position)


def cursor_position(payload):
    """(event id, before) from a cursor's payload; ValueError if it is not one."""
    event_id = payload["i"]
    if isinstance(event_id, bool) or not isinstance(event_id, int) or not 0 <= event_id <= MAX_ROW_ID:
        raise ValueError
    return event_id, bool(payload.get("b"))


def filtered_file(user, public_id):
    """The file whose activity is asked for: the user's own, or any file for an admin."""
    conditions = [] if user.is_admin else [File.owner_id == user.id]
    return find_ready_file(public_id, *conditions)


def list_events(user, scope="mine", file=None, action=None, cursor=None, limit=PER_PAGE):
    """One page of activity, newest first, walked by keyset on the event id.

    "mine" is what happened to the user's account, files and links; "all" is
    everyone's, for admins only (anyone else gets 403 forbidden).
    """
    if scope not in SCOPES:
        raise InvalidInput("scope is 'mine' or 'all'.", code="invalid_scope")
    if scope == "all" and not user.is_admin:
        raise Forbidden("Only admins can see everyone's activity.", code="forbidden")
    if action is not None and action not in ACTIONS:
        raise InvalidInput(f"action is one of: {', '.join(ACTIONS)}.", code="invalid_action")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}.", code="invalid_limit")
    after, before = decode_cursor(cursor) if cursor else (None, False)

    owner = aliased(User)
    query = (db.select(AuditEvent, File, Share.public_id, FileRequest.public_id, owner.username)
             .outerjoin(File, File.id == AuditEvent.file_id)
             .outerjoin(Share, Share.id == AuditEvent.share_id)
             .outerjoin(FileRequest, FileRequest.id == AuditEvent.file_request_id)
             .outerjoin(owner, owner.id == AuditEvent.owner_id))
    if scope == "mine":
        query = query.filter(AuditEvent.owner_id == user.id)
    if file is not None:
        file = filtered_file(user, file)
        query = query.filter(AuditEvent.file_id == file.id)
    if action is not None:
        query = query.filter(AuditEvent.action == action)
    if after is not None:
        query = query.filter(AuditEvent.id > after if before else AuditEvent.id < after)
    query = query.order_by(AuditEvent.id.asc() if before else AuditEvent.id.desc())
    rows = db.session.execute(query.limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    if before:
        rows.reverse()
    items = [entry(user, *row) for row in rows]
    newer_exist = more if before else after is not None
    older_exist = after is not None if before else more
    return Page(items,
                next_cursor=encode_cursor(items[-1].id) if items and older_exist else None,
                prev_cursor=encode_cursor(items[0].id, before=True) if items and newer_exist else None,
                file=file)


def entry(viewer, event, file, share_id, file_request_id, owner_name):
    by_account = event.actor_id is not None
    openable = (file is not None and file.status == FileStatus.READY
                and (file.owner_id == viewer.id or viewer.is_admin))
    return Entry(id=event.id, created_at=event.created_at, action=event.action,
                 label=ACTIONS.get(event.action, event.action),
                 actor=event.actor_name if by_account else None,
                 actor_name=None if by_account else event.actor_name,
                 who=who(event), owner=owner_name,
                 file_id=file.public_id if openable else None, file_name=event.file_name,
                 share_id=share_id, file_request_id=file_request_id, address=event.address, detail=event.detail)


def who(event):
    """The actor as a person reads it; a name given without an account is marked as such."""
    if event.actor_id is not None:
        return event.actor_name or "a deleted account"
    if event.action == "guest_upload":
        return f"{event.actor_name} (guest)" if event.actor_name else "a guest with the link"
    if event.action == "share_download":
        return "someone with the link"
    return event.actor_name or "someone"


def forget_file(file_id):
    """A removed file's events keep its name but no longer point at its id, which SQLite may reuse."""
    db.session.execute(db.update(AuditEvent).where(AuditEvent.file_id == file_id).values(file_id=None))


def prune(retention_days, now=None):
    """Delete events older than retention_days (None or 0: keep them all); returns how many went.

    Ids grow with time, so the oldest rows are read a batch at a time by id
    and the walk stops at the first batch not wholly past the cutoff: no
    scan of the whole table, however long the log.
    """
    if not retention_days:
        return 0
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    removed = 0
    while True:
        oldest = db.session.execute(db.select(AuditEvent.id, AuditEvent.created_at)
                                    .order_by(AuditEvent.id).limit(PRUNE_BATCH)).all()
        expired = [event_id for event_id, created_at in oldest if created_at < cutoff]
        if expired:
            removed += db.session.execute(db.delete(AuditEvent).where(AuditEvent.id.in_(expired))).rowcount
            db.session.commit()
        if len(expired) < PRUNE_BATCH:
            return removed
