from flask import g

from app.api import bp
from app.api.schemas import ListedShare, NewShare, ShareRequest, Shares, ShareUpdate
from app.models import utcnow
from app.services import shares


def share_payload(share, url):
    payload = {"public_id": share.public_id, "file_id": share.file.public_id if share.file else None,
               "file_name": share.file.name if share.file else None, "state": share.state(utcnow()),
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
    """Make a public link to one of your files: optional expiry, password, download limit and note."""
    share, url = shares.create_share(g.api_user, body["file_id"], expires_at=body.get("expires_at"),
                                     expires_in=body.get("expires_in"), password=body.get("password"),
                                     max_downloads=body.get("max_downloads"), note=body.get("note"))
    return share_payload(share, url)


@bp.get("/shares")
@bp.response(200, Shares)
@bp.refuses(401)
def list_shares():
    """Your links, newest first, with their state, downloads and URL (null for links Locker can't show again)."""
    return {"items": [share_payload(share, shares.link_url(share)) for share in shares.list_shares(g.api_user)]}


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
