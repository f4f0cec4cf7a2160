"""Folders: each owner's tree, the names in it, and moving files and folders around it.

Every owner has one root folder (made on first need). Names follow the rules file
names do and are unique within a folder across files and folders alike, so a folder
can always be written to a disk or a zip as it is listed. Two files cannot share a
name by the unique index, two folders by another; a file and a folder are kept apart
by taking the folder's row lock first (`claim`), which every change that brings a
name into a folder does, so concurrent changes into one folder take turns.

Moving changes only rows: object keys never change, so no byte is copied.
"""
import uuid
from dataclasses import dataclass

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy import tuple_
from sqlalchemy.exc import IntegrityError

from app.errors import Conflict, InvalidInput, NotFound
from app.extensions import db
from app.models import File, FileStatus, Folder, search_key, utcnow
from app.services import audit, names
from app.services.common import MAX_ROW_ID, find_ready_file, is_public_id, pack_cursor, unpack_cursor
from app.text import is_plain_text

# Deep enough for any tree people make by hand or upload; it bounds a path at MAX_DEPTH names.
MAX_DEPTH = 32
# A relative path in an upload: MAX_DEPTH names and their slashes.
MAX_PATH_LENGTH = MAX_DEPTH * 256
# Folder rows a page shows before it offers the next ones (the API may ask for up to MAX_ITEMS).
FOLDER_PAGE = 100
# Files and folders one move may take; the API's lists of ids use the same bound.
MAX_ITEMS = 1000


@dataclass(frozen=True)
class FolderSummary:
    """What a folder's row shows: what is inside it, at any depth."""

    folder: Folder
    files: int
    size: int


def root_folder(owner_id):
    """The owner's root folder, made the first time it is needed (two first uses at once make one).

    Making it commits, so its id holds from the first answer on: every caller asks before it writes
    (and an owner with any folder or file has one already).
    """
    query = db.select(Folder).filter(Folder.owner_id == owner_id, Folder.parent_id.is_(None))
    root = db.session.execute(query).scalar_one_or_none()
    if root is None:
        insert = postgresql_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
        now = utcnow()
        db.session.execute(insert(Folder).values(public_id=uuid.uuid4().hex, owner_id=owner_id, name="", search_name="",
                                                 depth=0, created_at=now, updated_at=now).on_conflict_do_nothing())
        db.session.commit()
        root = db.session.execute(query).scalar_one()
    return root


def get_folder(user, public_id):
    """One of the user's folders that is not in the trash (None or "root": the root); another user's is absent."""
    if public_id in (None, "", "root"):
        return root_folder(user.id)
    if not is_public_id(public_id):
        raise NotFound("No such folder.")
    folder = db.session.execute(db.select(Folder).filter(
        Folder.public_id == public_id, Folder.owner_id == user.id, Folder.trashed_at.is_(None))).scalar_one_or_none()
    if folder is None:
        raise NotFound("No such folder.")
    return folder


def ancestors(folder):
    """The folders above `folder`, root first, `folder` last (one recursive query)."""
    chain = db.select(Folder.id, Folder.parent_id).filter(Folder.id == folder.id).cte("chain", recursive=True)
    chain = chain.union_all(db.select(Folder.id, Folder.parent_id).join(chain, Folder.id == chain.c.parent_id))
    rows = db.session.execute(db.select(Folder).join(chain, Folder.id == chain.c.id)).scalars().all()
    return sorted(rows, key=lambda row: row.depth)


def path_of(folder):
    """The folder's path as its owner reads it: "" for the root, else "Photos/2024"."""
    return "/".join(row.name for row in ancestors(folder) if not row.is_root)


def folder_chains():
    """Each of the folders `folder_ids` names with every folder above it: (start, id, parent id, name, depth)."""
    chain = (db.select(Folder.id.label("start"), Folder.id, Folder.parent_id, Folder.name, Folder.depth)
             .filter(Folder.id.in_(db.bindparam("folder_ids", expanding=True))).cte("chain", recursive=True))
    chain = chain.union_all(db.select(chain.c.start, Folder.id, Folder.parent_id, Folder.name, Folder.depth)
                            .join(chain, Folder.id == chain.c.parent_id))
    return db.select(chain)


# Built once: every page of files asks for its folders' paths, and building it took as long as running it.
FOLDER_CHAINS = folder_chains()


def paths_of(folder_ids):
    """{folder id: path} for many folders at once (search results show where each file is)."""
    folder_ids = set(folder_ids) - {None}
    if not folder_ids:
        return {}
    names = {}
    for start, _, parent_id, name, depth in db.session.execute(FOLDER_CHAINS, {"folder_ids": sorted(folder_ids)}):
        if parent_id is not None:
            names.setdefault(start, []).append((depth, name))
    return {folder_id: "/".join(name for _, name in sorted(names.get(folder_id, []))) for folder_id in folder_ids}


def subtree_ids(folder_id):
    """The ids of the folder and every live folder below it."""
    tree = db.select(Folder.id).filter(Folder.id == folder_id).cte("tree", recursive=True)
    tree = tree.union_all(db.select(Folder.id).join(tree, Folder.parent_id == tree.c.id)
                          .filter(Folder.trashed_at.is_(None)))
    return db.select(tree.c.id)


def claim(*folder_ids):
    """Take the folders' row locks for this transaction, before looking at or adding a name in them.

    On PostgreSQL the row lock makes concurrent changes into one folder take turns; on
    SQLite the write starts the transaction's write lock, which does the same for the database.
    A move names the folders its files leave too, whose counts the files' trigger changes: taken
    in id order, as the trigger takes them, two opposite moves wait for each other instead of
    deadlocking.
    """
    for folder_id in sorted(set(folder_ids) - {None}):
        db.session.execute(db.update(Folder).where(Folder.id == folder_id).values(updated_at=utcnow()))


def name_taken(folder_id, name, *, file_id=None, folder=None):
    """Whether a ready file or a live folder in the folder has `name` (leaving out the item being renamed)."""
    files = db.select(File.id).filter(File.folder_id == folder_id, File.status == FileStatus.READY, File.name == name)
    if file_id is not None:
        files = files.filter(File.id != file_id)
    folders = db.select(Folder.id).filter(Folder.parent_id == folder_id, Folder.trashed_at.is_(None),
                                          Folder.name == name)
    if folder is not None:
        folders = folders.filter(Folder.id != folder.id)
    return db.session.execute(files.union_all(folders).limit(1)).first() is not None


def free_name(folder_id, wanted):
    """`wanted`, or the first "stem (n).ext" no ready file or live folder in the folder has (names.numbered_names)."""
    stem, _ = names.split_extension(wanted)
    alike = db.select(File.name).filter(File.folder_id == folder_id, File.status == FileStatus.READY,
                                        File.name.startswith(stem, autoescape=True)).union_all(
        db.select(Folder.name).filter(Folder.parent_id == folder_id, Folder.trashed_at.is_(None),
                                      Folder.name.startswith(stem, autoescape=True)))
    taken = set(db.session.execute(alike).scalars())
    return next(name for name in names.numbered_names(wanted) if name not in taken)


def taken_message(name):
    return Conflict(f"This folder already has something named {name}.", code="name_taken")


def create_folder(user, name, parent_id=None):
    """A new, empty folder in `parent_id` (the root if None); a name already there is refused."""
    parent = get_folder(user, parent_id)
    name = names.clean_name(name, "folder")
    if parent.depth + 1 > MAX_DEPTH:
        raise InvalidInput(f"Folders go at most {MAX_DEPTH} levels deep.", code="too_deep")
    claim(parent.id)
    if name_taken(parent.id, name):
        db.session.rollback()
        raise taken_message(name)
    folder = Folder(public_id=uuid.uuid4().hex, owner_id=user.id, parent_id=parent.id, name=name,
                    search_name=search_key(name), depth=parent.depth + 1)
    db.session.add(folder)
    audit.record("folder_created", owner_id=user.id, actor=user, name=name, detail=in_detail(parent))
    commit_or_taken(name)
    return folder


def make_path(user, path_names, parent=None):
    """The folder at `path_names` below `parent` (the root if None), making what is missing (as `mkdir -p`)."""
    folder = parent or root_folder(user.id)
    for name in path_names:
        name = names.clean_name(name, "folder")
        existing = db.session.execute(db.select(Folder).filter(
            Folder.parent_id == folder.id, Folder.name == name, Folder.trashed_at.is_(None))).scalar_one_or_none()
        if existing is None:
            try:
                existing = create_folder(user, name, folder.public_id if not folder.is_root else None)
            except Conflict:
                # Made meanwhile by another upload of the same tree, or a file has the name.
                existing = db.session.execute(db.select(Folder).filter(
                    Folder.parent_id == folder.id, Folder.name == name,
                    Folder.trashed_at.is_(None))).scalar_one_or_none()
                if existing is None:
                    raise
        folder = existing
    return folder


def split_path(path):
    """The folder names of a relative path such as "Photos/2024" (either slash), each checked as a folder name."""
    if path is None or path == "":
        return []
    if not isinstance(path, str):
        raise InvalidInput("A path is text such as Photos/2024.", code="invalid_path")
    parts = [part for part in path.replace("\\", "/").split("/") if part not in ("", ".")]
    if ".." in parts:
        raise InvalidInput("A path can't go up with '..'.", code="invalid_path")
    if len(parts) > MAX_DEPTH:
        raise InvalidInput(f"Folders go at most {MAX_DEPTH} levels deep.", code="too_deep")
    return [names.clean_name(part, "folder") for part in parts]


def upload_target(user, folder_id=None, path=None):
    """The folder an upload goes to: `folder_id` (the root if None), below it `path`, made where missing."""
    parts = split_path(path)  # checked whole before anything is made
    folder = get_folder(user, folder_id)
    if folder.depth + len(parts) > MAX_DEPTH:
        raise InvalidInput(f"Folders go at most {MAX_DEPTH} levels deep.", code="too_deep")
    return make_path(user, parts, folder) if parts else folder


def request_target(file_request, root=None):
    """Where files sent through an upload request go: its folder while that is live, else the owner's root
    (`root`, when the caller has it already)."""
    folder = file_request.folder
    if folder is None or folder.trashed_at is not None:
        return root or root_folder(file_request.owner_id)
    return folder


def rename_folder(user, public_id, name):
    """Give a folder a new name in the same parent; a name already there is refused, never numbered."""
    folder = get_folder(user, public_id)
    if folder.is_root:
        raise InvalidInput("The root folder has no name to change.", code="root_folder")
    name = names.clean_name(name, "folder")
    if name == folder.name:
        return folder
    claim(folder.parent_id)
    if name_taken(folder.parent_id, name, folder=folder):
        db.session.rollback()
        raise taken_message(name)
    old_name, folder.name, folder.search_name = folder.name, name, search_key(name)
    audit.record("folder_renamed", owner_id=user.id, actor=user, name=name, detail=f"from {old_name}")
    commit_or_taken(name)
    return folder


def commit_or_taken(name):
    try:
        db.session.commit()
    except IntegrityError:  # the unique index: the name was taken between our look and our write
        db.session.rollback()
        raise taken_message(name) from None


def in_detail(folder):
    path = path_of(folder)
    return f"in {path}" if path else "in the root folder"


def move(user, target_id, file_ids=(), folder_ids=()):
    """Move files and folders into the target folder, all or none, keeping their names.

    A name the target already has is refused (Conflict naming it), as is moving a folder into
    itself or below itself, or so deep that something would pass MAX_DEPTH. Rows change; keys do not.
    """
    file_ids, folder_ids = list(dict.fromkeys(file_ids)), list(dict.fromkeys(folder_ids))
    if not file_ids and not folder_ids:
        raise InvalidInput("Choose at least one file or folder to move.", code="nothing_chosen")
    if len(file_ids) + len(folder_ids) > MAX_ITEMS:
        raise InvalidInput(f"Move at most {MAX_ITEMS:,} items at once.", code="too_many_items")
    target = get_folder(user, target_id)
    files = [owned_file(user, public_id) for public_id in file_ids]
    folders = [get_folder(user, public_id) for public_id in folder_ids]
    claim(target.id, *(file.folder_id for file in files))
    above_target = {row.id for row in ancestors(target)}
    names = {}
    for folder in folders:
        if folder.is_root:
            raise refuse(InvalidInput("The root folder can't be moved.", code="root_folder"))
        if folder.id in above_target:
            raise refuse(InvalidInput(f"{folder.name} can't be moved into itself or a folder inside it.",
                                      code="into_itself"))
        if target.depth + 1 + subtree_height(folder) > MAX_DEPTH:
            raise refuse(InvalidInput(f"Folders go at most {MAX_DEPTH} levels deep.", code="too_deep"))
    for item in [*files, *folders]:
        staying = (item.folder_id if isinstance(item, File) else item.parent_id) == target.id
        if staying:
            continue
        if item.name in names or name_taken(target.id, item.name):
            raise refuse(taken_message(item.name))
        names[item.name] = item
    for file in files:
        if file.folder_id != target.id:
            file.folder_id = target.id
            audit.record("move", owner_id=user.id, actor=user, file=file, detail=f"to {path_of(target) or 'the root folder'}")
    for folder in folders:
        if folder.parent_id != target.id:
            shift = target.depth + 1 - folder.depth
            if shift:
                db.session.execute(db.update(Folder).where(Folder.id.in_(subtree_ids(folder.id)))
                                   .values(depth=Folder.depth + shift).execution_options(synchronize_session=False))
            folder.parent_id = target.id
            audit.record("move", owner_id=user.id, actor=user, name=folder.name,
                         detail=f"to {path_of(target) or 'the root folder'}")
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("Something with one of these names arrived in the folder meanwhile; try again.",
                       code="name_taken") from None
    db.session.expire_all()
    return target


def refuse(error):
    db.session.rollback()
    return error


def subtree_height(folder):
    """How many levels the folder's tree has below it (0: no subfolders)."""
    deepest = db.session.execute(db.select(db.func.max(Folder.depth)).filter(Folder.id.in_(subtree_ids(folder.id)))
                                 ).scalar_one()
    return (deepest or folder.depth) - folder.depth


def owned_file(user, public_id):
    """One of the user's ready files (the same 404 as files.get_file, without importing it)."""
    return find_ready_file(public_id, File.owner_id == user.id)


def subfolders(folder, limit=None, cursor=None):
    """One page (`limit`, FOLDER_PAGE unless given) of the live folders directly in `folder`, by name, each with
    its files and bytes at any depth: (summaries, the cursor of the next page or None). Walked by keyset on
    (name, id), as files are."""
    limit = FOLDER_PAGE if limit is None else limit
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_ITEMS:
        raise InvalidInput(f"A page of folders holds 1 to {MAX_ITEMS:,}.", code="invalid_limit")
    query = db.select(Folder).filter(Folder.parent_id == folder.id, Folder.trashed_at.is_(None))
    if cursor:
        name, folder_id = unpack_cursor(cursor, folder_position)
        query = query.filter(tuple_(Folder.name, Folder.id) > tuple_(name, folder_id))
    rows = db.session.execute(query.order_by(Folder.name, Folder.id).limit(limit + 1)).scalars().all()
    more, rows = len(rows) > limit, rows[:limit]
    return summaries(rows), pack_cursor({"n": rows[-1].name, "i": rows[-1].id}) if more else None


def folder_position(payload):
    name, folder_id = payload["n"], payload["i"]
    if not isinstance(name, str) or not is_plain_text(name) or isinstance(folder_id, bool) or \
            not isinstance(folder_id, int) or not 0 <= folder_id <= MAX_ROW_ID:
        raise ValueError
    return name, folder_id


def summaries(folders):
    """FolderSummary for each folder: what is in it at any depth, in one query for all of them.

    Each folder's ready_files and ready_bytes (kept by triggers on files) are added up over the folders below
    it, so the cost follows how many folders there are, never how many files they hold.
    """
    if not folders:
        return []
    tree = (db.select(Folder.id.label("top"), Folder.id).filter(Folder.id.in_([f.id for f in folders]))
            .cte("tree", recursive=True))
    tree = tree.union_all(db.select(tree.c.top, Folder.id).join(tree, Folder.parent_id == tree.c.id)
                          .filter(Folder.trashed_at.is_(None)))
    totals = {top: (int(count), int(size)) for top, count, size in db.session.execute(
        db.select(tree.c.top, db.func.sum(Folder.ready_files), db.func.sum(Folder.ready_bytes))
        .join(Folder, Folder.id == tree.c.id).group_by(tree.c.top)).all()}
    return [FolderSummary(folder, *totals[folder.id]) for folder in folders]


def folder_choices(user, leaving_out=None):
    """(folder, path) for each of the user's live folders, root first, then by path: where something can move to.

    `leaving_out` (a Folder) drops it and everything below it, where it could not go.
    """
    query = db.select(Folder).filter(Folder.owner_id == user.id, Folder.trashed_at.is_(None))
    if leaving_out is not None:
        query = query.filter(Folder.id.not_in(subtree_ids(leaving_out.id)))
    rows = db.session.execute(query).scalars().all()
    paths = paths_of(row.id for row in rows)
    return sorted(((row, paths.get(row.id, "")) for row in rows), key=lambda pair: (not pair[0].is_root, pair[1]))
