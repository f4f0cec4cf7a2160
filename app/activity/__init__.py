"""The activity log in the browser: /activity, yours or (for admins) everyone's."""
from flask import Blueprint, current_app, render_template, request
from flask_login import current_user, login_required

from app.services import audit

bp = Blueprint("activity", __name__)


@bp.get("/activity")
@login_required
def list_activity():
    filters = {"scope": request.args.get("scope") or "mine", "file": request.args.get("file") or None,
               "action": request.args.get("action") or None}
    page = audit.list_events(current_user, cursor=request.args.get("cursor") or None,
                             limit=current_app.config["FILES_PER_PAGE"], **filters)
    return render_template("activity/list.html", page=page, filters=filters, actions=audit.ACTIONS)
