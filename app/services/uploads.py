"""The upload flow, the same for the browser, the CLI and the API.

1. start_upload checks the name, size, type and quota (reserving the bytes),
   makes a server-side key and a pending row, and says how to send the bytes:
   one signed PUT, or for large files a multipart upload whose part URLs are
   signed in batches (sign_parts) and which can be resumed (uploaded_parts).
2. The client sends the bytes straight to storage.
3. complete_upload joins the parts if needed and asks storage what it holds:
   only when the size (and any checksum) matches does the file become ready.
   Otherwise the bytes are dropped and the client is told why.
"""
import logging
import mimetypes
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from flask import current_app
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from app import metrics
from app.errors import Conflict, InvalidInput, LockerError, NotFound, TooLarge
from app.extensions import db
from app.formatting import human_size
from app.models import File, FileStatus, Folder, UploadPart, search_key, utcnow
from app.services import audit, file_requests, folders, previews, quotas
from app.services.common import is_public_id, storage_call
from app.services.names import MAX_NAME_LENGTH, NAME_PATTERN, clean_name  # noqa: F401  (the rules uploads apply)
from app.storage import StorageError, StoredPart, get_storage
from app.transactions import end_before_network_call

log = logging.getLogger(__name__)

MIN_FILE_SIZE = 1
CONTENT_TYPE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
NAME_ATTEMPTS = 50
MAX_PARTS = 10_000  # S3's limit, and so every backend's
MIB = 1024 * 1024
PART_URLS_PER_REQUEST = 1000
# Uploads one request may start or complete: a folder of small files in a few round trips.
MAX_BATCH = 100
# Storage lookups one batch completion has in flight at once (a stat and a read of the first bytes per file).
STORAGE_LOOKUPS_AT_ONCE = 8
# Listing an upload's parts is a storage call; the sweeper ends the rest after UPLOAD_TTL.
PENDING_LISTED = 50
# What cancel reads: it takes a File or a row of these columns, which a commit cannot expire.
PENDING_COLUMNS = (File.id, File.public_id, File.storage_key, File.upload_id, File.owner_id, File.size,
                   File.file_request_id)


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
    if size < MIN_FILE_SIZE:
        raise InvalidInput(f"{name} is empty; there is nothing to upload.", code="empty_file")
    limit = current_app.config["MAX_FILE_SIZE"]
    if size > limit:
        raise TooLarge(f"{name} is {human_size(size)}; files can be at most {human_size(limit)}.",
                       code="file_too_large")


def type_rule_matches(rule, name, content_type):
    """'.exe' matches by extension, 'video/*' or 'text/html' by content type."""
    if rule.startswith("."):
        return name.lower().endswith(rule)
    if rule.endswith("/*"):
        return content_type.startswith(rule[:-1])
    return content_type == rule


def check_type(name, content_type):
    """Refuse what BLOCKED_TYPES names, and, when ALLOWED_TYPES is set, whatever it doesn't."""
    config = current_app.config
    for rule in config["BLOCKED_TYPES"]:
        if type_rule_matches(rule, name, content_type):
            raise InvalidInput(f"{name}: files of type {rule} are not accepted here.", code="type_not_allowed")
    allowed = config["ALLOWED_TYPES"]
    if allowed and not any(type_rule_matches(rule, name, content_type) for rule in allowed):
        raise InvalidInput(f"{name}: only these types are accepted here: {', '.join(allowed)}.",
                           code="type_not_allowed")


def clean_sha256(sha256):
    if sha256 in (None, ""):
        return None
    if not isinstance(sha256, str) or not SHA256_PATTERN.match(sha256.lower()):
        raise InvalidInput("sha256 must be 64 hexadecimal digits.", code="invalid_sha256")
    return sha256.lower()


def part_size_for(size):
    """The configured part size, grown in whole MiB so that 10,000 parts always hold the file."""
    smallest = -(-size // MAX_PARTS)
    part_size = current_app.config["MULTIPART_PART_SIZE"]
    if part_size < smallest:
        part_size = -(-smallest // MIB) * MIB
    return part_size


def new_pending_file(user, name, size, content_type=None, sha256=None, part_checksums=False, visit_hash=None,
                     **columns):
    """A pending row (not yet added to the session) for an upload the rules accept, or the refusal."""
    name = clean_name(name)
    check_size(size, name)
    content_type = clean_content_type(content_type, name)
    check_type(name, content_type)
    file = File(public_id=uuid.uuid4().hex, owner_id=user.id, name=name, search_name=search_key(name), size=size,
                content_type=content_type, sha256=clean_sha256(sha256), status=FileStatus.PENDING,
                storage_key=f"u/{user.id}/{uuid.uuid4().hex}",
                # The name as the guest gave it: completion may number `name` to keep the
                # owner's names apart, and the guest must not see that (it reveals the owner's files).
                visit_hash=visit_hash, sent_name=name if visit_hash is not None else None, **columns)
    if size > current_app.config["MULTIPART_THRESHOLD"]:
        file.part_size = part_size_for(size)
        file.part_checksums = bool(part_checksums)
    return file


def start_upload(user, name, size, content_type=None, sha256=None, part_checksums=False, file_request=None,
                 guest_name=None, visit_hash=None, folder=None):
    """Reserve space for a pending file and say how to send its bytes.

    Returns (file, request): request is the signed PUT for a small file, or
    None for a multipart upload (see file.part_size and sign_parts). The file
    lands in `folder` (a Folder of the user's; the root if None). A guest's
    upload through `file_request` (owned by `user`) also takes one of its slots
    and belongs to the guest's visit `visit_hash`.
    """
    file = new_pending_file(user, name, size, content_type, sha256, part_checksums,
                            file_request_id=file_request.id if file_request is not None else None,
                            guest_name=guest_name, visit_hash=visit_hash,
                            folder_id=(folder or folders.root_folder(user.id)).id)
    name, content_type, sha256, multipart = file.name, file.content_type, file.sha256, bool(file.part_size)
    storage = get_storage()
    storage_call(storage.check_writable)
    # The reservation and the pending row are committed before storage is asked anything, so
    # a slow store never holds the database; if storage then fails, both are given back.
    try:
        quotas.reserve(user, size)
        if file_request is not None:
            file_requests.reserve(file_request, size, name)
        db.session.add(file)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    with counted_as_failed():
        if multipart:
            try:
                open_multipart(file, storage)
            except Exception:
                # An upload the store made before failing to answer is an orphan that `sweep` finds.
                try:
                    release_pending(file)
                except Conflict:
                    pass  # cancelled meanwhile, so already given back; the storage error is what to report
                raise
            request = None
        else:
            request = storage_call(storage.presign_upload, file.storage_key, size, content_type,
                                   expires=current_app.config["UPLOAD_URL_EXPIRY"], sha256=sha256)
    metrics.upload_started()
    return file, request


@contextmanager
def counted_as_failed():
    """A step of an upload already under way that raises counts it as failed, under the error's code."""
    try:
        yield
    except LockerError as error:
        metrics.upload_failed(error.code)
        raise
    except Exception:
        metrics.upload_failed("internal_error")
        raise


def open_multipart(file, storage):
    """Ask storage for the multipart upload of a committed pending row, and record its id."""
    upload_id = storage_call(storage.create_multipart, file.storage_key, file.content_type,
                             part_checksums=file.part_checksums, part_size=file.part_size)
    started = db.session.execute(db.update(File).where(File.id == file.id, File.status == FileStatus.PENDING)
                                 .values(upload_id=upload_id)).rowcount
    db.session.commit()
    if not started:  # cancelled (or swept) while storage was starting it
        storage_call(storage.abort_multipart, file.storage_key, upload_id)
        raise Conflict("This upload was cancelled while it started; start it again.", code="upload_gone")


def start_uploads(user, items):
    """Start several uploads of the user's own at once, all or none: [(file, request)] in the order given.

    `items` are dicts as POST /uploads takes them. The folders they go to are found (and
    made, for a `path`) first; then every item is checked and its space
    reserved in one transaction, so a refusal (raised with `index`, the item's position)
    leaves nothing reserved or made. Multipart items then ask storage, as start_upload
    does, after the commit; if storage fails for one, every upload of the batch is
    cancelled again, so a batch is never half made.
    """
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        raise InvalidInput(f"Send 1 to {MAX_BATCH} items.", code="invalid_items")
    storage_call(get_storage().check_writable)
    targets, found = [], {}  # a folder's files mostly share their target: it is looked up once
    for index, item in enumerate(items):
        wanted = repr((item.get("folder"), item.get("path")))
        try:
            if wanted not in found:
                found[wanted] = folders.upload_target(user, item.get("folder"), item.get("path"))
        except LockerError as error:
            error.index = index
            raise
        targets.append(found[wanted])
    made = []
    try:
        for index, item in enumerate(items):
            try:
                made.append(new_pending_file(user, item.get("name"), item.get("size"), item.get("content_type"),
                                             item.get("sha256"), item.get("part_checksums"),
                                             folder_id=targets[index].id))
            except LockerError as error:
                error.index = index
                raise
        # One conditional UPDATE for the batch, in this transaction (a concurrent batch waits for
        # its commit); only a batch that does not fit is reserved item by item, to refuse the
        # item that would pass the quota.
        try:
            quotas.reserve(user, sum(file.size for file in made))
        except quotas.QuotaExceeded:
            for index, file in enumerate(made):
                try:
                    quotas.reserve(user, file.size)
                except LockerError as error:
                    error.index = index
                    raise
        db.session.add_all(made)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    public_ids = [file.public_id for file in made]
    # One query reloads every row the commit expired, instead of one each.
    db.session.execute(db.select(File).filter(File.public_id.in_(public_ids))).scalars().all()
    storage = get_storage()
    started = []
    with counted_as_failed():
        for index, file in enumerate(made):
            try:
                if file.part_size:
                    open_multipart(file, storage)
                    started.append((file, None))
                else:
                    started.append((file, storage_call(storage.presign_upload, file.storage_key, file.size,
                                                       file.content_type,
                                                       expires=current_app.config["UPLOAD_URL_EXPIRY"],
                                                       sha256=file.sha256)))
            except LockerError as error:
                cancel_batch(public_ids)
                error.index = index
                raise
            except Exception:
                cancel_batch(public_ids)
                raise
    metrics.upload_started(len(made))
    return started


def cancel_batch(public_ids):
    """Give back a failed batch: every upload of it still pending is cancelled (its multipart aborted)."""
    db.session.rollback()
    cancel_pending(File.public_id.in_(public_ids))


def complete_uploads(user, items):
    """Complete several uploads, each on its own: [(public_id, file or LockerError)] in the order given.

    Completing one checks storage and lists the file, which cannot be undone when a later
    one fails, so each item succeeds or fails alone (another user's id is not_found).
    Storage is asked about every item first; then the files that passed are listed in one
    transaction, one commit for the batch (each commit is a disk flush: one per file was
    most of a batch's time on SQLite).
    """
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        raise InvalidInput(f"Send 1 to {MAX_BATCH} items.", code="invalid_items")
    # No check_writable here: completing writes no new object (the parts are stored), so a
    # store refusing new writes still completes them, as complete_upload does.
    results = [(item.get("id"), None) for item in items]
    found = pending_files(user, [item.get("id") for item in items])
    checked = []
    with ThreadPoolExecutor(max_workers=STORAGE_LOOKUPS_AT_ONCE, thread_name_prefix="locker-complete") as pool:
        asked = ask_storage_about(found.values(), pool)
        for position, item in enumerate(items):
            public_id = item.get("id")
            try:
                file = still_pending(found.get(public_id) if isinstance(public_id, str) else None)
                with counted_as_failed():
                    checked.append((position, file, check_upload(file, item.get("parts"), item.get("sha256"),
                                                                 asked.get(public_id))))
            except LockerError as error:
                db.session.rollback()
                results[position] = (public_id, error)
    for position, outcome in mark_ready_together(checked).items():
        results[position] = (results[position][0], outcome)
    return results


def mark_ready_together(checked):
    """{position: file or LockerError} for checked uploads [(position, file, (sha256, verified, type))], listed
    in one transaction, each folder claimed once. A name another upload took meanwhile (IntegrityError)
    sends them through mark_ready one at a time instead, which looks for a free name again."""
    outcomes = {}
    sizes = {position: file.size for position, file, _ in checked}
    try:
        folder_ids = {file.folder_id for _, file, _ in checked if file.folder_id}
        claimed = {folder.id: folder for folder in
                   db.session.execute(db.select(Folder).filter(Folder.id.in_(folder_ids))).scalars()}
        # A file without a (live) folder of its own lands in the root, claimed with the rest: all in id
        # order, as moves and the counts trigger take folders, so none of them waits on another in a circle.
        roots = {folders.root_folder(file.owner_id).id for _, file, _ in checked if file.folder_id not in claimed}
        folders.claim(*claimed, *roots)
        for position, file, facts in checked:
            if not mark_ready_once(file, *facts, claimed=claimed):
                outcomes[position] = Conflict("This upload is already complete.", code="already_completed")
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        outcomes = {}
        for position, file, facts in checked:
            try:
                outcomes[position] = mark_ready(file, *facts)
            except LockerError as error:
                db.session.rollback()
                outcomes[position] = error
    else:
        ids = {file.id: position for position, file, _ in checked if position not in outcomes}
        db.session.expire_all()
        for file in db.session.execute(db.select(File).filter(File.id.in_(ids))).scalars():
            outcomes[ids[file.id]] = file
    for position, outcome in outcomes.items():
        if isinstance(outcome, LockerError):
            metrics.upload_failed(outcome.code)
        else:
            metrics.upload_completed(sizes[position])
    return outcomes


def ask_storage_about(files, pool):
    """{public_id: (Future of its stat, Future of its sniffed type)} for the pending single-PUT uploads among
    `files`, asked of a remote store all at once in `pool`.

    A batch of small files is mostly these round trips; one after the other they took
    30 ms a file on S3. On local disk both take microseconds, so nothing is asked ahead.
    """
    storage = get_storage()
    if not storage.remote:
        return {}
    files = [(file.public_id, file.storage_key, file.size) for file in files
             if file.status == FileStatus.PENDING and not file.upload_id]
    end_before_network_call()  # the pool's threads have no app context to end this read themselves
    return {public_id: (pool.submit(storage.stat, key), pool.submit(previews.stored_type, key, size, storage))
            for public_id, key, size in files}


def pending_files(user, public_ids):
    """{public_id: File} for the user's uploads among `public_ids` that are pending or ready, in one query."""
    wanted = [public_id for public_id in public_ids if isinstance(public_id, str) and is_public_id(public_id)]
    if not wanted:
        return {}
    return {file.public_id: file for file in db.session.execute(db.select(File).filter(
        File.public_id.in_(wanted), File.owner_id == user.id,
        File.status.in_([FileStatus.PENDING, FileStatus.READY]))).scalars()}


def still_pending(file):
    """The file pending_files found, refused when there is none or it is complete already."""
    if file is None:
        raise NotFound("No such upload.")
    if file.status == FileStatus.READY:
        raise Conflict("This upload is already complete.", code="already_completed")
    return file


def pending_upload(user, public_id):
    return still_pending(pending_files(user, [public_id]).get(public_id))


def multipart_upload(user, public_id):
    file = pending_upload(user, public_id)
    if not file.upload_id:
        raise InvalidInput("This upload is a single PUT; it has no parts.", code="not_multipart")
    return file


def clean_part_numbers(file, numbers):
    if (not isinstance(numbers, list) or not numbers
            or any(isinstance(n, bool) or not isinstance(n, int) for n in numbers)):
        raise InvalidInput("numbers must be a list of part numbers.", code="invalid_parts")
    if len(numbers) > PART_URLS_PER_REQUEST:
        raise InvalidInput(f"Ask for at most {PART_URLS_PER_REQUEST} parts at a time.", code="invalid_parts")
    outside = [n for n in numbers if not 1 <= n <= file.part_count]
    if outside:
        raise InvalidInput(f"This upload has parts 1 to {file.part_count}; there is no part {outside[0]}.",
                           code="invalid_parts")
    return sorted(set(numbers))


def sign_parts(user, public_id, numbers, checksums=None):
    """Signed PUTs for the given parts, each pinned to its exact size (and checksum, when required)."""
    file = multipart_upload(user, public_id)
    numbers = clean_part_numbers(file, numbers)
    checksums = checksums if isinstance(checksums, dict) else {}
    digests = {}
    for number in numbers:
        digests[number] = clean_sha256(checksums.get(str(number)))
        if file.part_checksums and not digests[number]:
            raise InvalidInput(f"This upload checks every part: send part {number}'s sha256 in checksums.",
                               code="part_checksum_required")
    # Refused here, a part is not sent at all, rather than held by the store and failed.
    storage_call(get_storage().check_writable)
    if file.part_checksums:
        record_part_checksums(file.id, digests)
    signed = []
    for number in numbers:
        request = storage_call(get_storage().presign_part, file.storage_key, file.upload_id, number,
                               file.expected_part_size(number), expires=current_app.config["UPLOAD_URL_EXPIRY"],
                               sha256=digests[number])
        signed.append({"number": number, "url": request.url, "headers": request.headers,
                       "size": file.expected_part_size(number)})
    return signed


def record_part_checksums(file_id, digests):
    """Keep the digests parts are signed with (the latest signing of a part wins): completion sends them."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(UploadPart).values([{"file_id": file_id, "number": number, "sha256": digest}
                                           for number, digest in digests.items()])
    db.session.execute(statement.on_conflict_do_update(index_elements=[UploadPart.file_id, UploadPart.number],
                                                       set_={"sha256": statement.excluded.sha256}))
    db.session.commit()


def signed_part_checksums(file):
    return dict(db.session.execute(db.select(UploadPart.number, UploadPart.sha256)
                                   .filter_by(file_id=file.id)).all())


def uploaded_parts(user, public_id):
    """The parts storage holds so far, for resuming an interrupted upload."""
    file = multipart_upload(user, public_id)
    return file, stored_parts_of(file)


def stored_parts_of(file):
    parts = storage_call(get_storage().list_parts, file.storage_key, file.upload_id)
    if parts is None:
        raise Conflict("This upload was cancelled or has expired; start it again.", code="upload_gone")
    return parts


def clean_completed_parts(file, parts):
    """The parts the client says it sent, as {number: etag}, covering the whole file in order."""
    if (not isinstance(parts, list)
            or any(not isinstance(p, dict) or isinstance(p.get("number"), bool) or not isinstance(p.get("number"), int)
                   or not isinstance(p.get("etag"), str) for p in parts)):
        raise InvalidInput('parts must be a list of {"number", "etag"} for every part.', code="invalid_parts")
    numbers = [p["number"] for p in parts]
    if numbers != list(range(1, file.part_count + 1)):
        raise InvalidInput(f"List all {file.part_count} parts, numbered from 1, in order.", code="invalid_parts")
    return {p["number"]: p["etag"].strip('"').lower() for p in parts}


def join_parts(file, claimed):
    """Check every stored part against what the client sent and the sizes the upload needs, then join them.

    Returns the joined object's ObjectInfo.
    """
    signed = signed_part_checksums(file) if file.part_checksums else {}
    stored = {part.number: part for part in stored_parts_of(file)}
    joined = []
    for number in range(1, file.part_count + 1):
        part = stored.get(number)
        if part is None:
            raise InvalidInput(f"Part {number} has not arrived yet; send it, then complete again.",
                               code="part_missing")
        if claimed is not None and claimed[number] != part.etag.lower():
            raise InvalidInput(f"Part {number} in storage is not the one you sent (its ETag differs).",
                               code="part_mismatch")
        if part.size != file.expected_part_size(number):
            raise InvalidInput(f"Part {number} is {part.size} bytes; it must be {file.expected_part_size(number)}.",
                               code="part_size_mismatch")
        # An upload created with part checksums must be completed with them, and not every store
        # lists them back (SeaweedFS doesn't): send the ones the parts were signed with.
        sha256 = (signed.get(number) or part.sha256) if file.part_checksums else None
        if file.part_checksums and not sha256:
            raise InvalidInput(f"Part {number} was not signed with a checksum; ask for its URL again and resend it.",
                               code="part_checksum_required")
        joined.append(StoredPart(part.number, part.size, part.etag, sha256))
    return storage_call(get_storage().complete_multipart, file.storage_key, file.upload_id, joined)


def complete_upload(user, public_id, parts=None, sha256=None):
    """Check what storage holds for a pending upload and make it a listed file.

    For multipart uploads, `parts` ({"number", "etag"} for every part) is
    checked against what storage holds; without it, the stored parts are used.
    `sha256` may be declared here, when the client hashed while sending.
    """
    file = pending_upload(user, public_id)
    size = file.size
    with counted_as_failed():
        completed = mark_ready(file, *check_upload(file, parts, sha256))
    metrics.upload_completed(size)
    return completed


def check_upload(file, parts, sha256, asked=None):
    """What storage holds for a pending upload of the caller's, checked: (sha256, verified, sniffed type).

    `asked`: for a single PUT, what ask_storage_about already asked storage.
    """
    declared = clean_sha256(sha256)
    if declared and file.sha256 and declared != file.sha256:
        raise InvalidInput("This sha256 differs from the one declared when the upload started.",
                           code="checksum_mismatch")
    declared = declared or file.sha256
    storage = get_storage()
    with ThreadPoolExecutor(max_workers=1) as pool:
        reading = None
        if file.upload_id:
            stored = join_parts(file, None if parts is None else clean_completed_parts(file, parts))
        elif asked is not None:
            statting, reading = asked
            stored = storage_call(statting.result)
        else:
            if storage.remote:
                # The first bytes (for the type) are asked for alongside the stat: two round trips
                # in the time of one, and a folder of small files is mostly round trips. On local
                # disk both take microseconds, and a second thread would only wait for the GIL.
                reading = pool.submit(previews.stored_type, file.storage_key, file.size, storage)
            stored = storage_call(storage.stat, file.storage_key)
        check_stored(file, stored, declared)
        sniffed_type = previews.type_or_none(file.storage_key, file.size, reading)
    # A digest storage computed is proof; one only the client declared is recorded as such.
    return stored.sha256 or declared, stored.sha256 is not None, sniffed_type


def check_stored(file, stored, declared):
    """Refuse (and for a wrong size or digest, discard) an upload whose stored bytes are not what was declared."""
    if stored is None:
        raise Conflict("No bytes have arrived for this upload yet; send them to its upload URL first.",
                       code="upload_missing")
    if stored.size != file.size:
        cancel(file)
        raise InvalidInput(f"Storage received {human_size(stored.size)} but {human_size(file.size)} "
                           "was declared, so the upload was discarded. Upload the file again.",
                           code="size_mismatch")
    if declared and stored.sha256 and stored.sha256 != declared:
        cancel(file)
        raise InvalidInput("The stored bytes do not match the declared SHA-256, so the upload was discarded.",
                           code="checksum_mismatch")


def abort_upload(user, public_id):
    """Cancel a pending upload: its parts or bytes go and its reserved space comes back."""
    cancel(pending_upload(user, public_id))


def cancel_pending(*conditions):
    """Cancel the pending uploads that meet `conditions`, read in one query; returns the public ids cancelled.

    One completed, or cancelled elsewhere, since the query is passed over.
    """
    pending = db.session.execute(
        db.select(*PENDING_COLUMNS).filter(File.status == FileStatus.PENDING, *conditions)).all()
    cancelled = []
    for row in pending:
        try:
            cancel(row)
        except Conflict:
            continue
        cancelled.append(row.public_id)
    return cancelled


def cancel(file):
    """Drop a pending upload (a File, or a row of PENDING_COLUMNS): its row and reservations, then its bytes.

    The row goes first, so a concurrent completion cannot also win.
    """
    key, upload_id = file.storage_key, file.upload_id
    release_pending(file)
    # What storage fails to drop now, the sweeper finds later as an orphan.
    storage = get_storage()
    try:
        if upload_id:
            storage.abort_multipart(key, upload_id)
        storage.delete(key)
    except StorageError as error:
        log.warning("could not drop bytes of cancelled upload %s: %s", key, error)


def release_pending(file):
    """Remove a pending upload's row and give back what it reserved, in one committed transaction."""
    owner_id, size, request_id = file.owner_id, file.size, file.file_request_id
    removed = db.session.execute(
        db.delete(File).where(File.id == file.id, File.status == FileStatus.PENDING)).rowcount
    if not removed:
        db.session.rollback()
        raise Conflict("This upload is already complete.", code="already_completed")
    db.session.execute(db.delete(UploadPart).where(UploadPart.file_id == file.id))
    quotas.release(owner_id, size)
    if request_id is not None:
        file_requests.release(request_id, size)
    db.session.commit()


def mark_ready(file, sha256, verified, sniffed_type):
    """Flip pending to ready in its folder, under a name nothing else there has (numbered if need be).

    A folder deleted while the upload ran is in the trash: the file joins it there, so restoring
    the folder brings it back too; one whose folder is gone for good lands in the root.
    """
    file_id = file.id
    for _ in range(NAME_ATTEMPTS):
        try:
            changed = mark_ready_once(file, sha256, verified, sniffed_type)
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


def mark_ready_once(file, sha256, verified, sniffed_type, claimed=None):
    """mark_ready's writes, left for the caller to commit: whether the upload was still pending.

    `claimed`: {folder id: Folder} the caller has loaded and claimed already (mark_ready_together).
    IntegrityError: another upload took the free name found, between the look and the write.
    """
    file_id, owner_id, wanted, multipart = file.id, file.owner_id, file.name, file.upload_id is not None
    if claimed is not None and file.folder_id in claimed:
        folder = claimed[file.folder_id]
    else:
        folder = db.session.get(Folder, file.folder_id) if file.folder_id else None
        folder = folder or folders.root_folder(owner_id)
        folders.claim(folder.id)
    name = folders.free_name(folder.id, wanted)
    values = dict(status=FileStatus.READY, folder_id=folder.id, name=name, search_name=search_key(name),
                  sha256=sha256, sha256_verified=verified, sniffed_type=sniffed_type, upload_id=None,
                  created_at=utcnow())
    if folder.trashed_at is not None:
        values.update(status=FileStatus.TRASHED, trashed_at=folder.trashed_at,
                      trashed_with_id=folder.trashed_with_id or folder.id)
    # Not synchronized with the session (that walks every File it holds, for each of a batch's
    # files); the one attribute read before the commit, the name the event gives, is set here.
    changed = db.session.execute(
        db.update(File).where(File.id == file_id, File.status == FileStatus.PENDING).values(**values),
        execution_options={"synchronize_session": False}).rowcount
    if changed:
        set_committed_value(file, "name", name)
    if multipart:  # only a multipart upload has part rows
        db.session.execute(db.delete(UploadPart).where(UploadPart.file_id == file_id))
    if changed and file.file_request_id is not None:
        audit.record("guest_upload", owner_id=owner_id, actor_name=file.guest_name or "guest", file=file,
                     file_request=file.file_request)
    elif changed:
        # The update refreshed file.name, so the event names the file as it is listed.
        audit.record("upload", owner_id=owner_id, actor=file.owner, file=file)
    return changed


def pending_uploads(user, limit=PENDING_LISTED):
    """The user's newest unfinished uploads, with how much of each has arrived (one storage call each)."""
    files = db.session.execute(db.select(File).filter_by(owner_id=user.id, status=FileStatus.PENDING)
                               .order_by(File.created_at.desc(), File.id.desc()).limit(limit)).scalars().all()
    result = []
    for file in files:
        parts = storage_call(get_storage().list_parts, file.storage_key, file.upload_id) if file.upload_id else None
        result.append((file, parts or []))
    return result
