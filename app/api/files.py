from flask import g, redirect

from app.api import bp
from app.api.schemas import (CompleteBatchRequest, CompletedBatch, CompleteRequest, DownloadLink, DownloadLinks,
                             DownloadLinksRequest, DownloadQuery, File,
                             FilePage, FileUpdate, ListFilesQuery, OwnUploadRequest, PartsRequest, PendingUploads, SignedParts,
                             StoredParts, Upload, UploadBatch, UploadBatchRequest, VisibilityRequest, VisibilityResult)
from app.errors import LockerError
from app.services import files, folders, trash, uploads


def upload_payload(file, request=None, parts=None):
    """A pending upload as the Upload schema reads it: one signed PUT, or multipart facts."""
    payload = {"public_id": file.public_id, "name": file.name, "size": file.size,
               "content_type": file.content_type, "created_at": file.created_at}
    if file.upload_id:
        payload["multipart"] = {"part_size": file.part_size, "part_count": file.part_count,
                                "part_checksums": file.part_checksums}
    elif request is not None:
        payload.update(method=request.method, url=request.url, headers=request.headers)
    if parts is not None:
        payload["parts"] = parts
    return payload


@bp.get("/files")
@bp.arguments(ListFilesQuery, location="query")
@bp.response(200, FilePage)
@bp.refuses(401, 404)
def list_files(query):
    """One page of your files, of files visible to everyone, or (q) of names matching a search.

    Follow next_cursor for the next page (keyset pagination); it keeps the sort, search and scope.
    """
    folder = folders.get_folder(g.api_user, query["folder"]) if "folder" in query else None
    page = files.list_files(g.api_user, sort=query["sort"], order=query.get("order"),
                            cursor=query.get("cursor"), limit=query["limit"], q=query.get("q"),
                            scope=query.get("scope"), folder=folder)
    return {"items": files.with_paths(g.api_user, page.items), "next_cursor": page.next_cursor}


@bp.get("/files/<file_id>")
@bp.response(200, File)
@bp.refuses(401, 404)
def get_file(file_id):
    """One of your files, or one visible to everyone."""
    return files.with_paths(g.api_user, [files.get_readable_file(g.api_user, file_id)])[0]


@bp.patch("/files/<file_id>")
@bp.arguments(FileUpdate)
@bp.response(200, File)
@bp.refuses(401, 404, 409, 413)
def update_file(body, file_id):
    """Rename one of your files, move it to another folder, or make it visible to every signed-in user (or private).

    All at once or nothing: a new name is checked in the folder the file ends up in.
    """
    file = files.change_file(g.api_user, file_id, name=body.get("name"), visible=body.get("visible_to_everyone"),
                             folder=body.get("folder"))
    return files.with_paths(g.api_user, [file])[0]


@bp.post("/files/visibility")
@bp.arguments(VisibilityRequest)
@bp.response(200, VisibilityResult)
@bp.refuses(401, 404, 413)
def set_visibility(body):
    """Make many of your files visible to every signed-in user, or private again, all or none."""
    return {"changed": files.set_visibility_of(g.api_user, body["files"], body["visible_to_everyone"])}


@bp.get("/files/<file_id>/download")
@bp.arguments(DownloadQuery, location="query")
@bp.response(200, DownloadLink, description="With redirect=0: the signed URL and when it stops working.")
@bp.alt_response(302, description="A redirect to a signed URL that works for a few minutes.")
@bp.refuses(401, 404, 409, 503)
def download_file(query, file_id):
    """Download a file: a redirect to a short-lived signed URL, or (redirect=0) that URL as JSON.

    With inline=1 the URL shows a previewable file in the browser (see the file's `preview`).
    """
    url, expires_at = files.download_link(g.api_user, file_id, inline=query["inline"])
    if not query["redirect"]:
        return {"url": url, "expires_at": expires_at}
    return redirect(url, code=302)


@bp.post("/files/download-links")
@bp.arguments(DownloadLinksRequest)
@bp.response(200, DownloadLinks)
@bp.refuses(401, 413)  # 413: a body beyond the JSON size limit
def download_links(body):
    """Signed download URLs for up to 100 files at once, each as GET /files/{file_id}/download?redirect=0 gives it.

    Each item stands alone: look at every one, `url` when the file can be downloaded, `error` when
    not (not_found for a file you cannot see, bytes_missing or bytes_changed for a damaged one).
    """
    outcomes, expires_at = files.download_links(g.api_user, body["files"])
    return {"expires_at": expires_at, "items": [
        {"id": public_id, "error": {"code": outcome.code, "message": outcome.message}}
        if isinstance(outcome, LockerError) else {"id": public_id, "url": outcome} for public_id, outcome in outcomes]}


@bp.delete("/files/<file_id>")
@bp.response(204)
@bp.refuses(400, 401, 404)
def delete_file(file_id):
    """Move a file to the trash; it keeps its space until the trash lets it go (see /trash)."""
    trash.trash(g.api_user, file_ids=[file_id])


@bp.get("/uploads")
@bp.response(200, PendingUploads)
@bp.refuses(401, 503)
def list_uploads():
    """Unfinished uploads, with the parts stored so far (to resume them)."""
    return {"items": [upload_payload(file, parts=parts) for file, parts in uploads.pending_uploads(g.api_user)]}


@bp.post("/uploads")
@bp.arguments(OwnUploadRequest)
@bp.response(201, Upload)
@bp.refuses(401, 404, 409, 413, 503)
def start_upload(body):
    """Start an upload: small files get one signed PUT, large ones a multipart upload."""
    folder = folders.upload_target(g.api_user, body.get("folder"), body.get("path"))
    file, request_to_send = uploads.start_upload(g.api_user, body["name"], body["size"], body.get("content_type"),
                                                 body.get("sha256"), part_checksums=body["part_checksums"],
                                                 folder=folder)
    return upload_payload(file, request_to_send)


@bp.post("/uploads/batch")
@bp.arguments(UploadBatchRequest)
@bp.response(201, UploadBatch)
@bp.refuses(401, 404, 409, 413, 503)
def start_uploads(body):
    """Start up to 100 uploads at once, all or none, each as POST /uploads would.

    If any item is refused (its name, type or size, or the space all of them need
    together), nothing is started and the error's `index` says which item it was.
    """
    return {"items": [upload_payload(file, request_to_send)
                      for file, request_to_send in uploads.start_uploads(g.api_user, body["items"])]}


@bp.post("/uploads/complete")
@bp.arguments(CompleteBatchRequest)
@bp.response(200, CompletedBatch)
@bp.refuses(401, 413)  # 413: a body beyond the JSON size limit
def complete_uploads(body):
    """Complete up to 100 uploads, each as POST /uploads/{file_id}/complete would: one result per item.

    Each item succeeds or fails on its own (a completed file stays listed when a later
    one fails), so look at every item: `file` when it completed, `error` when not.
    """
    items = []
    outcomes = uploads.complete_uploads(g.api_user, body["items"])
    files.with_paths(g.api_user, [outcome for _, outcome in outcomes if not isinstance(outcome, LockerError)])
    for public_id, outcome in outcomes:
        if isinstance(outcome, LockerError):
            items.append({"id": public_id, "error": {"code": outcome.code, "message": outcome.message}})
        else:
            items.append({"id": public_id, "file": outcome})
    return {"items": items}


@bp.post("/uploads/<file_id>/parts")
@bp.arguments(PartsRequest)
@bp.response(200, SignedParts)
@bp.refuses(401, 404, 409, 413, 503)
def sign_parts(body, file_id):
    """Signed PUT URLs for parts of a multipart upload, each pinned to its exact size."""
    return {"parts": uploads.sign_parts(g.api_user, file_id, body["numbers"], body.get("checksums"))}


@bp.get("/uploads/<file_id>/parts")
@bp.response(200, StoredParts)
@bp.refuses(401, 404, 409, 503)
def list_parts(file_id):
    """The parts storage holds so far, to resume an interrupted upload."""
    file, parts = uploads.uploaded_parts(g.api_user, file_id)
    return {"parts": parts, "part_size": file.part_size, "part_count": file.part_count}


@bp.post("/uploads/<file_id>/complete")
@bp.arguments(CompleteRequest, required=False)  # a single PUT upload completes with no body
@bp.response(200, File)
@bp.refuses(401, 404, 409, 413, 503)
def complete_upload(body, file_id):
    """Finish an upload: storage is checked and the file is listed."""
    file = uploads.complete_upload(g.api_user, file_id, body.get("parts"), body.get("sha256"))
    return files.with_paths(g.api_user, [file])[0]


@bp.delete("/uploads/<file_id>")
@bp.response(204)
@bp.refuses(400, 401, 404, 409, 503)
def abort_upload(file_id):
    """Cancel an unfinished upload and free its space."""
    uploads.abort_upload(g.api_user, file_id)
