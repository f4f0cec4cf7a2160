from flask import g, jsonify, redirect, request

from app.api import bp, created, json_body
from app.errors import InvalidInput
from app.formatting import iso_utc
from app.services import files, uploads

DEFAULT_LIMIT = 100


def file_json(file):
    return {"id": file.public_id, "name": file.name, "size": file.size, "content_type": file.content_type,
            "created_at": iso_utc(file.created_at), "sha256": file.sha256,
            "sha256_verified": file.sha256_verified}


def upload_json(file, request=None):
    """How to send a pending upload's bytes: one signed PUT, or parts to sign in batches."""
    body = {"id": file.public_id, "name": file.name, "size": file.size, "content_type": file.content_type,
            "created_at": iso_utc(file.created_at)}
    if file.upload_id:
        body["multipart"] = {"part_size": file.part_size, "part_count": file.part_count,
                             "part_checksums": file.part_checksums}
    else:
        body.update(method=request.method, url=request.url, headers=request.headers)
    return body


def parts_json(parts):
    return [{"number": p.number, "size": p.size, "etag": p.etag} for p in parts]


def int_arg(name, default):
    value = request.args.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number.", code=f"invalid_{name}") from None


@bp.get("/files")
def list_files():
    page = files.list_files(g.api_user, sort=request.args.get("sort", "date"), order=request.args.get("order"),
                            cursor=request.args.get("cursor"), limit=int_arg("limit", DEFAULT_LIMIT))
    return jsonify(items=[file_json(f) for f in page.items], next_cursor=page.next_cursor)


@bp.get("/files/<file_id>")
def get_file(file_id):
    return jsonify(file_json(files.get_file(g.api_user, file_id)))


@bp.get("/files/<file_id>/download")
def download_file(file_id):
    url, expires_at = files.download_link(g.api_user, file_id)
    if request.args.get("redirect", "1") == "0":
        return jsonify(url=url, expires_at=iso_utc(expires_at))
    return redirect(url, code=302)


@bp.delete("/files/<file_id>")
def delete_file(file_id):
    files.delete_file(g.api_user, file_id)
    return "", 204


@bp.get("/uploads")
def list_uploads():
    """Unfinished uploads, with the parts stored so far (to resume them)."""
    return jsonify(items=[{**upload_json(file), "parts": parts_json(parts)}
                          for file, parts in uploads.pending_uploads(g.api_user)])


@bp.post("/uploads")
def start_upload():
    body = json_body()
    file, request_to_send = uploads.start_upload(g.api_user, body.get("name"), body.get("size"),
                                                 body.get("content_type"), body.get("sha256"),
                                                 part_checksums=body.get("part_checksums") is True)
    return created(upload_json(file, request_to_send))


@bp.post("/uploads/<file_id>/parts")
def sign_parts(file_id):
    body = json_body()
    return jsonify(parts=uploads.sign_parts(g.api_user, file_id, body.get("numbers"), body.get("checksums")))


@bp.get("/uploads/<file_id>/parts")
def list_parts(file_id):
    file, parts = uploads.uploaded_parts(g.api_user, file_id)
    return jsonify(parts=parts_json(parts), part_size=file.part_size, part_count=file.part_count)


@bp.delete("/uploads/<file_id>")
def abort_upload(file_id):
    uploads.abort_upload(g.api_user, file_id)
    return "", 204


@bp.post("/uploads/<file_id>/complete")
def complete_upload(file_id):
    body = json_body() if request.data else {}
    return jsonify(file_json(uploads.complete_upload(g.api_user, file_id, body.get("parts"), body.get("sha256"))))
