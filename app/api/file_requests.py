from flask import g

from app.api import bp
from app.api.schemas import FileRequestCreate, FileRequests, FileRequestUpdate, ListedFileRequest, NewFileRequest
from app.services import file_requests, guest_uploads


def request_payload(file_request, files_received, bytes_received, url, delivery=None):
    """The request as FileRequestInfo reads it; `delivery` is its entry of file_requests.deliveries (looked up if None)."""
    payload = {"public_id": file_request.public_id, "title": file_request.title, "message": file_request.message,
               "state": file_requests.state(file_request), "created_at": file_request.created_at,
               "expires_at": file_request.expires_at, "has_password": file_request.password_hash is not None,
               "max_files": file_request.max_files, "max_bytes": file_request.max_bytes,
               "files_used": file_request.files_used, "bytes_used": file_request.bytes_used,
               "files_received": files_received, "bytes_received": bytes_received}
    folder, folder_path = delivery or file_requests.deliveries(g.api_user, [file_request])[file_request.id]
    payload.update(folder=folder.public_id, folder_path=folder_path)
    payload["url"] = url
    return payload


@bp.post("/requests")
@bp.arguments(FileRequestCreate)
@bp.response(201, NewFileRequest)
@bp.refuses(401, 404, 413)
def create_request(body):
    """Make an upload link (/r/…) anyone can send you files through: optional expiry, limits, password, message."""
    file_request, url = file_requests.create_request(
        g.api_user, body["title"], message=body.get("message"), expires_at=body.get("expires_at"),
        expires_in=body.get("expires_in"), max_files=body.get("max_files"), max_bytes=body.get("max_bytes"),
        password=body.get("password"), folder=body.get("folder"))
    return request_payload(file_request, 0, 0, url)


@bp.get("/requests")
@bp.response(200, FileRequests)
@bp.refuses(401)
def list_requests():
    """Your upload requests, newest first, with their state, what arrived and their URL (null for links Locker can't
    show again)."""
    listed = file_requests.list_requests(g.api_user)
    delivery = file_requests.deliveries(g.api_user, [file_request for file_request, *_ in listed])
    return {"items": [request_payload(*item, file_requests.link_url(item[0]), delivery[item[0].id]) for item in listed]}


@bp.patch("/requests/<request_id>")
@bp.arguments(FileRequestUpdate)
@bp.response(200, ListedFileRequest)
@bp.refuses(401, 404, 409, 413)
def update_request(body, request_id):
    """Change an open (or full) request's title, message, expiry, limits or password; fields left out stay as they
    are. A closed or expired request is 409 request_ended."""
    file_request, _ = file_requests.update_request(g.api_user, request_id, **body)
    return request_payload(file_request, *file_requests.received_by(file_request),
                           file_requests.link_url(file_request))


@bp.delete("/requests/<request_id>")
@bp.response(204)
@bp.refuses(400, 401, 404, 503)
def revoke_request(request_id):
    """Close an upload request at once, cancelling uploads still in progress through it; closing it again is fine."""
    guest_uploads.close_request(g.api_user, request_id)
