"""Folders, moving, and the trash."""
from flask import current_app, g

from app.api import bp
from app.api.schemas import Folder, FolderCreate, FolderQuery, FolderUpdate, MoveRequest, Selection, Trash
from app.services import folders, trash


def folder_payload(folder, limit=folders.MAX_ITEMS, cursor=None):
    chain = folders.ancestors(folder)
    rows, next_cursor = folders.subfolders(folder, limit, cursor)
    return {"public_id": folder.public_id, "name": folder.name, "created_at": folder.created_at,
            "path": "/".join(row.name for row in chain if not row.is_root), "parent": folder.parent,
            "breadcrumbs": chain, "folders": rows, "folders_next_cursor": next_cursor}


@bp.get("/folders/<folder_id>")
@bp.arguments(FolderQuery, location="query")
@bp.response(200, Folder)
@bp.refuses(401, 404)
def get_folder(query, folder_id):
    """One of your folders ("root": your root folder), with a page of the folders in it (follow
    folders_next_cursor for more); its files are GET /files?folder=."""
    return folder_payload(folders.get_folder(g.api_user, folder_id), query["folders_limit"],
                          query.get("folders_cursor"))


@bp.post("/folders")
@bp.arguments(FolderCreate)
@bp.response(201, Folder)
@bp.refuses(401, 404, 409, 413)
def create_folder(body):
    """Make an empty folder."""
    return folder_payload(folders.create_folder(g.api_user, body["name"], body.get("parent")))


@bp.patch("/folders/<folder_id>")
@bp.arguments(FolderUpdate)
@bp.response(200, Folder)
@bp.refuses(401, 404, 409, 413)
def update_folder(body, folder_id):
    """Rename a folder and/or move it (with everything inside) into another; object keys never change."""
    if "parent" in body:
        folders.move(g.api_user, body["parent"], folder_ids=[folder_id])
    if "name" in body:
        folders.rename_folder(g.api_user, folder_id, body["name"])
    return folder_payload(folders.get_folder(g.api_user, folder_id))


@bp.delete("/folders/<folder_id>")
@bp.response(204)
@bp.refuses(401, 404)
def delete_folder(folder_id):
    """Move a folder and everything in it to the trash."""
    trash.trash(g.api_user, folder_ids=[folder_id])


@bp.post("/move")
@bp.arguments(MoveRequest)
@bp.response(200, Folder)
@bp.refuses(401, 404, 409, 413)
def move(body):
    """Move files and folders into a folder, all or none: a name the folder has already refuses the move (409)."""
    return folder_payload(folders.move(g.api_user, body["to"], file_ids=body["files"], folder_ids=body["folders"]))


@bp.post("/trash")
@bp.arguments(Selection)
@bp.response(204)
@bp.refuses(401, 404, 413)
def trash_items(body):
    """Move files and folders to the trash, all or none."""
    trash.trash(g.api_user, file_ids=body["files"], folder_ids=body["folders"])


@bp.get("/trash")
@bp.response(200, Trash)
@bp.refuses(401)
def list_trash():
    """What your trash holds, newest first; it counts in your quota until deleted for good."""
    return {"items": trash.items(g.api_user), "bytes": trash.held_bytes(g.api_user),
            "retention_seconds": current_app.config["TRASH_RETENTION"]}


@bp.post("/trash/restore")
@bp.arguments(Selection)
@bp.response(204)
@bp.refuses(401, 404, 409, 413)
def restore(body):
    """Put trash items back where they were, all or none (missing folders made again, a taken name numbered)."""
    trash.restore(g.api_user, file_ids=body["files"], folder_ids=body["folders"])


@bp.post("/trash/purge")
@bp.arguments(Selection)
@bp.response(204)
@bp.refuses(401, 404, 413)
def purge(body):
    """Delete trash items for good: their space is yours again and their bytes leave storage."""
    trash.purge(g.api_user, file_ids=body["files"], folder_ids=body["folders"])


@bp.delete("/trash")
@bp.response(204)
@bp.refuses(401)
def empty_trash():
    """Delete everything in the trash for good."""
    trash.empty(g.api_user)
