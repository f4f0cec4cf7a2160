"""Share links: /s/<token> hands one file to anyone who has the link.

A link may expire, need a password, or allow only so many downloads. Every
download is counted by one conditional UPDATE, so a link with one download
left gives exactly one, however many people click at once; only then is a
short-lived storage URL signed.
"""
import re
import uuid
from datetime import datetime, timedelta, timezone

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from app.errors import InvalidInput, LockerError, NotFound
from app.extensions import db
from app.models import File, FileStatus, Share, utcnow
from app.security import hash_token, new_token
from app.services import audit, files, previews
from app.services.common import is_public_id, public_link, storage_call
from app.text import is_encodable, is_plain_text

MAX_NOTE_LENGTH = 1000
MAX_DOWNLOADS = 1_000_000
DURATION_PATTERN = re.compile(r"^(\d{1,6})([mhdw])$")
DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
ENDED_MESSAGES = {
    "revoked": "This link was turned off by its owner.",
    "expired": "This link has expired.",
    "used_up": "This link has been used as many times as its owner allowed.",
}


class ShareEnded(LockerError):
    """The link exists but no longer gives out its file."""

    status, code = 410, "share_ended"


def parse_expiry(expires_at=None, expires_in=None, now=None):
    """A naive-UTC expiry from an ISO date-time (any zone; no zone means UTC) or a duration like '7d'."""
    now = now or utcnow()
    if expires_at not in (None, "") and expires_in not in (None, ""):
        raise InvalidInput("Give expires_at or expires_in, not both.", code="invalid_expiry")
    if expires_in not in (None, ""):
        match = DURATION_PATTERN.match(expires_in) if isinstance(expires_in, str) else None
        if not match or int(match.group(1)) == 0:
            raise InvalidInput("expires_in is a number and a unit: 30m, 12h, 7d or 2w.", code="invalid_expiry")
        return now + timedelta(**{DURATION_UNITS[match.group(2)]: int(match.group(1))})
    if expires_at in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(expires_at) if isinstance(expires_at, str) else expires_at
    except ValueError:
        moment = None
    if not isinstance(moment, datetime):
        raise InvalidInput("expires_at is a date and time such as 2026-12-31T18:00:00Z.", code="invalid_expiry")
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    if moment <= now:
        raise InvalidInput("expires_at is in the past.", code="invalid_expiry")
    return moment


def create_share(user, file_id, expires_at=None, expires_in=None, password=None, max_downloads=None, note=None):
    """A new link to one of the user's files; returns the share and its URL (shown only now)."""
    file = files.get_file(user, file_id)
    expiry = parse_expiry(expires_at, expires_in)
    if password is not None and (not is_encodable(password) or not 1 <= len(password) <= 200):
        raise InvalidInput("A link password is 1 to 200 characters.", code="invalid_password")
    if max_downloads is not None and (isinstance(max_downloads, bool) or not isinstance(max_downloads, int)
                                      or not 1 <= max_downloads <= MAX_DOWNLOADS):
        raise InvalidInput(f"max_downloads is a whole number from 1 to {MAX_DOWNLOADS:,}.", code="invalid_max_downloads")
    note = clean_note(note)
    token = new_token()
    share = Share(public_id=uuid.uuid4().hex, owner_id=user.id, file_id=file.id, token_hash=hash_token(token),
                  expires_at=expiry, max_downloads=max_downloads, note=note,
                  password_hash=generate_password_hash(password) if password else None)
    db.session.add(share)
    db.session.flush()
    audit.record("share_created", owner_id=user.id, actor=user, file=file, share=share)
    db.session.commit()
    return share, share_url(token)


def clean_note(note):
    """Plain text for the recipient; line breaks and tabs are fine, other control characters are not."""
    if note is None:
        return None
    if (not isinstance(note, str) or len(note) > MAX_NOTE_LENGTH
            or not is_plain_text(note.replace("\r", " ").replace("\n", " ").replace("\t", " "))):
        raise InvalidInput(f"A note is plain text of at most {MAX_NOTE_LENGTH} characters.", code="invalid_note")
    return note.strip() or None


def share_url(token):
    return public_link("shares.show_share", token)


def list_shares(user):
    return db.session.execute(db.select(Share).filter_by(owner_id=user.id)
                              .order_by(Share.created_at.desc(), Share.id.desc())).scalars().all()


def revoke_share(user, public_id):
    """Turn a link off at once; revoking twice is fine."""
    if not is_public_id(public_id):
        raise NotFound("No such link.")
    share = db.session.execute(db.select(Share).filter_by(public_id=public_id, owner_id=user.id)).scalar_one_or_none()
    if share is None:
        raise NotFound("No such link.")
    # Only the revoke that turns the link off is recorded, however many race it.
    if db.session.execute(db.update(Share).where(Share.id == share.id, Share.revoked_at.is_(None))
                          .values(revoked_at=utcnow())).rowcount:
        audit.record("share_revoked", owner_id=user.id, actor=user, file=share.file, share=share)
    db.session.commit()


def end_shares_of(file_id):
    """A deleted file's links stop at once (in the caller's transaction)."""
    db.session.execute(db.update(Share).where(Share.file_id == file_id, Share.revoked_at.is_(None))
                       .values(revoked_at=utcnow()))


def open_share(token):
    """The share a public link names, with its file, or ShareEnded/NotFound."""
    if not is_plain_text(token):
        raise NotFound("No such link.")
    share = db.session.execute(db.select(Share).filter_by(token_hash=hash_token(token))).scalar_one_or_none()
    if share is None:
        raise NotFound("No such link.")
    state = share.state(utcnow())
    file = db.session.get(File, share.file_id) if share.file_id else None
    if file is None or file.status != FileStatus.READY:
        state = "revoked"
    if state != "active":
        raise ShareEnded(ENDED_MESSAGES[state])
    return share, file


def password_matches(share, password):
    return share.password_hash is not None and is_encodable(password) and check_password_hash(share.password_hash,
                                                                                               password)


def download_through_share(token):
    """Count one download and return a fresh, short-lived URL; refuse when the link has ended."""
    share, file = open_share(token)
    now = utcnow()
    counted = db.session.execute(
        db.update(Share).where(
            Share.id == share.id, Share.revoked_at.is_(None),
            db.or_(Share.expires_at.is_(None), Share.expires_at > now),
            db.or_(Share.max_downloads.is_(None), Share.download_count < Share.max_downloads))
        .values(download_count=Share.download_count + 1, last_download_at=now)).rowcount
    if counted:
        audit.record("share_download", owner_id=share.owner_id, file=file, share=share)
    db.session.commit()
    if not counted:
        # Someone else took the last download between our look and our write.
        raise ShareEnded(ENDED_MESSAGES["used_up"])
    return storage_call(previews.signed_url, file, current_app.config["SHARE_URL_EXPIRY"])
