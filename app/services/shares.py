"""Share links: /s/<token> hands one file to anyone who has the link.

A link may expire, need a password, or allow only so many downloads. Every
download is counted by one conditional UPDATE, so a link with one download
left gives exactly one, however many people click at once; only then is a
short-lived storage URL signed.
"""
from flask import current_app
from sqlalchemy.orm import selectinload

from app.errors import LockerError
from app.extensions import db
from app.models import File, FileStatus, Share, utcnow
from app.services import audit, files, links, previews
from app.services.common import public_link, refuse_damaged, storage_call

MAX_NOTE_LENGTH = 1000
MAX_DOWNLOADS = 1_000_000
ENDED_MESSAGES = {
    "revoked": "This link was turned off by its owner.",
    "expired": "This link has expired.",
    "used_up": "This link has been used as many times as its owner allowed.",
}


class ShareEnded(LockerError):
    """The link exists but no longer gives out its file."""

    status, code = 410, "share_ended"


def create_share(user, file_id, expires_at=None, expires_in=None, password=None, max_downloads=None, note=None):
    """A new link to one of the user's files; returns the share and its URL (shown only now)."""
    file = files.get_file(user, file_id)
    refuse_damaged(file)
    share, token = links.new(
        Share, user, file_id=file.id, expires_at=links.parse_expiry(expires_at, expires_in),
        password_hash=links.password_hash(password),
        max_downloads=links.clean_limit(max_downloads, "max_downloads", MAX_DOWNLOADS, "downloads"),
        note=links.clean_text(note, "note", MAX_NOTE_LENGTH, multiline=True))
    audit.record("share_created", owner_id=user.id, actor=user, file=file, share=share)
    db.session.commit()
    return share, share_url(token)


def share_url(token):
    return public_link("shares.show_share", token)


def list_shares(user):
    """The user's links, newest first, with their files read in one query rather than one per link."""
    return db.session.execute(db.select(Share).filter_by(owner_id=user.id).options(selectinload(Share.file))
                              .order_by(Share.created_at.desc(), Share.id.desc())).scalars().all()


def revoke_share(user, public_id):
    """Turn a link off at once; revoking twice is fine (and recorded once)."""
    share = links.owned(Share, user, public_id, "No such link.")
    if links.revoke(share):
        audit.record("share_revoked", owner_id=user.id, actor=user, file=share.file, share=share)
    db.session.commit()


def end_shares_of(file_id):
    """A deleted file's links stop at once (in the caller's transaction)."""
    db.session.execute(db.update(Share).where(Share.file_id == file_id, Share.revoked_at.is_(None))
                       .values(revoked_at=utcnow()))


def forget_file(file_id):
    """A removed file's links keep saying they ended but no longer point at its id, which SQLite may reuse."""
    db.session.execute(db.update(Share).where(Share.file_id == file_id).values(file_id=None))


def open_share(token):
    """The share a public link names, with its file, or ShareEnded/NotFound."""
    share = links.by_token(Share, token, "No such link.")
    state = share.state(utcnow())
    file = db.session.get(File, share.file_id) if share.file_id else None
    if file is None or file.status != FileStatus.READY:
        state = "revoked"
    if state != "active":
        raise ShareEnded(ENDED_MESSAGES[state])
    if file.problem:
        raise ShareEnded("The file behind this link can't be downloaded: storage no longer holds it intact. "
                         "Ask the person who sent it for it again.")
    return share, file


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
