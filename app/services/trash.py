"""The trash: deleting puts files and folders here; they come back with a restore, or go for good.

A trashed file keeps its bytes, its links (which answer 410 meanwhile) and its place in
the owner's quota until it is purged: by "Delete forever", "Empty trash", or `sweep`
once it is older than TRASH_RETENTION. A trashed folder takes everything in it along
(see models.Folder); the trash lists the items deleted, not what was inside them.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy.exc import IntegrityError

from app.errors import Conflict, InvalidInput, NotFound
from app.extensions import db
from app.models import File, FileRequest, FileStatus, Folder, Share, search_key, utcnow
from app.services import audit, files, folders, quotas, shares
from app.services.common import is_public_id

# Newest first, this many at a time: the trash page and GET /trash.
PAGE_SIZE = 200


@dataclass(frozen=True)
class TrashItem:
    kind: str            # "file" or "folder"
    public_id: str
    name: str
    trashed_from: str    # the folder path it was deleted from ("" for the root)
    trashed_at: datetime
    size: int            # a folder: the bytes of every file that went with it
    files: int           # a folder: how many files went with it (a file: 1)


def trash(user, file_ids=(), folder_ids=()):
    """Move the user's files and folders (with all inside them) to the trash, all or none."""
    file_ids, folder_ids = list(dict.fromkeys(file_ids)), list(dict.fromkeys(folder_ids))
    if not file_ids and not folder_ids:
        raise InvalidInput("Choose at least one file or folder.", code="nothing_chosen")
    if len(file_ids) + len(folder_ids) > folders.MAX_ITEMS:
        raise InvalidInput(f"Choose at most {folders.MAX_ITEMS:,} items at once.", code="too_many_items")
    now = utcnow()
    chosen_files = [folders.owned_file(user, public_id) for public_id in file_ids]
    chosen = [folders.get_folder(user, public_id) for public_id in folder_ids]
    if any(folder.is_root for folder in chosen):
        raise InvalidInput("The root folder can't be deleted.", code="root_folder")
    paths = folders.paths_of({file.folder_id for file in chosen_files} | {folder.parent_id for folder in chosen})
    for file in chosen_files:
        claimed = db.session.execute(db.update(File).where(File.id == file.id, File.status == FileStatus.READY).values(
            status=FileStatus.TRASHED, trashed_at=now, trashed_from=paths.get(file.folder_id, ""),
            trashed_with_id=None)).rowcount
        if not claimed:  # trashed by another request meanwhile
            db.session.rollback()
            raise NotFound("No such file.")
        audit.record("trash", owner_id=user.id, actor=user, file=file, detail=from_detail(paths.get(file.folder_id)))
    for folder in chosen:
        if folder.trashed_at is not None:
            continue  # inside another chosen folder, and so trashed with it just now
        # Claimed first, as a file is: of two requests trashing it at once, the second finds nothing to do.
        if not db.session.execute(db.update(Folder).where(Folder.id == folder.id, Folder.trashed_at.is_(None)).values(
                trashed_at=now, trashed_from=paths.get(folder.parent_id, ""), trashed_with_id=None)
                .execution_options(synchronize_session=False)).rowcount:
            db.session.rollback()
            raise NotFound("No such folder.")
        inside = folders.subtree_ids(folder.id)
        db.session.execute(db.update(File).where(File.folder_id.in_(inside), File.status == FileStatus.READY)
                           .values(status=FileStatus.TRASHED, trashed_at=now, trashed_with_id=folder.id)
                           .execution_options(synchronize_session=False))
        db.session.execute(db.update(Folder).where(Folder.id.in_(inside), Folder.id != folder.id)
                           .values(trashed_at=now, trashed_with_id=folder.id)
                           .execution_options(synchronize_session=False))
        audit.record("trash", owner_id=user.id, actor=user, name=folder.name,
                     detail=from_detail(paths.get(folder.parent_id)))
        db.session.expire_all()
    db.session.commit()


def from_detail(path):
    return f"from {path}" if path else "from the root folder"


def items(user, limit=PAGE_SIZE):
    """What the user's trash holds, newest first: each deleted file and folder (not what was inside them)."""
    trashed_files = db.session.execute(
        db.select(File).filter(File.owner_id == user.id, File.status == FileStatus.TRASHED,
                               File.trashed_with_id.is_(None)).order_by(File.trashed_at.desc()).limit(limit)
    ).scalars().all()
    trashed_folders = db.session.execute(
        db.select(Folder).filter(Folder.owner_id == user.id, Folder.trashed_at.is_not(None),
                                 Folder.trashed_with_id.is_(None)).order_by(Folder.trashed_at.desc()).limit(limit)
    ).scalars().all()
    contents = dict((folder_id, (count, size)) for folder_id, count, size in db.session.execute(
        db.select(File.trashed_with_id, db.func.count(File.id), db.func.coalesce(db.func.sum(File.size), 0))
        .filter(File.trashed_with_id.in_([folder.id for folder in trashed_folders]),
                File.status == FileStatus.TRASHED).group_by(File.trashed_with_id)).all())
    result = [TrashItem("file", file.public_id, file.name, file.trashed_from or "", file.trashed_at, file.size, 1)
              for file in trashed_files]
    result += [TrashItem("folder", folder.public_id, folder.name, folder.trashed_from or "", folder.trashed_at,
                         *reversed(contents.get(folder.id, (0, 0)))) for folder in trashed_folders]
    return sorted(result, key=lambda item: item.trashed_at, reverse=True)[:limit]


def held_bytes(user):
    """The bytes the user's trash holds: still counted in their quota until purged."""
    return db.session.execute(db.select(db.func.coalesce(db.func.sum(File.size), 0)).filter(
        File.owner_id == user.id, File.status == FileStatus.TRASHED)).scalar_one()


def trashed_file(user, public_id):
    """A file of the user's that is a trash item of its own."""
    file = db.session.execute(db.select(File).filter(
        File.public_id == public_id, File.owner_id == user.id, File.status == FileStatus.TRASHED,
        File.trashed_with_id.is_(None))).scalar_one_or_none() if is_public_id(public_id) else None
    if file is None:
        raise NotFound("No such file in the trash.")
    return file


def trashed_folder(user, public_id):
    folder = db.session.execute(db.select(Folder).filter(
        Folder.public_id == public_id, Folder.owner_id == user.id, Folder.trashed_at.is_not(None),
        Folder.trashed_with_id.is_(None))).scalar_one_or_none() if is_public_id(public_id) else None
    if folder is None:
        raise NotFound("No such folder in the trash.")
    return folder


def restore(user, file_ids=(), folder_ids=()):
    """Put trash items back where they were deleted from, all or none.

    Folders on the way that are gone (or in the trash themselves) are made again, and a
    name taken there meanwhile is numbered, as an upload's would be. Returns the folders
    the items went to, in the order given (files first).
    """
    file_ids, folder_ids = list(dict.fromkeys(file_ids)), list(dict.fromkeys(folder_ids))
    if not file_ids and not folder_ids:
        raise InvalidInput("Choose at least one item of the trash.", code="nothing_chosen")
    chosen_files = [trashed_file(user, public_id) for public_id in file_ids]
    chosen = [trashed_folder(user, public_id) for public_id in folder_ids]
    places = {}
    # Making the folders on the way commits each; what follows is one transaction.
    for path in {item.trashed_from or "" for item in [*chosen_files, *chosen]}:
        places[path] = folders.make_path(user, path.split("/") if path else [])
    targets = []
    try:
        for file in chosen_files:
            target = places[file.trashed_from or ""]
            folders.claim(target.id)
            name = folders.free_name(target.id, file.name)
            if not db.session.execute(db.update(File).where(File.id == file.id, File.status == FileStatus.TRASHED)
                                      .values(status=FileStatus.READY, folder_id=target.id, name=name,
                                              search_name=search_key(name), trashed_at=None,
                                              trashed_from=None)).rowcount:
                raise NotFound("No such file in the trash.")
            audit.record("restore", owner_id=user.id, actor=user, file=file, detail=f"to {target_path(target)}")
            targets.append(target)
        for folder in chosen:
            target = places[folder.trashed_from or ""]
            folders.claim(target.id)
            name = folders.free_name(target.id, folder.name)
            shift = target.depth + 1 - folder.depth
            # Claimed first, as a file is: a second restore at once must not rename the restored folder.
            if not db.session.execute(db.update(Folder).where(Folder.id == folder.id, Folder.trashed_at.is_not(None))
                                      .values(parent_id=target.id, name=name, search_name=search_key(name),
                                              depth=target.depth + 1, trashed_at=None, trashed_from=None)).rowcount:
                raise NotFound("No such folder in the trash.")
            db.session.execute(db.update(File).where(File.trashed_with_id == folder.id,
                                                     File.status == FileStatus.TRASHED)
                               .values(status=FileStatus.READY, trashed_at=None, trashed_with_id=None))
            db.session.execute(db.update(Folder).where(Folder.trashed_with_id == folder.id)
                               .values(trashed_at=None, trashed_with_id=None, depth=Folder.depth + shift))
            audit.record("restore", owner_id=user.id, actor=user, name=name, detail=f"to {target_path(target)}")
            targets.append(target)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("Something with the same name arrived meanwhile; try the restore again.",
                       code="name_taken") from None
    except Exception:
        db.session.rollback()
        raise
    db.session.expire_all()
    return targets


def target_path(folder):
    return folders.path_of(folder) or "the root folder"


def purge(user, file_ids=(), folder_ids=()):
    """Delete trash items for good: their rows go at once, their bytes as soon as storage allows."""
    file_ids, folder_ids = list(dict.fromkeys(file_ids)), list(dict.fromkeys(folder_ids))
    chosen_files = [trashed_file(user, public_id) for public_id in file_ids]
    chosen = [trashed_folder(user, public_id) for public_id in folder_ids]
    # Each item goes in its own transaction; one purged meanwhile by another request is a 404 here.
    for file in chosen_files:
        if not purge_item(file.owner_id, file=file, actor=user):
            raise NotFound("No such file in the trash.")
    for folder in chosen:
        if not purge_item(folder.owner_id, folder=folder, actor=user):
            raise NotFound("No such folder in the trash.")
    finish_deletes(user.id)


def empty(user):
    """Delete everything in the user's trash for good; returns how many items went."""
    count = 0
    while batch := items(user, limit=PAGE_SIZE):
        for item in batch:
            if item.kind == "file":
                purge_item(user.id, file=trashed_file(user, item.public_id), actor=user)
            else:
                purge_item(user.id, folder=trashed_folder(user, item.public_id), actor=user)
            count += 1
    finish_deletes(user.id)
    return count


def purge_expired(now=None):
    """What `sweep` does: purge trash items older than TRASH_RETENTION; returns how many."""
    cutoff = (now or utcnow()) - timedelta(seconds=current_app.config["TRASH_RETENTION"])
    count = 0
    for file_id, owner_id in db.session.execute(db.select(File.id, File.owner_id).filter(
            File.status == FileStatus.TRASHED, File.trashed_with_id.is_(None), File.trashed_at < cutoff)).all():
        count += purge_item(owner_id, file=db.session.get(File, file_id))
    for folder_id, owner_id in db.session.execute(db.select(Folder.id, Folder.owner_id).filter(
            Folder.trashed_at < cutoff, Folder.trashed_with_id.is_(None))).all():
        count += purge_item(owner_id, folder=db.session.get(Folder, folder_id))
    files.retry_deletes()
    return count


def purge_item(owner_id, file=None, folder=None, actor=None):
    """Unlist one trash item and everything that went with it, give back its space, end its links (one
    transaction); the bytes are removed afterwards (files.purge, retried by `retry-deletes`). 1 if it went."""
    if file is not None:
        claimed = db.session.execute(db.update(File).where(File.id == file.id, File.status == FileStatus.TRASHED)
                                     .values(status=FileStatus.DELETING)).rowcount
        if not claimed:
            db.session.rollback()
            return 0
        quotas.release(owner_id, file.size)
        shares.end_shares_of(file.id)
        audit.record("purge", owner_id=owner_id, actor=actor, actor_name=None if actor else "trash retention",
                     file=file)
        db.session.commit()
        return 1
    inside = db.select(Folder.id).filter(db.or_(Folder.id == folder.id, Folder.trashed_with_id == folder.id))
    went = db.session.execute(db.select(File.id, File.size).filter(
        File.trashed_with_id == folder.id, File.status == FileStatus.TRASHED)).all()
    file_ids = [file_id for file_id, _ in went]
    if file_ids:
        db.session.execute(db.update(File).where(File.id.in_(file_ids), File.status == FileStatus.TRASHED)
                           .values(status=FileStatus.DELETING, folder_id=None, trashed_with_id=None)
                           .execution_options(synchronize_session=False))
        quotas.release(owner_id, sum(size for _, size in went))
        db.session.execute(db.update(Share).where(Share.file_id.in_(file_ids), Share.revoked_at.is_(None))
                           .values(revoked_at=utcnow()))
    # What else still points into these folders (trash items of their own, unfinished uploads)
    # moves to the root: a trash item keeps the path to restore to, an upload lands there.
    root = folders.root_folder(owner_id)
    db.session.execute(db.update(File).where(File.folder_id.in_(inside)).values(folder_id=root.id)
                       .execution_options(synchronize_session=False))
    db.session.execute(db.update(Folder).where(Folder.parent_id.in_(inside), Folder.id.not_in(inside))
                       .values(parent_id=root.id).execution_options(synchronize_session=False))
    db.session.execute(db.update(Share).where(Share.folder_id.in_(inside)).values(folder_id=None, revoked_at=utcnow())
                       .execution_options(synchronize_session=False))
    db.session.execute(db.update(FileRequest).where(FileRequest.folder_id.in_(inside)).values(folder_id=None)
                       .execution_options(synchronize_session=False))
    audit.record("purge", owner_id=owner_id, actor=actor, actor_name=None if actor else "trash retention",
                 name=folder.name, detail=f"with {len(file_ids):,} file{'s' if len(file_ids) != 1 else ''}")
    # One statement takes the whole tree, so no row is left pointing at a parent already gone.
    db.session.execute(db.delete(Folder).where(Folder.id.in_(inside)).execution_options(synchronize_session=False))
    db.session.commit()
    db.session.expire_all()
    return 1


def finish_deletes(owner_id):
    """Remove the bytes of what was just purged (files.retry_deletes); what storage refuses now is retried later."""
    files.retry_deletes(owner_id=owner_id)
