"""GET /healthz (liveness: the process serves) and GET /readyz (readiness: its dependencies answer).

An orchestrator restarts a process whose liveness fails, so /healthz calls nothing:
a slow store must not get every instance restarted. /readyz asks the database,
storage and (when rate limits live there) Redis, each on a thread of its own with
its own deadline, so a hung dependency costs the answer READY_DEADLINE seconds,
not a worker. While one dependency's earlier check is still hanging, no second
one starts: a scrape every second cannot pile up threads. The request itself opens
no database transaction, and the database check holds a connection only for its
`SELECT 1`, so no transaction waits on storage or Redis.
"""
import logging
import threading
from concurrent.futures import Future, wait
from urllib.parse import urlsplit

import redis
from flask import Blueprint, current_app, has_app_context, jsonify
from sqlalchemy import text

from app.extensions import db
from app.storage import Health

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)

OK, DEGRADED, DOWN = "ok", "degraded", "down"
# Each check's own deadline; they run side by side, so /readyz answers within about this long (well under 2 s).
READY_DEADLINE = 1.0
REDIS_SCHEMES = {"redis", "rediss"}


def check(probe, name="health check"):
    """"ok", or "down" when the probe (a query, a ping) fails; the failure is logged, not raised."""
    try:
        probe()
        return OK
    except Exception as error:  # any failure means "down"; the log says why
        log.warning("%s failed: %s", name, error)
        if has_app_context():
            db.session.rollback()
        return DOWN


def storage_health(storage):
    """What `storage` reports about itself ("ok" or "degraded", with a detail), or "down" when it fails to."""
    try:
        return storage.health()
    except Exception as error:  # any failure means "down"; the log says why
        log.warning("storage health check failed: %s", error)
        return Health(DOWN)


class Readiness:
    """One dependency's check (a probe giving a Health), run on a daemon thread; one still running is reused."""

    def __init__(self, name, probe):
        self.name = name
        self.probe = probe
        self.lock = threading.Lock()
        self.running = None
        self.last_detail = None

    def start(self):
        with self.lock:
            if self.running is None or self.running.done():
                self.running = Future()
                threading.Thread(target=self.run, args=(self.running,), name=f"readyz-{self.name}",
                                 daemon=True).start()
            return self.running

    def run(self, future):
        future.set_result(self.probe())

    def note(self, health):
        """Log a detail (what is degraded) when it changes, not at every scrape."""
        if health.detail and health.detail != self.last_detail:
            log.warning("readiness: %s is %s: %s", self.name, health.state, health.detail)
        self.last_detail = health.detail


def database_probe(app):
    def select_one():
        with app.app_context():
            with db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
    return lambda: Health(check(select_one, "readiness check of the database"))


def redis_probe(url):
    # A client of its own with short timeouts: the rate limiter's may wait much longer on a hung server.
    client = redis.Redis.from_url(url, socket_connect_timeout=READY_DEADLINE, socket_timeout=READY_DEADLINE)
    return lambda: Health(check(client.ping, "readiness check of Redis"))


def build_checks(app):
    """The checks this app's settings call for, in the order the answer lists them."""
    storage = app.extensions["locker.storage"]
    checks = [Readiness("database", database_probe(app)), Readiness("storage", lambda: storage_health(storage))]
    limits_at = app.config.get("RATELIMIT_STORAGE_URI") or ""
    if urlsplit(limits_at).scheme in REDIS_SCHEMES:
        checks.append(Readiness("redis", redis_probe(limits_at)))
    return checks


def init_app(app):
    app.extensions["locker.readiness"] = build_checks(app)
    app.register_blueprint(bp)


@bp.after_request
def never_cached(response):
    # A cached "ok" would hide an outage from whatever asks through a cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def healthz():
    return jsonify(status=OK)


@bp.get("/readyz")
def readyz():
    checks = current_app.extensions["locker.readiness"]
    running = {check.name: check.start() for check in checks}
    wait(running.values(), timeout=READY_DEADLINE)
    result = {name: future.result() if future.done() else Health(DOWN) for name, future in running.items()}
    for name, future in running.items():
        if not future.done():
            log.warning("readiness: %s did not answer within %s s", name, READY_DEADLINE)
    states = {health.state for health in result.values()}
    # Degraded still serves (a replica missing: files download, uploads may be refused), so it stays 200.
    status = DOWN if DOWN in states else DEGRADED if DEGRADED in states else OK
    for check in checks:
        check.note(result[check.name])
    # States only: the details (volume servers' addresses, the bucket, a master's error) are for the
    # admin overview and the log, not for anyone who can reach this URL.
    response = jsonify(status=status, **{name: health.state for name, health in result.items()})
    response.status_code = 503 if status == DOWN else 200
    return response
