"""Deleting an account with everything it owns: files (their bytes too), folders, links, requests, tokens.

It goes in two steps. `begin` is one transaction: it marks the account as being deleted
(users.deleting_at: from then on nobody can sign in as it and its sessions and tokens are
refused), ends its sessions, tokens and links, and records who deleted whom. `finish`
then removes the rest in batches of DELETION_BATCH_SIZE files, committing between
batches and never holding a transaction open across a storage call: each batch of
files is claimed (status DELETING, its space given back) in one transaction, and their
bytes go the way every deleted file's do (files.retry_deletes), which leaves a file whose
bytes storage refused marked for the next attempt. So a deletion cut short by a storage
outage, a request's time limit or a killed process is finished by the next `finish`:
`flask locker sweep` runs finish_deletions() for every account left half-deleted.

SQLite does not enforce foreign keys here (no PRAGMA foreign_keys), so nothing relies on
ON DELETE CASCADE: every row that points at the account is removed or cleared explicitly.
"""
import logging
import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy.orm import aliased

from app.errors import Forbidden, InvalidInput
from app.extensions import db
from app.formatting import human_size
from app.models import (ApiToken, AuditEvent, File, FileRequest, FileStatus, Folder, Invitation, LoginSession,
                        PasswordReset, RecoveryCode, Share, ShareItem, UploadPart, User, UserIdentity, utcnow)
from app.services import audit, files, quotas

log = logging.getLogger(__name__)

# Who an event names when the deletion was started from the command line.
OPERATOR = "operator (command line)"
LAST_ADMIN = ("This is the only administrator account, so it can't be deleted: make another account an "
              "administrator first.")


@dataclass(frozen=True)
class Holdings:
    """What an account has, as the confirmation pages describe it."""

    files: int
    bytes: int
    folders: int
    links: int
    requests: int


@dataclass(frozen=True)
class Outcome:
    username: str
    finished: bool  # False: storage refused or time ran out; `sweep` (or another run) finishes it


def holdings(user):
    """Files of every kind (ready, trashed, unfinished uploads) and their bytes, folders, links, upload requests."""
    count, size = db.session.execute(db.select(db.func.count(File.id), db.func.coalesce(db.func.sum(File.size), 0))
                                     .filter(File.owner_id == user.id)).one()
    return Holdings(
        files=count, bytes=size,
        folders=db.session.execute(db.select(db.func.count(Folder.id)).filter(
            Folder.owner_id == user.id, Folder.parent_id.is_not(None))).scalar_one(),
        links=db.session.execute(db.select(db.func.count(Share.id)).filter(Share.owner_id == user.id)).scalar_one(),
        requests=db.session.execute(db.select(db.func.count(FileRequest.id))
                                    .filter(FileRequest.owner_id == user.id)).scalar_one())


def describe(held):
    """"3 files (1.2 MB), 2 folders, 1 link and 0 upload requests"."""
    def count(number, word):
        return f"{number:,} {word}{'' if number == 1 else 's'}"
    return (f"{count(held.files, 'file')} ({human_size(held.bytes)}), {count(held.folders, 'folder')}, "
            f"{count(held.links, 'link')} and {count(held.requests, 'upload request')}")


def check_deletable(user):
    """Refuse what may never be deleted: the last administrator (InvalidInput last_admin)."""
    if user.is_admin and not other_admins_exist(user.id):
        raise InvalidInput(LAST_ADMIN, code="last_admin")


def other_admins(user_id):
    """The admins other than `user_id` who can still sign in."""
    other = aliased(User)
    return db.select(other.id).filter(other.is_admin.is_(True), other.id != user_id, other.deleting_at.is_(None),
                                      other.is_active_account.is_(True))


def other_admins_exist(user_id):
    return db.session.execute(other_admins(user_id).limit(1)).first() is not None


def delete_account(user, actor, time_limit=None):
    """Delete `user` and everything they own; `actor` is who asked (None: an operator at the command line).

    Returns an Outcome; with `time_limit` (seconds) the work stops after about that long and
    finished is False, as it is when storage refuses: the account is already unusable then,
    and `sweep` removes the rest.
    """
    begin(user, actor)
    return Outcome(user.username, finish(user.id, time_limit=time_limit))


def begin(user, actor):
    """The first transaction: the account stops working and its deletion is recorded; False if it had begun
    already (the caller then only finishes it). Refuses the last administrator (InvalidInput last_admin)."""
    user_id, username = user.id, user.username
    if user.deleting_at is not None:
        return False
    held = holdings(user)
    # On PostgreSQL, two admins deleting each other at once must not both see the other as the admin who
    # stays: locking the admins' rows makes the second wait, and its UPDATE then sees the first's deletion.
    # (SQLite runs one writer at a time, and the conditional UPDATE below is that write.)
    db.session.execute(db.select(User.id).filter(User.is_admin.is_(True)).order_by(User.id).with_for_update())
    now = utcnow()
    started = db.session.execute(db.update(User).where(
        User.id == user_id, User.deleting_at.is_(None),
        db.or_(User.is_admin.is_(False), other_admins(user_id).exists()))
        .values(deleting_at=now).execution_options(synchronize_session=False)).rowcount
    if not started:
        db.session.rollback()
        state = db.session.execute(db.select(User.deleting_at).filter(User.id == user_id)).first()
        if state is not None and state.deleting_at is None:
            raise InvalidInput(LAST_ADMIN, code="last_admin")
        return False  # begun (or even finished) meanwhile by another request, which recorded it
    # Every copy of its cookies and tokens stops working now, and so do its links (they say they ended).
    db.session.execute(db.delete(LoginSession).where(LoginSession.user_id == user_id))
    db.session.execute(db.delete(ApiToken).where(ApiToken.user_id == user_id))
    db.session.execute(db.delete(PasswordReset).where(PasswordReset.user_id == user_id))
    db.session.execute(db.update(Share).where(Share.owner_id == user_id, Share.revoked_at.is_(None))
                       .values(revoked_at=now))
    db.session.execute(db.update(FileRequest).where(FileRequest.owner_id == user_id, FileRequest.revoked_at.is_(None))
                       .values(revoked_at=now))
    record_deletion(user_id, username, actor, held)
    db.session.commit()
    db.session.expire_all()
    log.info("deleting account %s (%s)", username, describe(held))
    return True


def record_deletion(user_id, username, actor, held):
    """Who deleted whom, in an event that outlives the account: an admin's deletion is in the admin's own
    activity (owner_id is theirs), a self-deletion or an operator's belongs to nobody (owner_id NULL) and
    shows in the activity of everyone that admins see; actor_name keeps the name after the rows go."""
    by_other = actor is not None and actor.id != user_id
    audit.record("account_deleted", owner_id=actor.id if by_other else None, actor=actor,
                 actor_name=None if actor is not None else OPERATOR, name=username,
                 detail=f"with {describe(held)}")


def batch_size():
    return max(1, int(current_app.config["DELETION_BATCH_SIZE"]))


def finish(user_id, time_limit=None):
    """Remove what is left of an account being deleted, batch by batch; True once the row is gone."""
    deadline = time.monotonic() + time_limit if time_limit is not None else None
    size = batch_size()
    while True:
        # Bytes of files claimed earlier (by this run, or one that was cut short) go first.
        done, failed = files.retry_deletes(limit=size, owner_id=user_id)
        if failed:
            log.warning("storage refused %d deletions of account %d's files; sweep will try again", failed, user_id)
            return False
        if deadline is not None and time.monotonic() > deadline:
            return False
        if done < size and not claim_batch(user_id, size):
            if remove_rest(user_id):
                return True


def claim_batch(user_id, size):
    """Mark up to `size` of the account's files DELETING in one transaction, giving back their space and
    unhooking them from folders and links; returns how many. Unfinished uploads keep their upload id, so
    purging them aborts the multipart upload too."""
    rows = db.session.execute(db.select(File.id, File.size).filter(
        File.owner_id == user_id, File.status.in_([FileStatus.READY, FileStatus.TRASHED, FileStatus.PENDING]))
        .order_by(File.id).limit(size)).all()
    if not rows:
        db.session.rollback()
        return 0
    ids = [file_id for file_id, _ in rows]
    claimed = db.session.execute(db.update(File).where(File.id.in_(ids), File.status.in_(
        [FileStatus.READY, FileStatus.TRASHED, FileStatus.PENDING])).values(
        status=FileStatus.DELETING, folder_id=None, trashed_with_id=None, file_request_id=None)
        .execution_options(synchronize_session=False)).rowcount
    if claimed != len(ids):
        # One was purged from the trash (or its upload cancelled) meanwhile, which gave its space back
        # already: read the batch again rather than give it back twice.
        db.session.rollback()
        return claim_batch(user_id, size)
    quotas.release(user_id, sum(file_size for _, file_size in rows))
    db.session.execute(db.delete(UploadPart).where(UploadPart.file_id.in_(ids)))
    db.session.execute(db.delete(ShareItem).where(ShareItem.file_id.in_(ids)))
    db.session.execute(db.update(Share).where(Share.file_id.in_(ids)).values(file_id=None))
    db.session.commit()
    return len(ids)


def remove_rest(user_id):
    """The last transaction: links, requests, folders, sign-in records, the account's own activity, then the
    row. False (nothing changed) if a file arrived meanwhile, for the caller to take first."""
    # Holding the account's row makes an upload that reserves space on it (an UPDATE of this row) wait, so
    # no file row can appear between the check below and the row's deletion.
    if db.session.execute(db.select(User.id).filter(User.id == user_id).with_for_update()).first() is None:
        db.session.rollback()
        return True
    if db.session.execute(db.select(File.id).filter(File.owner_id == user_id).limit(1)).first() is not None:
        db.session.rollback()
        return False
    own_shares = db.select(Share.id).filter(Share.owner_id == user_id)
    own_requests = db.select(FileRequest.id).filter(FileRequest.owner_id == user_id)
    db.session.execute(db.delete(ShareItem).where(ShareItem.share_id.in_(own_shares)))
    db.session.execute(db.update(AuditEvent).where(AuditEvent.share_id.in_(own_shares)).values(share_id=None))
    db.session.execute(db.update(AuditEvent).where(AuditEvent.file_request_id.in_(own_requests))
                       .values(file_request_id=None))
    db.session.execute(db.update(File).where(File.file_request_id.in_(own_requests)).values(file_request_id=None))
    db.session.execute(db.delete(Share).where(Share.owner_id == user_id))
    db.session.execute(db.delete(FileRequest).where(FileRequest.owner_id == user_id))
    # One statement takes the whole tree, so no folder is left pointing at a parent already gone.
    db.session.execute(db.delete(Folder).where(Folder.owner_id == user_id))
    for model in (LoginSession, ApiToken, PasswordReset, RecoveryCode, UserIdentity):
        db.session.execute(db.delete(model).where(model.user_id == user_id))
    db.session.execute(db.update(PasswordReset).where(PasswordReset.created_by_id == user_id)
                       .values(created_by_id=None))
    db.session.execute(db.update(Invitation).where(Invitation.created_by_id == user_id).values(created_by_id=None))
    db.session.execute(db.update(Invitation).where(Invitation.used_by_id == user_id).values(used_by_id=None))
    # Its own activity goes with it; what it did to others' (and its deletion) stays, under its name.
    db.session.execute(db.delete(AuditEvent).where(AuditEvent.owner_id == user_id))
    db.session.execute(db.update(AuditEvent).where(AuditEvent.actor_id == user_id).values(actor_id=None))
    db.session.execute(db.delete(User).where(User.id == user_id, User.deleting_at.is_not(None)))
    db.session.commit()
    db.session.expire_all()
    return True


def finish_deletions(time_limit=None):
    """Finish every deletion left half-done (what `sweep` runs); returns (finished, unfinished)."""
    finished = unfinished = 0
    for user_id in db.session.execute(db.select(User.id).filter(User.deleting_at.is_not(None))
                                      .order_by(User.id)).scalars().all():
        if finish(user_id, time_limit=time_limit):
            finished += 1
        else:
            unfinished += 1
    return finished, unfinished


def delete_by_admin(admin_user, user):
    """An admin deletes another account (their own goes from the Account page, which asks for the password)."""
    if user.id == admin_user.id:
        raise Forbidden("Delete your own account from your Account page.", code="own_account")
    return delete_account(user, admin_user, time_limit=current_app.config["DELETION_REQUEST_SECONDS"])


def delete_own(user):
    """A signed-in user deletes their account, once their identity was confirmed (see accounts.confirm_identity)."""
    return delete_account(user, user, time_limit=current_app.config["DELETION_REQUEST_SECONDS"])

