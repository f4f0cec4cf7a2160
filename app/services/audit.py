"""The activity log: who did what to which file or link, when, and from where.

Events are added to the caller's transaction, so an action and its record
are committed (or rolled back) together. Never pass a token or a password.
"""
from flask import has_request_context, request

from app.extensions import db
from app.models import AuditEvent

ACTIONS = {
    "sign_in": "signed in",
    "sign_in_failed": "failed to sign in",
    "upload": "uploaded",
    "download": "downloaded",
    "share_download": "downloaded through a link",
    "delete": "deleted",
    "share_created": "created a link to",
    "share_revoked": "turned off a link to",
    "visibility_changed": "changed who can see",
    "request_created": "created an upload request",
    "request_revoked": "closed an upload request",
    "guest_upload": "uploaded through a request",
}


def record(action, *, owner_id, actor=None, actor_name=None, file=None, share=None, file_request=None, detail=None):
    """Add one event for `owner_id`'s activity to the session; the caller commits.

    `actor` is the signed-in user who acted (None for someone with only a link, or a
    failed sign-in, in which case `actor_name` says who they claimed or said they were).
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    event = AuditEvent(
        action=action, owner_id=owner_id,
        actor_id=actor.id if actor is not None else None,
        actor_name=(actor.username if actor is not None else actor_name or None),
        file_id=file.id if file is not None else None,
        file_name=file.name if file is not None else None,
        share_id=share.id if share is not None else None,
        file_request_id=file_request.id if file_request is not None else None,
        address=request.remote_addr[:45] if has_request_context() and request.remote_addr else None,
        detail=detail[:500] if detail else None)
    if event.actor_name:
        event.actor_name = event.actor_name[:100]
    db.session.add(event)
    return event
