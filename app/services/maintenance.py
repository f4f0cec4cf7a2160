"""Housekeeping that runs from cron or by hand: `flask locker sweep` and `flask locker verify`.

Both are safe to run repeatedly and concurrently with each other and with users:
every change is claimed by a conditional UPDATE or DELETE first, and nothing
that belongs to a ready file or a live upload is ever touched.
"""
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app

from app.extensions import db
from app.models import File, FileProblem, FileStatus, utcnow
from app.services import audit, deletion, trash, uploads
from app.storage import StorageError, get_storage

log = logging.getLogger(__name__)

KEY_PREFIX = "u/"
PROBLEM_EVENTS = {FileProblem.MISSING: "bytes_missing", FileProblem.CHANGED: "bytes_changed"}
BATCH = 500
READ_CHUNK = 1024 * 1024


@dataclass
class SweepReport:
    expired_uploads: list = field(default_factory=list)      # public ids cancelled
    orphan_objects: list = field(default_factory=list)       # keys no row knows
    orphan_uploads: list = field(default_factory=list)       # multipart upload ids no row knows
    deleted_orphans: list = field(default_factory=list)      # keys and upload ids removed
    missing_objects: list = field(default_factory=list)      # ready files whose bytes are gone
    pruned_events: int = 0                                   # activity events past AUDIT_RETENTION_DAYS
    purged_trash: int = 0                                    # trash items past TRASH_RETENTION
    finished_deletions: int = 0                              # account deletions finished (resumed)
    unfinished_deletions: int = 0                            # ones storage still refused


def sweep(delete_orphans=False, now=None):
    """Expire stale uploads; report (and optionally remove) storage no row knows; report rows without bytes."""
    now = now or utcnow()
    config = current_app.config
    report = SweepReport()
    expire_uploads(now - timedelta(seconds=config["UPLOAD_TTL"]), report)
    report.pruned_events = audit.prune(config["AUDIT_RETENTION_DAYS"], now)
    report.purged_trash = trash.purge_expired(now)
    # Before storage is listed, so the bytes of accounts deleted half-way are gone, not reported as orphans.
    report.finished_deletions, report.unfinished_deletions = deletion.finish_deletions()
    grace_cutoff = now - timedelta(seconds=config["ORPHAN_GRACE"])
    storage = get_storage().patient()
    stored_keys = set()
    for batch in batches(storage.iter_objects(KEY_PREFIX)):
        stored_keys.update(item.key for item in batch)
        known = known_keys([item.key for item in batch])
        for item in batch:
            if item.key not in known:
                report.orphan_objects.append(item.key)
                if delete_orphans and item.last_modified < grace_cutoff and not known_keys([item.key]):
                    storage.delete(item.key)
                    report.deleted_orphans.append(item.key)
    for batch in batches(storage.iter_multipart_uploads(KEY_PREFIX)):
        known = known_upload_ids([item.upload_id for item in batch])
        for item in batch:
            if item.upload_id not in known:
                report.orphan_uploads.append(item.upload_id)
                if delete_orphans and item.initiated < grace_cutoff and not known_upload_ids([item.upload_id]):
                    storage.abort_multipart(item.key, item.upload_id)
                    report.deleted_orphans.append(item.upload_id)
    ready = db.select(File.id, File.public_id, File.storage_key, File.problem).filter_by(status=FileStatus.READY)
    for file_id, public_id, key, problem in db.session.execute(ready).all():
        if key in stored_keys:
            if problem == FileProblem.MISSING:  # the bytes are back (restored from a backup, say)
                clear_problem(file_id, FileProblem.MISSING)
        # Listed before this file completed, or really gone: only storage can tell.
        elif storage.stat(key) is None:
            report.missing_objects.append(public_id)
            mark_problem(file_id, FileProblem.MISSING)
    return report


def mark_problem(file_id, problem):
    """Record what is wrong with a ready file's bytes, telling its owner once (in their activity)."""
    file = db.session.get(File, file_id)
    changed = db.session.execute(
        db.update(File).where(File.id == file_id, File.status == FileStatus.READY,
                              db.or_(File.problem.is_(None), File.problem != problem))
        .values(problem=problem, problem_found_at=utcnow())).rowcount
    if changed:
        audit.record(PROBLEM_EVENTS[problem], owner_id=file.owner_id, actor_name="Locker", file=file)
    db.session.commit()


def clear_problem(file_id, problem):
    db.session.execute(db.update(File).where(File.id == file_id, File.problem == problem)
                       .values(problem=None, problem_found_at=None))
    db.session.commit()


def expire_uploads(cutoff, report):
    """Cancel pending uploads started before `cutoff`: parts and bytes go, reservations come back."""
    report.expired_uploads.extend(uploads.cancel_pending(File.created_at < cutoff))


def batches(items, size=BATCH):
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def known_keys(keys):
    return set(db.session.execute(db.select(File.storage_key).filter(File.storage_key.in_(keys))).scalars())


def known_upload_ids(upload_ids):
    return set(db.session.execute(db.select(File.upload_id).filter(File.upload_id.in_(upload_ids))).scalars())


@dataclass
class VerifyResult:
    public_id: str
    name: str
    status: str  # "ok", "mismatch", "recorded" (no digest before), "missing", "unreadable" (storage is down)
    sha256: str | None = None


def verify(public_ids=None):
    """Read stored bytes back and compare their SHA-256 with the recorded one.

    A match marks the digest verified (and clears an earlier problem); a file
    without one gets the digest computed now; bytes that differ or are gone
    mark the file (see FileProblem) and tell its owner.
    """
    query = db.select(File).filter_by(status=FileStatus.READY).order_by(File.id)
    if public_ids is not None:
        query = query.filter(File.public_id.in_(public_ids))
    storage = get_storage().patient()
    for file in db.session.execute(query).scalars().all():
        file_id, public_id, name, key, recorded = file.id, file.public_id, file.name, file.storage_key, file.sha256
        db.session.commit()  # no transaction stays open while the bytes are read
        try:
            digest = hash_stream(storage.open_read(key))
        except StorageError:
            try:
                gone = storage.stat(key) is None
            except StorageError:
                gone = False
            if not gone:  # storage is down or refused: that says nothing about the file
                yield VerifyResult(public_id, name, "unreadable")
                continue
            mark_problem(file_id, FileProblem.MISSING)
            yield VerifyResult(public_id, name, "missing")
            continue
        if recorded and digest != recorded:
            mark_problem(file_id, FileProblem.CHANGED)
            yield VerifyResult(public_id, name, "mismatch", digest)
            continue
        status = "ok" if recorded else "recorded"
        db.session.execute(db.update(File).where(File.id == file_id, File.status == FileStatus.READY)
                           .values(sha256=digest, sha256_verified=True, problem=None, problem_found_at=None))
        db.session.commit()
        yield VerifyResult(public_id, name, status, digest)


def hash_stream(stream):
    digest = hashlib.sha256()
    with stream:
        while chunk := stream.read(READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
