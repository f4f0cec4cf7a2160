"""Files: the upload flow, listing, download links and deletion.

An upload is a pending row plus a signed request that sends the bytes
straight to storage; completing it checks what storage holds before the file
becomes ready. Only ready files are listed or downloadable.
"""
import base64
import binascii
import json
import logging
import mimetypes
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import tuple_
from sqlalchemy.exc import IntegrityError

from app.errors import Conflict, InvalidInput, NotFound, TooLarge, Unavailable
from app.extensions import db
from app.formatting import human_size
from app.models import File, FileStatus, utcnow
from app.storage import StorageError, get_storage

log = logging.getLogger(__name__)

MAX_NAME_LENGTH = 255
# Characters no common file system accepts in a name; refusing them keeps every
# file downloadable to Windows, macOS and Linux alike.
FORBIDDEN_NAME_CHARACTERS = set('<>:"/\\|?*')
CONTENT_TYPE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
DOUBLE_EXTENSIONS = (".tar.gz", ".tar.bz2", ".tar.xz", ".tar.zst")
SORT_COLUMNS = {"date": File.created_at, "name": File.name, "size": File.size}
DEFAULT_ORDER = {"date": "desc", "name": "asc", "size": "desc"}
MAX_PAGE_SIZE = 1000
NAME_ATTEMPTS = 50
RETRIES_PER_DELETE = 10


def clean_name(name):
    """A display name safe to store and send back, or InvalidInput saying what is wrong."""
    if not isinstance(name, str):
        raise InvalidInput("Give the file a name.", code="invalid_name")
    name = unicodedata.normalize("NFC", name).strip()
    if not name:
        raise InvalidInput("Give the file a name.", code="invalid_name")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InvalidInput("File names can't contain control characters.", code="invalid_name")
    forbidden = sorted(FORBIDDEN_NAME_CHARACTERS.intersection(name))
    if forbidden:
        raise InvalidInput(f"File names can't contain any of < > : \" / \\ | ? * (this one has {' '.join(forbidden)}).",
                           code="invalid_name")
    if set(name) == {"."}:
        raise InvalidInput("A file name can't be only dots.", code="invalid_name")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"File names are at most {MAX_NAME_LENGTH} characters; this one has {len(name)}.",
                           code="invalid_name")
    return name


def clean_content_type(content_type, name):
    """The declared type without parameters, guessed from the name when absent."""
    if content_type is not None and not isinstance(content_type, str):
        raise InvalidInput("content_type must be a string such as 'application/pdf'.", code="invalid_content_type")
    content_type = (content_type or "").split(";")[0].strip().lower()
    if not content_type:
        return mimetypes.guess_type(name)[0] or "application/octet-stream"
    if not CONTENT_TYPE_PATTERN.match(content_type):
        raise InvalidInput(f"{content_type!r} is not a content type such as 'application/pdf'.",
                           code="invalid_content_type")
    return content_type


def check_size(size, name):
    if isinstance(size, bool) or not isinstance(size, int):
        raise InvalidInput("size must be the file's length in bytes.", code="invalid_size")
    if size <= 0:
        raise InvalidInput(f"{name} is empty; there is nothing to upload.", code="empty_file")
    limit = current_app.config["MAX_FILE_SIZE"]
    if size > limit:
        raise TooLarge(f"{name} is {human_size(size)}; files can be at most {human_size(limit)}.",
                       code="file_too_large")


def clean_sha256(sha256):
    if sha256 in (None, ""):
        return None
    if not isinstance(sha256, str) or not SHA256_PATTERN.match(sha256.lower()):
        raise InvalidInput("sha256 must be 64 hexadecimal digits.", code="invalid_sha256")
    return sha256.lower()


def storage_call(operation, *args, **kwargs):
    """Run a storage operation, turning an outage into a clear 503."""
    try:
        return operation(*args, **kwargs)
    except StorageError as error:
        log.warning("storage unavailable: %s", error)
        raise Unavailable("File storage is not reachable right now. Try again in a minute.",
                          code="storage_unavailable") from error


def start_upload(user, name, size, content_type=None, sha256=None):
    """Reserve a pending file and return it with the signed request that uploads its bytes."""
    name = clean_name(name)
    check_size(size, name)
    content_type = clean_content_type(content_type, name)
    sha256 = clean_sha256(sha256)
    file = File(public_id=uuid.uuid4().hex, owner_id=user.id, name=name, size=size,
                content_type=content_type, sha256=sha256, status=FileStatus.PENDING,
                storage_key=f"u/{user.id}/{uuid.uuid4().hex}")
    request = storage_call(get_storage().presign_upload, file.storage_key, size, content_type,
                           expires=current_app.config["UPLOAD_URL_EXPIRY"], sha256=sha256)
    db.session.add(file)
    db.session.commit()
    return file, request


def complete_upload(user, public_id):
    """Check what storage holds for a pending upload and make it a listed file."""
    file = db.session.execute(db.select(File).filter(
        File.public_id == public_id, File.owner_id == user.id,
        File.status.in_([FileStatus.PENDING, FileStatus.READY]))).scalar_one_or_none()
    if file is None:
        raise NotFound("No such upload.")
    if file.status == FileStatus.READY:
        raise Conflict("This upload is already complete.", code="already_completed")
    stored = storage_call(get_storage().stat, file.storage_key)
    if stored is None:
        raise Conflict("No bytes have arrived for this upload yet; send them to its upload URL first.",
                       code="upload_missing")
    if stored.size != file.size:
        discard(file)
        raise InvalidInput(f"Storage received {human_size(stored.size)} but {human_size(file.size)} "
                           "was declared, so the upload was discarded. Upload the file again.",
                           code="size_mismatch")
    if file.sha256 and stored.sha256 and stored.sha256 != file.sha256:
        discard(file)
        raise InvalidInput("The stored bytes do not match the declared SHA-256, so the upload was discarded.",
                           code="checksum_mismatch")
    # Only a digest storage computed is recorded; a client's claim alone proves nothing.
    return mark_ready(file, stored.sha256)


def discard(file):
    storage_call(get_storage().delete, file.storage_key)
    db.session.delete(file)
    db.session.commit()


def mark_ready(file, sha256):
    """Flip pending to ready under a name no other ready file of the owner has."""
    file_id, owner_id, wanted = file.id, file.owner_id, file.name
    for _ in range(NAME_ATTEMPTS):
        name = free_name(owner_id, wanted)
        try:
            changed = db.session.execute(
                db.update(File)
                .where(File.id == file_id, File.status == FileStatus.PENDING)
                .values(status=FileStatus.READY, name=name, sha256=sha256, created_at=utcnow())
            ).rowcount
            db.session.commit()
        except IntegrityError:
            # Another upload took this name between our look and our write: look again.
            db.session.rollback()
            continue
        if not changed:
            raise Conflict("This upload is already complete.", code="already_completed")
        db.session.expire_all()
        return db.session.get(File, file_id)
    raise Conflict("Could not find a free name for this file; rename it and try again.", code="name_conflict")


def split_extension(name):
    lowered = name.lower()
    for extension in DOUBLE_EXTENSIONS:
        if lowered.endswith(extension) and len(name) > len(extension):
            return name[:-len(extension)], name[-len(extension):]
    dot = name.rfind(".")
    if dot <= 0:
        return name, ""
    return name[:dot], name[dot:]


def free_name(owner_id, wanted):
    """`wanted`, or the first 'stem (n).ext' that no ready file of the owner uses."""
    stem, extension = split_extension(wanted)
    taken = set(db.session.execute(db.select(File.name).filter(
        File.owner_id == owner_id, File.status == FileStatus.READY,
        File.name.startswith(stem, autoescape=True))).scalars())
    if wanted not in taken:
        return wanted
    number = 1
    while True:
        suffix = f" ({number}){extension}"
        candidate = stem[:MAX_NAME_LENGTH - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        number += 1


@dataclass
class Page:
    items: list
    next_cursor: str | None
    prev_cursor: str | None
    sort: str
    order: str


def encode_cursor(sort, order, file, before=False):
    value = getattr(file, SORT_COLUMNS[sort].key)
    if isinstance(value, datetime):
        value = value.isoformat()
    payload = {"s": sort, "o": order, "v": value, "i": file.id, "b": before}
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor):
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        sort, order, value, file_id = payload["s"], payload["o"], payload["v"], int(payload["i"])
        if sort not in SORT_COLUMNS or order not in ("asc", "desc"):
            raise ValueError
        if sort == "date":
            value = datetime.fromisoformat(value)
        elif sort == "size":
            value = int(value)
        elif not isinstance(value, str):
            raise ValueError
        return sort, order, value, file_id, bool(payload.get("b"))
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("That page cursor is not valid; start again from the first page.",
                           code="invalid_cursor") from None


def list_files(user, sort="date", order=None, cursor=None, limit=50):
    """One page of the user's ready files, walked by keyset (never OFFSET).

    A cursor names the row a page starts after (or, for a previous page,
    ends before) and carries the sort, so following it keeps the order.
    """
    if cursor:
        sort, order, value, file_id, before = decode_cursor(cursor)
    else:
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
    query = db.select(File).filter(File.owner_id == user.id, File.status == FileStatus.READY)
    if cursor:
        key = tuple_(column, File.id)
        query = query.filter(key > tuple_(value, file_id) if ascending else key < tuple_(value, file_id))
    query = query.order_by(column.asc(), File.id.asc()) if ascending else query.order_by(column.desc(), File.id.desc())
    rows = db.session.execute(query.limit(limit + 1)).scalars().all()
    more = len(rows) > limit
    rows = rows[:limit]
    if before:
        rows.reverse()
        next_cursor = encode_cursor(sort, order, rows[-1]) if rows else None
        prev_cursor = encode_cursor(sort, order, rows[0], before=True) if rows and more else None
    else:
        next_cursor = encode_cursor(sort, order, rows[-1]) if rows and more else None
        prev_cursor = encode_cursor(sort, order, rows[0], before=True) if rows and cursor else None
    return Page(rows, next_cursor, prev_cursor, sort, order)


def get_file(user, public_id):
    """The user's ready file with this id; anyone else's is as absent as a missing one."""
    file = db.session.execute(db.select(File).filter_by(
        public_id=public_id, owner_id=user.id, status=FileStatus.READY)).scalar_one_or_none()
    if file is None:
        raise NotFound("No such file.")
    return file


def download_link(user, public_id):
    """A fresh signed URL for the file and when it stops working."""
    file = get_file(user, public_id)
    expires = current_app.config["URL_EXPIRY"]
    url = storage_call(get_storage().download_url, file.storage_key, file.name, file.content_type, expires=expires)
    return url, utcnow() + timedelta(seconds=expires)


def delete_file(user, public_id):
    """Unlist the file at once, then remove its bytes; a failed removal is retried later."""
    file = get_file(user, public_id)
    file.status = FileStatus.DELETING
    db.session.commit()
    if purge(file):
        # Storage answers again, so earlier deletes that failed can finish now.
        retry_deletes(limit=RETRIES_PER_DELETE, owner_id=user.id)


def purge(file):
    """Delete a file's bytes, then its row; keep the row marked if storage fails."""
    try:
        get_storage().delete(file.storage_key)
    except StorageError as error:
        log.warning("could not delete %s, will retry: %s", file.storage_key, error)
        file.delete_attempts += 1
        db.session.commit()
        return False
    db.session.delete(file)
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
    for file in db.session.execute(query).scalars().all():
        if purge(file):
            done += 1
        else:
            failed += 1
    return done, failed
