"""Uploads by guests through an upload request, on the owner's behalf.

They are ordinary uploads (services.uploads: the owner's quota is reserved,
bytes go straight to storage, completion checks them) that also take a slot
on the request. A guest may act only on the uploads started in their own
visit: the caller passes the ids of those (kept in the guest's session), and
any other id is as absent as a missing one, so a guest never reaches the
owner's other files or another guest's uploads.
"""
from app.errors import NotFound
from app.extensions import db
from app.models import File, FileStatus
from app.services import file_requests, uploads
from app.services.common import is_public_id
from app.services.quotas import QuotaExceeded


def start(file_request, name, size, content_type=None, sha256=None, part_checksums=False, guest_name=None):
    """Start an upload to the request's owner; returns (file, signed request) as uploads.start_upload does."""
    guest_name = file_requests.clean_guest_name(guest_name)
    try:
        return uploads.start_upload(file_request.owner, name, size, content_type, sha256,
                                    part_checksums=part_checksums, file_request=file_request, guest_name=guest_name)
    except QuotaExceeded:
        # The quota's own message speaks to the owner ("you have … left").
        raise QuotaExceeded("The person who asked for these files has no space left for this one. "
                            "Let them know, or send a smaller file.") from None


def visit_upload(file_request, public_id, visit_ids):
    """A pending upload this visit started through this request, or NotFound."""
    if not is_public_id(public_id):
        raise NotFound("No such upload.")
    file = db.session.execute(db.select(File).filter_by(public_id=public_id, file_request_id=file_request.id,
                                                        owner_id=file_request.owner_id)).scalar_one_or_none()
    if file is None or file.id not in visit_ids or file.status == FileStatus.DELETING:
        raise NotFound("No such upload.")
    return file


def sign_parts(file_request, public_id, visit_ids, numbers, checksums=None):
    visit_upload(file_request, public_id, visit_ids)
    return uploads.sign_parts(file_request.owner, public_id, numbers, checksums)


def uploaded_parts(file_request, public_id, visit_ids):
    visit_upload(file_request, public_id, visit_ids)
    return uploads.uploaded_parts(file_request.owner, public_id)


def complete(file_request, public_id, visit_ids, parts=None, sha256=None):
    visit_upload(file_request, public_id, visit_ids)
    return uploads.complete_upload(file_request.owner, public_id, parts, sha256)


def abort(file_request, public_id, visit_ids):
    visit_upload(file_request, public_id, visit_ids)
    uploads.abort_upload(file_request.owner, public_id)


def visit_files(file_request, visit_ids):
    """The files this visit has sent through the request (ready ones only), in the order they arrived."""
    if not visit_ids:
        return []
    return db.session.execute(db.select(File).filter(
        File.file_request_id == file_request.id, File.status == FileStatus.READY, File.id.in_(visit_ids))
        .order_by(File.created_at, File.id)).scalars().all()


def close_request(user, public_id):
    """Revoke an upload request and cancel its unfinished uploads, which no guest can complete any more.

    Without this they would hold the owner's quota (and the request's slots) until the sweeper expires them.
    """
    file_request = file_requests.revoke_request(user, public_id)
    uploads.cancel_pending(File.file_request_id == file_request.id)
