from flask import g, jsonify, redirect, request

from app.api import bp, created, json_body
from app.errors import InvalidInput
from app.formatting import iso_utc
from app.services import files

DEFAULT_LIMIT = 100


def file_json(file):
    return {"id": file.public_id, "name": file.name, "size": file.size, "content_type": file.content_type,
            "created_at": iso_utc(file.created_at), "sha256": file.sha256}


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


@bp.post("/uploads")
def start_upload():
    body = json_body()
    file, upload = files.start_upload(g.api_user, body.get("name"), body.get("size"),
                                      body.get("content_type"), body.get("sha256"))
    return created({"id": file.public_id, "method": upload.method, "url": upload.url, "headers": upload.headers,
                    "name": file.name, "size": file.size, "content_type": file.content_type})


@bp.post("/uploads/<file_id>/complete")
def complete_upload(file_id):
    return jsonify(file_json(files.complete_upload(g.api_user, file_id)))
