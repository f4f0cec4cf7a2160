"""Upload requests: /r/<token> lets anyone with the link send files to its owner.

A request may expire, need a password, and accept only so many files or
bytes. Every upload started through it reserves one file and its size on the
request with one conditional UPDATE (the same way quotas work), so guests
racing for the last slot cannot together pass the limits; a cancelled, failed
or expired upload gives its reservation back. Guest uploads themselves are in
services.guest_uploads.
"""
from sqlalchemy.orm import selectinload

from app.errors import Conflict, InvalidInput, LockerError
from app.extensions import db
from app.formatting import human_size
from app.models import File, FileRequest, FileStatus, utcnow
from app.services import audit, folders, links
from app.services.common import public_link
from app.text import is_plain_text

MAX_TITLE_LENGTH = 200
MAX_MESSAGE_LENGTH = 1000
MAX_GUEST_NAME_LENGTH = 100
MAX_FILES = 100_000
MAX_BYTES = 2 ** 63 - 1
ENDED_MESSAGES = {
    "revoked": "This upload link was closed by its owner.",
    "expired": "This upload link has expired.",
}


class RequestEnded(LockerError):
    """The link exists but takes no more files."""

    status, code = 410, "request_ended"


class RequestFull(LockerError):
    """Every file slot (or byte) the owner allowed is taken."""

    status, code = 409, "request_full"


def state(file_request, now=None):
    """revoked, expired, full (no file slot or byte left) or open."""
    now = now or utcnow()
    if file_request.revoked_at is not None:
        return "revoked"
    if file_request.expires_at is not None and file_request.expires_at <= now:
        return "expired"
    if ((file_request.max_files is not None and file_request.files_used >= file_request.max_files)
            or (file_request.max_bytes is not None and file_request.bytes_used >= file_request.max_bytes)):
        return "full"
    return "open"


def clean_guest_name(name):
    """The name a guest gives (optional): plain text on one line, at most 100 characters."""
    if name is None or (isinstance(name, str) and not name.strip()):
        return None
    if not isinstance(name, str) or not is_plain_text(name):
        raise InvalidInput("Your name can't contain control characters, line breaks or text-direction overrides.",
                           code="invalid_guest_name")
    name = name.strip()
    if len(name) > MAX_GUEST_NAME_LENGTH:
        raise InvalidInput(f"Your name can be at most {MAX_GUEST_NAME_LENGTH} characters; this one has {len(name)}.",
                           code="invalid_guest_name")
    return name


def create_request(user, title, message=None, expires_at=None, expires_in=None, max_files=None, max_bytes=None,
                   password=None, folder=None):
    """A new upload link; returns the request and its URL (kept encrypted, so its owner can copy it again).

    Files sent through it arrive in `folder` (one of the user's folder ids; the root folder if None).
    """
    title = links.clean_text(title, "title", MAX_TITLE_LENGTH)
    if title is None:
        raise InvalidInput("Give the request a title.", code="invalid_title")
    file_request, token = links.new(
        FileRequest, user, title=title,
        message=links.clean_text(message, "message", MAX_MESSAGE_LENGTH, multiline=True),
        expires_at=links.parse_expiry(expires_at, expires_in),
        max_files=links.clean_limit(max_files, "max_files", MAX_FILES, "files"),
        max_bytes=links.clean_limit(max_bytes, "max_bytes", MAX_BYTES, "bytes"),
        password_hash=links.password_hash(password), folder_id=delivery_folder_id(user, folder))
    audit.record("request_created", owner_id=user.id, actor=user, file_request=file_request)
    db.session.commit()
    return file_request, request_url(token)


def delivery_folder_id(user, folder):
    """The folder a request delivers into, as stored: NULL for the root (the default, also if a folder goes)."""
    target = folders.get_folder(user, folder)
    return None if target.is_root else target.id


def request_url(token):
    return public_link("file_requests.show_request", token)


def link_url(file_request):
    """The upload link for its owner to copy again, or None when Locker can't show it (see links.recover_token)."""
    token = links.recover_token(file_request)
    return request_url(token) if token else None


def editable_request(user, public_id):
    """One of the user's requests that still takes files (or is full), so its settings may change."""
    file_request = links.owned(FileRequest, user, public_id, "No such upload request.")
    refuse_ended(file_request)
    return file_request


def refuse_ended(file_request):
    current = state(file_request)
    if current in ENDED_MESSAGES:
        raise Conflict(f"{ENDED_MESSAGES[current]} Its settings can't be changed any more; make a new request "
                       "instead.", code="request_ended")


def update_request(user, public_id, title=links.UNCHANGED, message=links.UNCHANGED, expires_at=links.UNCHANGED,
                   expires_in=links.UNCHANGED, max_files=links.UNCHANGED, max_bytes=links.UNCHANGED,
                   password=links.UNCHANGED, folder=links.UNCHANGED):
    """Change an open request's title, message, expiry, limits or password, by the rules a new request's follow.

    Returns the request and what changed, in words. A limit may not go below what uploads have already taken
    (at it, the request is full).
    """
    file_request = editable_request(user, public_id)
    values, changed = links.expiry_and_password_changes(file_request, expires_at, expires_in, password)
    if title is not links.UNCHANGED:
        cleaned = links.clean_text(title, "title", MAX_TITLE_LENGTH)
        if cleaned is None:
            raise InvalidInput("Give the request a title.", code="invalid_title")
        links.note_change(file_request, values, changed, "title", cleaned, "title")
    if message is not links.UNCHANGED:
        links.note_change(file_request, values, changed, "message",
                          links.clean_text(message, "message", MAX_MESSAGE_LENGTH, multiline=True), "message")
    if max_files is not links.UNCHANGED:
        links.note_change(file_request, values, changed, "max_files",
                          links.clean_limit(max_files, "max_files", MAX_FILES, "files"), "most files")
    if max_bytes is not links.UNCHANGED:
        links.note_change(file_request, values, changed, "max_bytes",
                          links.clean_limit(max_bytes, "max_bytes", MAX_BYTES, "bytes"), "most total size")
    if folder is not links.UNCHANGED:
        links.note_change(file_request, values, changed, "folder_id", delivery_folder_id(user, folder),
                          "where files arrive")
    refuse_below_use(file_request, values)
    if not values:
        return file_request, []
    within_limits = [used <= values[limit] for limit, used in (("max_files", FileRequest.files_used),
                                                                ("max_bytes", FileRequest.bytes_used))
                     if values.get(limit) is not None]
    if not links.update_if_live(file_request, values, *within_limits):
        # A revocation, the expiry or a guest's upload came between our look and our write.
        db.session.rollback()
        refuse_ended(file_request)
        refuse_below_use(file_request, values)
        raise Conflict("This request changed while you were changing it; look at it again and retry.",
                       code="request_changed_meanwhile")
    audit.record("request_changed", owner_id=user.id, actor=user, file_request=file_request,
                 detail=", ".join(changed))
    db.session.commit()
    return file_request, changed


def refuse_below_use(file_request, values):
    if values.get("max_files") is not None and values["max_files"] < file_request.files_used:
        used = file_request.files_used
        raise InvalidInput(f"This request has already taken {used:,} file{'s' if used != 1 else ''} (unfinished "
                           f"uploads included), so it can't accept fewer than {used:,}.", code="invalid_max_files")
    if values.get("max_bytes") is not None and values["max_bytes"] < file_request.bytes_used:
        raise InvalidInput(f"This request has already taken {human_size(file_request.bytes_used)} (unfinished "
                           "uploads included), so its size limit can't be smaller than that.", code="invalid_max_bytes")


def list_requests(user):
    """The user's requests, newest first, each with (files received, bytes received) of its ready files."""
    received = (db.select(File.file_request_id, db.func.count(File.id), db.func.coalesce(db.func.sum(File.size), 0))
                .join(FileRequest, FileRequest.id == File.file_request_id)
                .filter(FileRequest.owner_id == user.id, File.status == FileStatus.READY)
                .group_by(File.file_request_id))
    totals = {request_id: (count, size) for request_id, count, size in db.session.execute(received)}
    requests = db.session.execute(db.select(FileRequest).filter_by(owner_id=user.id).options(
        selectinload(FileRequest.folder)).order_by(FileRequest.created_at.desc(), FileRequest.id.desc())).scalars().all()
    return [(file_request, *totals.get(file_request.id, (0, 0))) for file_request in requests]


def deliveries(user, requests):
    """{request id: (the folder its files arrive in, that folder's path)} for the user's requests, in a few
    queries however many there are (a list of requests shows them all)."""
    root = folders.root_folder(user.id)
    targets = {item.id: folders.request_target(item, root) for item in requests}
    paths = folders.paths_of({folder.id for folder in targets.values()})
    return {request_id: (folder, paths.get(folder.id, "")) for request_id, folder in targets.items()}


def received_by(file_request):
    """(files received, bytes received): its ready files."""
    return tuple(db.session.execute(
        db.select(db.func.count(File.id), db.func.coalesce(db.func.sum(File.size), 0))
        .filter(File.file_request_id == file_request.id, File.status == FileStatus.READY)).one())


def revoke_request(user, public_id):
    """Close a link at once and return it; closing twice is fine (and recorded once)."""
    file_request = links.owned(FileRequest, user, public_id, "No such upload request.")
    if links.revoke(file_request):
        audit.record("request_revoked", owner_id=user.id, actor=user, file_request=file_request)
    db.session.commit()
    return file_request


def open_request(token):
    """The request a public link names, or NotFound / RequestEnded (410). A full request still opens."""
    file_request = links.by_token(FileRequest, token, "No such upload link.")
    if not file_request.owner.is_active:
        # A disabled account (or one being deleted) takes no files; enabling it opens the link again.
        raise RequestEnded("This upload link is not available: its owner's account is disabled.")
    current = state(file_request)
    if current in ENDED_MESSAGES:
        raise RequestEnded(ENDED_MESSAGES[current])
    return file_request


def reserve(file_request, size, name):
    """Take one file slot and `size` bytes of the request, in the caller's transaction, or refuse saying why."""
    now = utcnow()
    taken = db.session.execute(
        db.update(FileRequest).where(
            FileRequest.id == file_request.id, FileRequest.revoked_at.is_(None),
            db.or_(FileRequest.expires_at.is_(None), FileRequest.expires_at > now),
            db.or_(FileRequest.max_files.is_(None), FileRequest.files_used + 1 <= FileRequest.max_files),
            db.or_(FileRequest.max_bytes.is_(None), FileRequest.bytes_used + size <= FileRequest.max_bytes))
        .values(files_used=FileRequest.files_used + 1, bytes_used=FileRequest.bytes_used + size)).rowcount
    if taken:
        return
    current = db.session.execute(db.select(FileRequest.revoked_at, FileRequest.expires_at, FileRequest.max_files,
                                           FileRequest.files_used, FileRequest.max_bytes, FileRequest.bytes_used)
                                 .filter_by(id=file_request.id)).one()
    if current.revoked_at is not None:
        raise RequestEnded(ENDED_MESSAGES["revoked"])
    if current.expires_at is not None and current.expires_at <= now:
        raise RequestEnded(ENDED_MESSAGES["expired"])
    if current.max_files is not None and current.files_used >= current.max_files:
        raise RequestFull(f"This request accepts {current.max_files} file{'s' if current.max_files != 1 else ''} "
                          "and has received them all, so it takes no more.")
    left = max(current.max_bytes - current.bytes_used, 0)
    raise RequestFull(f"{name} is {human_size(size)}, but this request has only {human_size(left)} of space left.",
                      code="request_too_large", status=413)


def release(file_request_id, size):
    """Give one file slot and `size` bytes back, in the caller's transaction."""
    db.session.execute(db.update(FileRequest).where(FileRequest.id == file_request_id)
                       .values(files_used=FileRequest.files_used - 1, bytes_used=FileRequest.bytes_used - size))
