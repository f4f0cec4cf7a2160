from flask import g

from app.api import bp
from app.api.schemas import ActivityPage, ActivityQuery, Error
from app.services import audit


@bp.get("/activity")
@bp.arguments(ActivityQuery, location="query")
@bp.response(200, ActivityPage)
@bp.alt_response(403, schema=Error, description="scope=all from someone who is not an admin.")
@bp.refuses(401, 404)
def list_activity(query):
    """The activity log, newest first: sign-ins, uploads, downloads, deletions and links; follow next_cursor."""
    page = audit.list_events(g.api_user, scope=query["scope"], file=query.get("file"), action=query.get("action"),
                             cursor=query.get("cursor"), limit=query["limit"])
    return {"items": page.items, "next_cursor": page.next_cursor}
