"""Invitations: single-use, expiring sign-up links that admins make (REGISTRATION=invite, or any mode).

An invitation link works whatever REGISTRATION says: an admin chose to let this one person in.
Its token is stored hashed (for lookups) and encrypted (so the admin can copy the link again),
as share links' are (services.links). Accepting one claims it with a single conditional UPDATE
in the transaction that inserts the new account, so two sign-ups with one link at once make
exactly one account.
"""
import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.errors import Conflict, LockerError, NotFound
from app.extensions import db
from app.models import Invitation, User, utcnow
from app.security import hash_token, new_token
from app.services import account_email, admin, audit, links, mail, oidc, users
from app.services.common import is_public_id
from app.services.site_links import absolute_url
from app.text import is_plain_text

DEFAULT_EXPIRY = "7d"
MAX_NOTE_LENGTH = 200
ENDED_MESSAGES = {
    "used": "This invitation has already been used.",
    "expired": "This invitation has expired. Ask the person who sent it for a new one.",
    "revoked": "This invitation was withdrawn. Ask the person who sent it for a new one.",
}


class InvitationEnded(LockerError):
    """The link exists but can no longer make an account."""

    status, code = 410, "invitation_ended"


def state(invitation, now=None):
    """active, used, expired or revoked."""
    now = now or utcnow()
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.used_at is not None:
        return "used"
    if invitation.expires_at <= now:
        return "expired"
    return "active"


def create(creator, expires_in=DEFAULT_EXPIRY, quota_bytes=None, is_admin=False, email=None, note=None):
    """A new invitation and its URL (shown now, and again to admins while it is active), and whether it was
    emailed (it is when it names an address and mail is configured)."""
    admin.require_admin(creator)
    # An invitation always expires: links.parse_expiry's grammar (30m, 12h, 7d, 2w), never "no limit".
    expires_at = links.parse_expiry(expires_in=expires_in or DEFAULT_EXPIRY)
    invitation = Invitation(
        public_id=uuid.uuid4().hex, created_by_id=creator.id, expires_at=expires_at,
        quota_bytes=admin.clean_quota(quota_bytes), is_admin=bool(is_admin), email=account_email.clean_email(email),
        note=links.clean_text(note, "note", MAX_NOTE_LENGTH))
    token = new_token()
    invitation.token_hash = hash_token(token)
    invitation.token_encrypted = links.encrypt_token(invitation, token)
    db.session.add(invitation)
    audit.record("invitation_created", owner_id=creator.id, actor=creator, detail=describe(invitation))
    db.session.commit()
    url = invitation_url(token)
    # Queued after the commit: the link in the mail works by the time anyone reads it.
    emailed = bool(invitation.email) and mail.send(invitation.email, "You are invited to Locker",
                                                   invitation_mail(creator, invitation, url))
    return invitation, url, emailed


def describe(invitation):
    parts = [f"for {invitation.email}" if invitation.email else None, "admin" if invitation.is_admin else None,
             invitation.note]
    return ", ".join(part for part in parts if part) or None


def invitation_mail(creator, invitation, url):
    lines = [f"{creator.username} invites you to make an account on Locker, where you can keep and share files.",
             "", "Choose a username and password here:", "", url, "",
             f"The link works once, until {invitation.expires_at:%Y-%m-%d %H:%M} UTC."]
    if invitation.note:
        lines += ["", f"Note from {creator.username}: {invitation.note}"]
    lines += ["", "If you did not expect this, ignore this message: nothing happens unless you use the link."]
    return "\n".join(lines)


def invitation_url(token):
    return absolute_url("auth.accept_invitation", token=token)


def link_url(invitation):
    """The link again, for an admin to copy, or None when Locker can't show it (see links.recover_token)."""
    token = links.recover_token(invitation)
    return invitation_url(token) if token else None


def list_invitations(viewer):
    """Every invitation, newest first, with who made and who used each read in the same round trips."""
    admin.require_admin(viewer)
    return db.session.execute(db.select(Invitation).options(
        selectinload(Invitation.created_by), selectinload(Invitation.used_by))
        .order_by(Invitation.created_at.desc(), Invitation.id.desc())).scalars().all()


def find(viewer, public_id):
    admin.require_admin(viewer)
    invitation = db.session.execute(db.select(Invitation).filter_by(public_id=public_id)).scalar_one_or_none() \
        if is_public_id(public_id) else None
    if invitation is None:
        raise NotFound("No such invitation.", code="no_such_invitation")
    return invitation


def revoke(viewer, public_id):
    """Withdraw an invitation at once; a used one stays used (its account is not touched). Revoking twice is fine."""
    invitation = find(viewer, public_id)
    if invitation.used_at is not None:
        raise Conflict("This invitation was already used; disable the account it made instead.",
                       code="invitation_used")
    revoked = db.session.execute(db.update(Invitation).where(
        Invitation.id == invitation.id, Invitation.revoked_at.is_(None), Invitation.used_at.is_(None))
        .values(revoked_at=utcnow())).rowcount
    if revoked:
        audit.record("invitation_revoked", owner_id=viewer.id, actor=viewer, detail=describe(invitation))
    db.session.commit()
    db.session.refresh(invitation)
    if invitation.used_at is not None:
        raise Conflict("This invitation was used just now; disable the account it made instead.",
                       code="invitation_used")
    return invitation


def open_invitation(token):
    """The active invitation a link names; NotFound for no such link, InvitationEnded for one that ended."""
    invitation = None
    if isinstance(token, str) and is_plain_text(token) and token:
        invitation = db.session.execute(
            db.select(Invitation).filter_by(token_hash=hash_token(token))).scalar_one_or_none()
    if invitation is None:
        raise NotFound("This invitation link is not valid. Check that it was copied whole.", code="no_such_invitation")
    current = state(invitation)
    if current != "active":
        raise InvitationEnded(ENDED_MESSAGES[current])
    return invitation


def accept(token, username, password):
    """Make the account an invitation offers (with its preset quota and role) and use the invitation up.

    The new row and the claim are one transaction: the claim is a conditional UPDATE (unused, not
    revoked, not expired), so of several sign-ups at once only one claims it and the others roll
    their account back.
    """
    oidc.require_local_login()  # the account would sign in with a password nobody may use
    invitation = open_invitation(token)
    username = users.validate_new_account(username, password)
    user = User(username=username, is_admin=invitation.is_admin, quota_bytes=invitation.quota_bytes)
    user.set_password(password)  # slow on purpose (scrypt): done before the write transaction begins
    invitation_id, creator_id, detail = invitation.id, invitation.created_by_id, describe(invitation)
    # End the read transaction first: on SQLite a write after a stale read snapshot fails at once
    # instead of waiting its turn, which two sign-ups racing would otherwise hit.
    db.session.commit()
    now = utcnow()
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("That username is taken.", code="username_taken") from None
    claimed = db.session.execute(db.update(Invitation).where(
        Invitation.id == invitation_id, Invitation.used_at.is_(None), Invitation.revoked_at.is_(None),
        Invitation.expires_at > now).values(used_at=now, used_by_id=user.id)).rowcount
    if not claimed:
        db.session.rollback()
        invitation = db.session.get(Invitation, invitation_id)
        raise InvitationEnded(ENDED_MESSAGES.get(state(invitation, now), ENDED_MESSAGES["used"]))
    audit.record("invitation_used", owner_id=user.id, actor=user, detail=detail)
    if creator_id is not None:
        # The admin who invited sees it in their own activity too.
        audit.record("invitation_used", owner_id=creator_id, actor=user, detail=detail)
    db.session.commit()
    return user

