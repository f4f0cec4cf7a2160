from flask import g

from app.api import bp
from app.api.schemas import FileRequestCreate, FileRequests, NewFileRequest
from app.services import file_requests, guest_uploads


def request_payload(file_request, files_received=0, bytes_received=0, url=None):
    payload = {"public_id": file_request.public_id, "title": file_request.title, "message": file_request.message,
               "state": file_requests.state(file_request), "created_at": file_request.created_at,
               "expires_at": file_request.expires_at, "has_password": file_request.password_hash is not None,
               "max_files": file_request.max_files, "max_bytes": file_request.max_bytes,
               "files_used": file_request.files_used, "bytes_used": file_request.bytes_used,
               "files_received": files_received, "bytes_received": bytes_received}
    if url:
        payload["url"] = url
    return payload


@bp.post("/requests")
@bp.arguments(FileRequestCreate)
@bp.response(201, NewFileRequest)
def create_request(body):
    """Make an upload link (/r/…) anyone can send you files through: optional expiry, limits, password, message."""
    file_request, url = file_requests.create_request(
        g.api_user, body["title"], message=body.get("message"), expires_at=body.get("expires_at"),
        expires_in=body.get("expires_in"), max_files=body.get("max_files"), max_bytes=body.get("max_bytes"),
        password=body.get("password"))
    return request_payload(file_request, url=url)


@bp.get("/requests")
@bp.response(200, FileRequests)
def list_requests():
    """Your upload requests, newest first, with their state and what arrived (not their URLs: only hashes are kept)."""
    return {"items": [request_payload(*item) for item in file_requests.list_requests(g.api_user)]}


@bp.delete("/requests/<request_id>")
@bp.response(204)
def revoke_request(request_id):
    """Close an upload request at once, cancelling uploads still in progress through it; closing it again is fine."""
    guest_uploads.close_request(g.api_user, request_id)
