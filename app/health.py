"""GET /healthz: is the database answering, is storage reachable."""
import logging

from flask import Blueprint, jsonify
from sqlalchemy import text

from app.extensions import db
from app.storage import get_storage

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


def check(probe):
    try:
        probe()
        return "ok"
    except Exception as error:  # any failure means "down"; the log says why
        log.warning("health check failed: %s", error)
        db.session.rollback()
        return "down"


@bp.get("/healthz")
def healthz():
    # Storage first: no database transaction stays open across a network call.
    storage = check(get_storage().health)
    result = {"database": check(lambda: db.session.execute(text("SELECT 1"))), "storage": storage}
    healthy = all(state == "ok" for state in result.values())
    response = jsonify(status="ok" if healthy else "down", **result)
    response.status_code = 200 if healthy else 503
    return response
