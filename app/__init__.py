"""The Locker application factory."""
import logging
import os
import secrets
import sqlite3
from pathlib import Path

from flask import Flask, current_app
from limits import parse_many
from sqlalchemy import event
from sqlalchemy.engine import make_url

from app import error_reports, json_limits, logs, metrics, production, transactions
from app.auth import limits as rate_limits
from app.extensions import csrf, db, limiter, login_manager, migrate
from app.services import oidc
from app.storage import build_storage
from app.storage.metered import MeteredStorage
from config import config_from_env

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_POOL_SIZE = 5  # SQLAlchemy's own
PAGE_SECURITY_HEADERS = {
    # No other site may frame Locker's pages (the delete page would be a clickjacking target).
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def content_security_policy(bucket_origin=None):
    """The pages' CSP: Locker's own scripts and styles only, and the bucket (when it is elsewhere) for bytes.

    Browsers upload to the bucket (connect), previews show images, audio, video and
    framed PDFs straight from it, and a share page's download form is redirected to
    it (form-action covers where a submitted form is redirected). 'wasm-unsafe-eval'
    lets hash-wasm compile its SHA-256 (WebAssembly only, never JavaScript eval); the
    hashing worker is Locker's own script.
    """
    bucket = f" {bucket_origin}" if bucket_origin else ""
    return "; ".join([
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self'",
        f"img-src 'self' data: blob:{bucket}",
        f"media-src 'self' blob:{bucket}",
        f"frame-src 'self'{bucket}",
        f"connect-src 'self'{bucket}",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        f"form-action 'self'{bucket}",
        "frame-ancestors 'none'",
    ])


def check_rate_limits(config):
    """Refuse to start on a limit setting the limiter cannot read, rather than fail the first guess with a 500."""
    for setting in sorted(key for key in config if "_LIMIT_PER_" in key):
        try:
            parse_many(config[setting])
        except ValueError:
            raise RuntimeError(f"{setting} is {config[setting]!r}; write it like '5 per minute' "
                               "or '5 per minute; 10 per hour'.") from None


def create_app(config_class=None):
    """Build an app from a config class (by default the one LOCKER_ENV names)."""
    app = Flask(__name__, template_folder=str(BASE_DIR / "templates"), instance_path=str(BASE_DIR / "instance"))
    app.config.from_object(config_class or config_from_env())
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if app.config.get("ENV_NAME") == "production":
        production.enforce(app.config, app.logger)
    elif not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret(Path(app.instance_path) / "secret_key")
    from app.services.users import REGISTRATION_MODES
    if app.config["REGISTRATION"] not in REGISTRATION_MODES:
        raise RuntimeError(f"REGISTRATION must be 'open', 'invite' or 'closed', not {app.config['REGISTRATION']!r}.")
    check_rate_limits(app.config)
    if app.config["MAIL_SECURITY"] not in ("starttls", "ssl", "none"):
        raise RuntimeError(f"MAIL_SECURITY must be starttls, ssl or none, not {app.config['MAIL_SECURITY']!r}.")
    if app.config.get("MAIL_SERVER") and not app.config.get("PUBLIC_URL"):
        # Links in mail (password resets above all) would otherwise take their host from the request that
        # asked for them, which anyone can forge: a reset asked for with `Host: evil.example` would send the
        # account's owner a real email whose link hands the token to that host.
        raise RuntimeError("Set PUBLIC_URL when MAIL_SERVER is set: links in mail are built from it.")
    if app.config["MULTIPART_THRESHOLD"] > 5 * 1024 ** 3:
        raise RuntimeError("MULTIPART_THRESHOLD can be at most 5 GiB: S3 takes no larger single PUT.")
    oidc.check_settings(app.config)
    error_reports.init(app.config)
    if app.config.get("TRUST_PROXY"):
        app.wsgi_app = production.TrustedProxy(app.wsgi_app, production.allowed_proxies(
            app.config["FORWARDED_ALLOW_IPS"]), app.logger)

    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", use_write_ahead_log)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", rate_limits.storage_options(app.config))
    limiter.init_app(app)
    # First of all hooks, so that no hook added later parses a body this one would refuse.
    app.before_request_funcs.setdefault(None, []).insert(0, json_limits.check_json_body)
    logs.configure(app)  # its hook goes before even that one: every line, a refusal's too, has the request's id
    metrics.init_app(app)

    oidc.init_app(app)  # contacts no provider: its metadata is loaded at the first sign-in
    storage = build_storage(app)
    storage.prepare()  # touches no network: Locker starts while the store is down
    if storage.remote:
        storage.before_network_call = transactions.end_before_network_call
    app.extensions["locker.storage"] = MeteredStorage(storage)
    app.extensions["locker.page_headers"] = {
        **PAGE_SECURITY_HEADERS, "Content-Security-Policy": content_security_policy(storage.browser_origin())}

    from app import activity, api, auth, cli, errors, file_requests, health, shares, web
    from app.storage import local

    app.register_blueprint(auth.bp)
    app.register_blueprint(web.bp)
    app.register_blueprint(shares.bp)
    app.register_blueprint(file_requests.bp)
    app.register_blueprint(activity.bp)
    api.init_api(app)
    health.init_app(app)
    app.register_blueprint(local.bp)
    csrf.exempt(api.bp)  # the API checks CSRF itself when a browser session is used
    csrf.exempt(local.bp)  # signed URLs authorise storage requests, not cookies
    errors.register_error_handlers(app)
    cli.register(app)
    web.register_template_helpers(app)
    app.after_request(add_security_headers)
    return app


def engine_options(config):
    """SQLAlchemy's engine options, with a pool that keeps a connection for each of the worker's threads.

    With SQLAlchemy's default of 5, a gunicorn worker of 16 threads under load opened and
    closed connections all the time (each a new PostgreSQL session, or an SQLite file opened
    and set up again) instead of reusing them.
    """
    options = dict(config["SQLALCHEMY_ENGINE_OPTIONS"])
    url = make_url(config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":
        # A file has no server that could have dropped the connection: no query to check it at every checkout.
        options.pop("pool_pre_ping", None)
        if url.database in (None, "", ":memory:"):
            return options  # one connection, shared
    options.setdefault("pool_size", max(DEFAULT_POOL_SIZE, config["WORKER_THREADS"]))
    return options


def use_write_ahead_log(dbapi_connection, _record):
    """Put an SQLite database in WAL mode, where a commit is one append to the -wal file.

    In the default rollback-journal mode every commit creates, syncs and deletes a
    journal file (half the time of a small upload's API calls went there), and a
    writer blocks readers; in WAL mode readers never wait for the writer.

    synchronous=NORMAL: a commit is written to the -wal file (the operating system's
    cache) before it returns, and synced only when the WAL is checkpointed into the
    database. A committed transaction therefore survives the process being killed
    (SIGKILL, a crash, the OOM killer): whatever Locker answered after a commit, such as
    a download redirect after its activity event, is in the database. Only a power cut or
    a kernel crash can lose the last commits before a checkpoint, and never corrupts the
    database. synchronous=FULL would sync the WAL on every commit, while holding SQLite's
    one write lock: every writer queued behind a disk flush, and concurrent downloads
    (each commits its activity event) waited up to a second at the 99th percentile.
    """
    try:
        dbapi_connection.execute("PRAGMA journal_mode=WAL").fetchall()
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.OperationalError as error:
        # Another process holds the database mid-change; the next connection will try again.
        logging.getLogger(__name__).warning("could not switch SQLite to WAL mode: %s", error)


def instance_secret(path):
    """A random key made once and kept in instance/, so even a development install has no known secret."""
    if not path.exists():
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def add_security_headers(response):
    # setdefault: storage's own responses keep their stricter headers.
    for name, value in current_app.extensions["locker.page_headers"].items():
        response.headers.setdefault(name, value)
    if response.mimetype == "text/html":
        # Pages show private lists: never keep them in a cache (or the back button after logout).
        response.headers["Cache-Control"] = "no-store"
    return response
