"""GET /healthz: is the database answering, is storage reachable (and, when it can tell, does it have every copy)."""
import logging

from flask import Blueprint, jsonify
from sqlalchemy import text

from app.extensions import db
from app.storage import Health, get_storage

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


def storage_health(storage):
    """What `storage` reports about itself ("ok" or "degraded", with a detail), or "down" when it fails to."""
    try:
        return storage.health()
    except Exception as error:  # any failure means "down"; the log says why
        log.warning("storage health check failed: %s", error)
        return Health("down")


@bp.get("/healthz")
def healthz():
    # Storage first: no database transaction stays open across a network call.
    storage = storage_health(get_storage())
    result = {"database": check(lambda: db.session.execute(text("SELECT 1"))), "storage": storage.state}
    down = "down" in result.values()
    # Degraded still serves (a replica missing: files download, uploads may be refused), so it stays 200.
    status = "down" if down else "degraded" if "degraded" in result.values() else "ok"
    body = {"status": status, **result}
    if storage.detail:
        body["detail"] = {"storage": storage.detail}
    response = jsonify(body)
    response.status_code = 503 if down else 200
    return response
