"""Files: listing, download links and deletion. Uploads live in services.uploads.

Only ready files are listed or downloadable; another user's file is as
absent as a missing one.
"""
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import UnaryExpression, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.operators import custom_op
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from app.errors import Conflict, InvalidInput, LockerError
from app.extensions import db
from app.models import SEARCH_TABLE, File, FileStatus, search_key, utcnow
from app.services import audit, folders, previews, shares, uploads
from app.services.common import MAX_ROW_ID, find_ready_file, pack_cursor, storage_call, unpack_cursor
from app.storage import StorageError, get_storage
from app.text import is_plain_text

log = logging.getLogger(__name__)

SORT_COLUMNS = {"date": File.created_at, "name": File.name, "size": File.size}
DEFAULT_ORDER = {"date": "desc", "name": "asc", "size": "desc"}
MAX_PAGE_SIZE = 1000
# Download URLs one request may ask for (POST /files/download-links).
MAX_DOWNLOAD_LINKS = 100
BIGINT = 2 ** 63 - 1
RETRIES_PER_DELETE = 10
# mine: the user's files; everyone: files their owners made visible to all; all: both.
SCOPES = ("mine", "everyone", "all")
MAX_QUERY_LENGTH = 100
# Shorter queries than a trigram can't use a trigram index: they match the start of names.
PREFIX_QUERY_LENGTH = 2
# Characters in each piece of an FTS5 search (see fts_query).
FTS_PIECE = 5
# SQLite's FTS5 trigram table over files.search_name (rowid = files.id), made by the migration.
search_table = db.table(SEARCH_TABLE, db.column("rowid"), db.column("search_name"))


@dataclass
class Page:
    items: list
    next_cursor: str | None
    prev_cursor: str | None
    sort: str
    order: str
    q: str | None = None
    scope: str = "mine"
    folder: object = None  # the Folder listed (None: every folder)


def encode_cursor(sort, order, file, before=False, search=None, scope="mine", folder_id=None):
    value = getattr(file, SORT_COLUMNS[sort].key)
    if isinstance(value, datetime):
        value = value.isoformat()
    return pack_cursor({"s": sort, "o": order, "v": value, "i": file.id, "b": before, "q": search, "c": scope,
                        "f": folder_id})


def decode_cursor(cursor):
    return unpack_cursor(cursor, cursor_position)


def cursor_position(payload):
    """(sort, order, value, file id, before, search, scope, folder id) from a cursor's payload; ValueError if not one."""
    sort, order, value, file_id = payload["s"], payload["o"], payload["v"], payload["i"]
    if sort not in SORT_COLUMNS or order not in ("asc", "desc"):
        raise ValueError
    if sort == "date":
        value = datetime.fromisoformat(value)
        if value.tzinfo is not None:
            raise ValueError  # cursors carry the naive UTC the columns hold; an aware one cannot be compared
    elif sort == "size":
        value = int(value)
        if not -BIGINT <= value <= BIGINT:
            raise ValueError
    elif not is_plain_text(value):
        raise ValueError
    if isinstance(file_id, bool) or not isinstance(file_id, int) or not 0 <= file_id <= MAX_ROW_ID:
        raise ValueError
    search, scope, folder_id = payload.get("q"), payload.get("c", "mine"), payload.get("f")
    if scope not in SCOPES or not (search is None or is_plain_text(search) and 0 < len(search) <= 255):
        raise ValueError
    if folder_id is not None and (isinstance(folder_id, bool) or not isinstance(folder_id, int)):
        raise ValueError
    return sort, order, value, file_id, bool(payload.get("b")), search, scope, folder_id


def search_query(q):
    """The search key of what the user typed (None: no search)."""
    if q is None:
        return None
    if not is_plain_text(q):
        raise InvalidInput("A search can't contain control characters.", code="invalid_query")
    if len(q) > MAX_QUERY_LENGTH:
        raise InvalidInput(f"Search for at most {MAX_QUERY_LENGTH} characters.", code="invalid_query")
    return search_key(q.strip()) or None


def unindexed(column):
    """The column as SQLite's "+column": the same value, but no index on it may serve the term."""
    return UnaryExpression(column, operator=custom_op("+"), type_=column.type)


def scope_filter(user, scope, indexed=True):
    owner, visible = (File.owner_id, File.visible_to_everyone) if indexed else (
        unindexed(File.owner_id), unindexed(File.visible_to_everyone))
    everyone = visible == db.true()
    if scope == "mine":
        return owner == user.id
    if scope == "everyone":
        return everyone
    return db.or_(owner == user.id, everyone)


def escape_like(key):
    return key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def escape_glob(key):
    return "".join(f"[{c}]" if c in "*?[" else c for c in key)


def fts_query(key):
    """An FTS5 query every name containing `key` (3+ characters) matches: the key in pieces of FTS_PIECE characters,
    each overlapping the next by two, so every trigram of it is in a piece; callers check the whole key after.

    As one phrase, a key whose trigrams are in most names ("123456.bin": ".bi", "bin") took 15-60 ms at a
    million names, where its pieces joined by AND take under 1 ms (FTS5 skips through the common ones' lists).
    Each piece is an FTS5 string: its characters are all literal, quotes doubled.
    """
    pieces = [key[start:start + FTS_PIECE] for start in range(0, len(key) - 2, FTS_PIECE - 2)]
    return " AND ".join('"' + piece.replace('"', '""') + '"' for piece in pieces)


def search_filter(key):
    """Names whose search key contains `key` (3+ characters) or starts with it (1 or 2), through an index.

    PostgreSQL: the trigram GIN index serves both LIKE forms. SQLite: the FTS5 trigram
    table finds substrings, and GLOB (case-sensitive, on the already case-folded key) lets
    the b-tree on search_name serve a prefix, which LIKE (case-insensitive there) would not.
    """
    sqlite = db.engine.dialect.name == "sqlite"
    if len(key) > PREFIX_QUERY_LENGTH:
        if sqlite:
            candidates = db.select(search_table.c.rowid).where(search_table.c.search_name.match(fts_query(key)))
            return db.and_(File.id.in_(candidates), db.func.instr(File.search_name, key) > 0)
        return File.search_name.like(f"%{escape_like(key)}%", escape="\\")
    if sqlite:
        return File.search_name.op("GLOB")(escape_glob(key) + "*")
    return File.search_name.like(f"{escape_like(key)}%", escape="\\")


def default_scope(search):
    """What a list covers unless asked: with a search (a search_query), your files and everyone's; else yours."""
    return "all" if search else "mine"


def list_files(user, sort="date", order=None, cursor=None, limit=50, q=None, scope=None, folder=None):
    """One page of ready files the user may see, walked by keyset (never OFFSET).

    `folder` (one of the user's Folders) keeps the files directly in it; without it the
    list covers every folder. `scope` is mine, everyone or all (default: all when
    searching, else mine); `q` keeps names containing it, compared by search_key. A
    cursor names the row a page starts after (or, for a previous page, ends before) and
    carries the sort, the search, the scope and the folder, so following it keeps them;
    asking for another search with it is refused.
    """
    search = search_query(q)
    if scope is not None and scope not in SCOPES:
        raise InvalidInput(f"Scope is one of: {', '.join(SCOPES)}.", code="invalid_scope")
    folder_id = folder.id if folder is not None else None
    if folder is not None and scope not in (None, "mine"):
        raise InvalidInput("A folder holds only your own files: leave out the scope, or choose mine.",
                           code="invalid_scope")
    if cursor:
        sort, order, value, file_id, before, cursor_search, cursor_scope, cursor_folder = decode_cursor(cursor)
        if (q is not None and search != cursor_search) or (scope is not None and scope != cursor_scope) or (
                cursor_folder != folder_id):
            raise InvalidInput("That page cursor belongs to another search; start again from the first page.",
                               code="invalid_cursor")
        search, scope = cursor_search, cursor_scope
    else:
        scope = "mine" if folder is not None else scope or default_scope(search)
        if sort not in SORT_COLUMNS:
            raise InvalidInput(f"Sort by one of: {', '.join(SORT_COLUMNS)}.", code="invalid_sort")
        order = order or DEFAULT_ORDER[sort]
        if order not in ("asc", "desc"):
            raise InvalidInput("Order is 'asc' or 'desc'.", code="invalid_order")
        value = file_id = None
        before = False
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}.", code="invalid_limit")

    column = SORT_COLUMNS[sort]
    ascending = (order == "asc") != before
    # Without statistics, SQLite would rather walk the scope's index in sort order and test
    # every row against the search, reading all of a scope's files when few match; so there
    # the search index must find the matches, and only those are sorted.
    indexed = not (search and db.engine.dialect.name == "sqlite")
    where = (File.folder_id if indexed else unindexed(File.folder_id)) == folder_id if folder is not None else \
        scope_filter(user, scope, indexed)
    query = db.select(File).filter(where, File.status == FileStatus.READY)
    if search:
        query = query.filter(search_filter(search))
    # Rows show their folder, the request a guest file came through and, outside "mine", their owner:
    # joined to the page's query, or one query each for the page, never one per row.
    query = query.options(joinedload(File.file_request), joinedload(File.folder))
    if scope != "mine":
        query = query.options(selectinload(File.owner))
    if cursor:
        key = tuple_(column, File.id)
        query = query.filter(key > tuple_(value, file_id) if ascending else key < tuple_(value, file_id))
    query = query.order_by(column.asc(), File.id.asc()) if ascending else query.order_by(column.desc(), File.id.desc())
    rows = db.session.execute(query.limit(limit + 1)).scalars().all()
    more = len(rows) > limit
    rows = rows[:limit]
    if before:
        rows.reverse()
    if scope == "mine":
        for file in rows:  # their owner is the user: no lazy load for each row
            set_committed_value(file, "owner", user)
    # Walking back, the page came from a later one and `more` says whether an earlier one is left;
    # walking forward, `more` says whether a later one is left, and past the first page an earlier one is.
    has_next, has_prev = (True, more) if before else (more, bool(cursor))
    next_cursor = (encode_cursor(sort, order, rows[-1], search=search, scope=scope, folder_id=folder_id)
                   if rows and has_next else None)
    prev_cursor = (encode_cursor(sort, order, rows[0], before=True, search=search, scope=scope, folder_id=folder_id)
                   if rows and has_prev else None)
    shown_query = q.strip() if q is not None and search else search
    return Page(rows, next_cursor, prev_cursor, sort, order, q=shown_query, scope=scope, folder=folder)


def with_paths(user, rows):
    """The files, each with `folder_path` set: its folder's path for the user's own files, None for others'."""
    paths = folders.paths_of({file.folder_id for file in rows if file.owner_id == user.id})
    for file in rows:
        file.folder_path = paths.get(file.folder_id) if file.owner_id == user.id else None
    return rows


def shown_path(file, user):
    """The file's folder path as `user` may see it: theirs for their own files (read once), None for others'
    (and for a guest, who has no account)."""
    if user is None or file.owner_id != user.id:
        return None
    if not hasattr(file, "folder_path"):
        with_paths(user, [file])
    return file.folder_path


def get_file(user, public_id):
    """The user's ready file with this id; anyone else's is as absent as a missing one."""
    return find_ready_file(public_id, File.owner_id == user.id)


def get_readable_file(user, public_id):
    """A ready file the user may read: their own, or one its owner made visible to everyone."""
    return find_ready_file(public_id, db.or_(File.owner_id == user.id, File.visible_to_everyone.is_(True)))


def change_file(user, public_id, name=None, visible=None, folder=None):
    """Rename one of the user's files, move it into another of their folders (`folder`, a folder id) and/or set
    whether every signed-in user may see it, in one transaction (a refusal changes nothing). The name follows
    the rules uploads do (types too), and one that the folder it ends up in already has is refused (Conflict),
    never numbered: the user chose it. Links, activity and previews follow the file, since they point at its
    id; its bytes keep their key."""
    file = get_file(user, public_id)
    new_name = uploads.clean_name(name) if name is not None else file.name
    target = folders.get_folder(user, folder) if folder is not None else None
    moving = target is not None and target.id != file.folder_id
    if new_name != file.name:
        uploads.check_type(new_name, file.content_type)  # no renaming past BLOCKED_TYPES / ALLOWED_TYPES
    if new_name != file.name or moving:
        folder_id = target.id if moving else file.folder_id
        folders.claim(folder_id, file.folder_id)
        if folders.name_taken(folder_id, new_name, file_id=file.id):
            db.session.rollback()
            raise Conflict(f"This folder already has something named {new_name}.", code="name_taken")
    if moving:
        destination = folders.path_of(target) or "the root folder"  # read before any change is flushed
        file.folder_id = target.id
        audit.record("move", owner_id=file.owner_id, actor=user, file=file, detail=f"to {destination}")
    if new_name != file.name:
        old_name, file.name, file.search_name = file.name, new_name, search_key(new_name)
        audit.record("rename", owner_id=file.owner_id, actor=user, file=file, detail=f"from {old_name}")
    if visible is not None and file.visible_to_everyone != visible:
        file.visible_to_everyone = visible
        audit.record("visibility_changed", owner_id=file.owner_id, actor=user, file=file,
                     detail="visible to everyone" if visible else "private")
    try:
        db.session.commit()
    except IntegrityError:  # the unique index: another file has (or just took) this name
        db.session.rollback()
        raise Conflict(f"This folder already has something named {new_name}.", code="name_taken") from None
    return file


def rename_file(user, public_id, name):
    return change_file(user, public_id, name=name)


def set_visibility(user, public_id, visible):
    """Let every signed-in user see and download one of the user's files, or make it private again."""
    return change_file(user, public_id, visible=visible)


def set_visibility_of(user, public_ids, visible):
    """Make many of the user's files visible to everyone (or private), all or none; returns how many changed."""
    public_ids = list(dict.fromkeys(public_ids))
    if not public_ids or len(public_ids) > folders.MAX_ITEMS:
        raise InvalidInput(f"Choose 1 to {folders.MAX_ITEMS:,} files.", code="invalid_items")
    chosen = [get_file(user, public_id) for public_id in public_ids]
    changed = [file for file in chosen if file.visible_to_everyone != visible]
    for file in changed:
        file.visible_to_everyone = visible
        audit.record("visibility_changed", owner_id=file.owner_id, actor=user, file=file,
                     detail="visible to everyone" if visible else "private")
    db.session.commit()
    return len(changed)


def download_link(user, public_id, inline=False):
    """A fresh signed URL for a file the user may read and when it stops working.

    `inline` asks for a URL the browser may show; only previewable files get one.
    """
    file = get_readable_file(user, public_id)
    expires = current_app.config["URL_EXPIRY"]
    url = storage_call(previews.signed_url, file, expires, inline=inline)
    audit.record("download", owner_id=file.owner_id, actor=user, file=file)
    db.session.commit()
    return url, utcnow() + timedelta(seconds=expires)


def download_links(user, public_ids):
    """download_link for many files at once: ([(public_id, url or LockerError)] in the order given, expiry).

    Each file is judged on its own (another user's private file is not found, a damaged one
    refused), and every download is recorded in one commit rather than one each: a folder of
    small files would otherwise spend more time committing than fetching.
    """
    if not isinstance(public_ids, list) or not 1 <= len(public_ids) <= MAX_DOWNLOAD_LINKS:
        raise InvalidInput(f"Send 1 to {MAX_DOWNLOAD_LINKS} file ids.", code="invalid_items")
    expires = current_app.config["URL_EXPIRY"]
    results, granted = [], []
    for public_id in public_ids:
        try:
            file = get_readable_file(user, public_id)
            results.append((public_id, storage_call(previews.signed_url, file, expires)))
            granted.append(file)
        except LockerError as error:
            results.append((public_id, error))
    # Recorded after every URL is signed: no storage call may come inside the write.
    for file in granted:
        audit.record("download", owner_id=file.owner_id, actor=user, file=file)
    db.session.commit()
    return results, utcnow() + timedelta(seconds=expires)


def purge(file_id, key, upload_id=None):
    """Delete a file's bytes (and abort its multipart upload, for an upload that never completed), then its row;
    keep the row marked if storage fails."""
    try:
        if upload_id:
            get_storage().abort_multipart(key, upload_id)
        get_storage().delete(key)
    except StorageError as error:
        log.warning("could not delete %s, will retry: %s", key, error)
        db.session.execute(db.update(File).where(File.id == file_id)
                           .values(delete_attempts=File.delete_attempts + 1))
        db.session.commit()
        return False
    db.session.execute(db.delete(File).where(File.id == file_id, File.status == FileStatus.DELETING))
    audit.forget_file(file_id)
    shares.forget_file(file_id)
    db.session.commit()
    return True


def retry_deletes(limit=None, owner_id=None):
    """Try again to delete files whose bytes could not be removed; returns (done, failed)."""
    query = db.select(File).filter_by(status=FileStatus.DELETING).order_by(File.id)
    if owner_id is not None:
        query = query.filter_by(owner_id=owner_id)
    if limit:
        query = query.limit(limit)
    done = failed = 0
    rows = db.session.execute(query.with_only_columns(File.id, File.storage_key, File.upload_id)).all()
    db.session.commit()  # no transaction stays open across the storage calls
    for file_id, key, upload_id in rows:
        if purge(file_id, key, upload_id):
            done += 1
        else:
            failed += 1
    return done, failed
