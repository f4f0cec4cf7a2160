from flask import g

from app.api import bp
from app.api.schemas import ListedShare, NewShare, Selection, ShareRequest, Shares, ShareUpdate, ZipList
from app.extensions import db
from app.models import File, ShareItem, utcnow
from app.services import shares


def selection_ids(share_ids):
    """{share id: [file public ids]} for the selection links among `share_ids`, in one query."""
    ids = {}
    if share_ids:
        for share_id, public_id in db.session.execute(
                db.select(ShareItem.share_id, File.public_id).join(File, File.id == ShareItem.file_id)
                .filter(ShareItem.share_id.in_(share_ids)).order_by(File.name, File.id)).all():
            ids.setdefault(share_id, []).append(public_id)
    return ids


def share_payload(share, url, selections=None):
    if share.is_selection and selections is None:
        selections = selection_ids([share.id])
    folder = share.folder if share.kind == "folder" else None
    payload = {"public_id": share.public_id, "kind": share.kind,
               "file_id": share.file.public_id if share.file else None,
               "file_name": share.file.name if share.file else None,
               "folder_id": folder.public_id if folder else None, "folder_name": folder.name if folder else None,
               "file_ids": (selections or {}).get(share.id, []) if share.is_selection else None,
               "state": share.state(utcnow()),
               "created_at": share.created_at, "expires_at": share.expires_at,
               "has_password": share.password_hash is not None, "max_downloads": share.max_downloads,
               "download_count": share.download_count, "last_download_at": share.last_download_at,
               "note": share.note}
    payload["url"] = url
    return payload


@bp.post("/shares")
@bp.arguments(ShareRequest)
@bp.response(201, NewShare)
@bp.refuses(401, 404, 409, 413)
def create_share(body):
    """Make a public link to one of your files (file_id), a folder (folder_id) or a selection of files
    (file_ids): optional expiry, password, download limit and note.

    A folder or selection link's page lists its files, each with its own download, and offers them all
    as one zip that the recipient's browser builds from signed URLs; each file's download, and the zip of
    all, counts once against max_downloads."""
    share, url = shares.create_share(g.api_user, body.get("file_id"), folder_id=body.get("folder_id"),
                                     file_ids=body.get("file_ids"), expires_at=body.get("expires_at"),
                                     expires_in=body.get("expires_in"), password=body.get("password"),
                                     max_downloads=body.get("max_downloads"), note=body.get("note"))
    return share_payload(share, url)


@bp.get("/shares")
@bp.response(200, Shares)
@bp.refuses(401)
def list_shares():
    """Your links, newest first, with their state, downloads and URL (null for links Locker can't show again)."""
    items = shares.list_shares(g.api_user)
    selections = selection_ids([share.id for share in items if share.is_selection])
    return {"items": [share_payload(share, shares.link_url(share), selections) for share in items]}


@bp.patch("/shares/<share_id>")
@bp.arguments(ShareUpdate)
@bp.response(200, ListedShare)
@bp.refuses(401, 404, 409, 413)
def update_share(body, share_id):
    """Change a working link's expiry, password, download limit or note; fields left out stay as they are.
    A link that has ended is 409 share_ended."""
    share, _ = shares.update_share(g.api_user, share_id, **body)
    return share_payload(share, shares.link_url(share))


@bp.delete("/shares/<share_id>")
@bp.response(204)
@bp.refuses(400, 401, 404)
def revoke_share(share_id):
    """Turn a link off at once."""
    shares.revoke_share(g.api_user, share_id)


@bp.post("/zip-list")
@bp.arguments(Selection)
@bp.response(200, ZipList)
@bp.refuses(401, 404, 413)
def zip_list(body):
    """Your files and folders as a list to zip in the browser: each file's path in the zip (a folder's files
    under its name, subfolders included), size, SHA-256 and a short-lived signed URL. No byte passes through
    Locker; the files page's script (static/zip.js) fetches each URL and writes the zip as it goes."""
    name, entries = shares.owner_zip_list(g.api_user, file_ids=body["files"], folder_ids=body["folders"])
    return {"name": name, "files": entries}
