"""Share links: /s/<token> hands one file to anyone who has the link.

A link may expire, need a password, or allow only so many downloads. Every
download is counted by one conditional UPDATE, so a link with one download
left gives exactly one, however many people click at once; only then is a
short-lived storage URL signed.
"""
from flask import current_app
from sqlalchemy.orm import selectinload

from app.errors import Conflict, InvalidInput, LockerError
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


def link_url(share):
    """The link's URL for its owner to copy again, or None when Locker can't show it (see links.recover_token)."""
    token = links.recover_token(share)
    return share_url(token) if token else None


def editable_share(user, public_id):
    """One of the user's links that still works, so its settings may change; an ended one is a Conflict."""
    share = links.owned(Share, user, public_id, "No such link.")
    refuse_ended(share)
    return share


def refuse_ended(share):
    state = share.state(utcnow())
    if state != "active":
        raise Conflict(f"{ENDED_MESSAGES[state]} Its settings can't be changed any more; make a new link instead.",
                       code="share_ended")


def update_share(user, public_id, expires_at=links.UNCHANGED, expires_in=links.UNCHANGED, password=links.UNCHANGED,
                 max_downloads=links.UNCHANGED, note=links.UNCHANGED):
    """Change a working link's expiry, password, download limit or note, by the rules a new link's follow.

    Returns the share and what changed, in words (empty when nothing did). The download limit must stay above
    the downloads already made: one at or below them would end the link, which is what revoking is for.
    """
    share = editable_share(user, public_id)
    values, changed = links.expiry_and_password_changes(share, expires_at, expires_in, password)
    if max_downloads is not links.UNCHANGED:
        limit = links.clean_limit(max_downloads, "max_downloads", MAX_DOWNLOADS, "downloads")
        if limit is not None and limit <= share.download_count:
            raise below_downloads(share.download_count)
        links.note_change(share, values, changed, "max_downloads", limit, "download limit")
    if note is not links.UNCHANGED:
        links.note_change(share, values, changed, "note", links.clean_text(note, "note", MAX_NOTE_LENGTH,
                                                                              multiline=True), "note")
    if not values:
        return share, []
    new_limit = values.get("max_downloads")
    if not links.update_if_live(share, values, Share.file_id.is_not(None),
                                db.or_(Share.max_downloads.is_(None), Share.download_count < Share.max_downloads),
                                *([Share.download_count < new_limit] if new_limit is not None else [])):
        # A download, a revocation or the expiry came between our look and our write.
        db.session.rollback()
        refuse_ended(share)
        raise below_downloads(share.download_count)
    audit.record("share_changed", owner_id=user.id, actor=user, file=share.file, share=share,
                 detail=", ".join(changed))
    db.session.commit()
    return share, changed


def below_downloads(count):
    times = "once" if count == 1 else f"{count:,} times"
    return InvalidInput(f"This link has been downloaded {times} already, so its download limit must be more than "
                        f"{count:,}. To end the link now, revoke it.", code="invalid_max_downloads")


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
    if state == "active" and file is not None and file.status == FileStatus.TRASHED:
        raise ShareEnded("The file behind this link is in its owner's trash. The link works again if they restore it.")
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
