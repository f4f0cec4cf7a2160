"""Uploads by guests through an upload request, on the owner's behalf.

They are ordinary uploads (services.uploads: the owner's quota is reserved,
bytes go straight to storage, completion checks them) that also take a slot
on the request. A guest may act only on the uploads started in their own
visit: each upload row carries its visit's hash (visit_hash below), the caller
passes the hash of the current visit, and any other upload is as absent as a
missing one, so a guest never reaches the owner's other files or another
guest's uploads. Nothing about single uploads lives in the guest's cookie,
which therefore stays the same however many uploads run at once.
"""
import hashlib
import hmac

from app.errors import NotFound
from app.extensions import db
from app.models import File, FileStatus
from app.services import file_requests, folders, notices, uploads
from app.services.common import is_public_id
from app.services.quotas import QuotaExceeded


def visit_hash(secret, file_request):
    """What a browser's visit to a request is known by in the database.

    Keyed by the browser's random secret (kept in its session) and bound to the request, so the
    database holds no secret and cannot tell that two requests' uploads came from one browser.
    """
    return hmac.new(secret.encode(), file_request.public_id.encode(), hashlib.sha256).hexdigest()


def start(file_request, visit, name, size, content_type=None, sha256=None, part_checksums=False, guest_name=None):
    """Start an upload to the request's owner in the visit `visit` (a visit_hash); returns (file, signed
    request) as uploads.start_upload does."""
    guest_name = file_requests.clean_guest_name(guest_name)
    try:
        return uploads.start_upload(file_request.owner, name, size, content_type, sha256,
                                    part_checksums=part_checksums, file_request=file_request,
                                    guest_name=guest_name, visit_hash=visit,
                                    folder=folders.request_target(file_request))
    except QuotaExceeded:
        # The quota's own message speaks to the owner ("you have … left").
        raise QuotaExceeded("The person who asked for these files has no space left for this one. "
                            "Let them know, or send a smaller file.") from None


def visit_upload(file_request, public_id, visit):
    """A pending upload the visit `visit` started through this request, or NotFound."""
    if not is_public_id(public_id) or visit is None:
        raise NotFound("No such upload.")
    file = db.session.execute(db.select(File).filter_by(
        public_id=public_id, file_request_id=file_request.id, owner_id=file_request.owner_id,
        visit_hash=visit)).scalar_one_or_none()
    if file is None or file.status == FileStatus.DELETING:
        raise NotFound("No such upload.")
    return file


def sign_parts(file_request, public_id, visit, numbers, checksums=None):
    visit_upload(file_request, public_id, visit)
    return uploads.sign_parts(file_request.owner, public_id, numbers, checksums)


def uploaded_parts(file_request, public_id, visit):
    visit_upload(file_request, public_id, visit)
    return uploads.uploaded_parts(file_request.owner, public_id)


def complete(file_request, public_id, visit, parts=None, sha256=None):
    """The completed file; its `name` is the owner's (maybe numbered), `sent_name` the guest's."""
    visit_upload(file_request, public_id, visit)
    file = uploads.complete_upload(file_request.owner, public_id, parts, sha256)
    # complete_upload has committed: the notice (only queued, never failing) comes after.
    notices.files_arrived(file_request, file)
    return file


def abort(file_request, public_id, visit):
    visit_upload(file_request, public_id, visit)
    uploads.abort_upload(file_request.owner, public_id)


def visit_files(file_request, visit):
    """The files the visit `visit` has sent through the request (ready ones only), in the order they arrived."""
    if visit is None:
        return []
    return db.session.execute(db.select(File).filter(
        File.file_request_id == file_request.id, File.visit_hash == visit, File.status == FileStatus.READY)
        .order_by(File.created_at, File.id)).scalars().all()


def close_request(user, public_id):
    """Revoke an upload request and cancel its unfinished uploads, which no guest can complete any more.

    Without this they would hold the owner's quota (and the request's slots) until the sweeper expires them.
    """
    file_request = file_requests.revoke_request(user, public_id)
    uploads.cancel_pending(File.file_request_id == file_request.id)
