"""The Locker application factory."""
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.extensions import csrf, db, limiter, login_manager, migrate
from app.storage import build_storage
from config import config_from_env

BASE_DIR = Path(__file__).resolve().parent.parent
INSECURE_SECRET = "dev-only-not-secret"


def create_app(config_class=None):
    """Build an app from a config class (by default the one LOCKER_ENV names)."""
    app = Flask(__name__, template_folder=str(BASE_DIR / "templates"), instance_path=str(BASE_DIR / "instance"))
    app.config.from_object(config_class or config_from_env())
    if app.config.get("ENV_NAME") == "production" and app.config["SECRET_KEY"] == INSECURE_SECRET:
        raise RuntimeError("Set SECRET_KEY to a long random value before running Locker in production.")
    if app.config["REGISTRATION"] not in ("open", "closed"):
        raise RuntimeError(f"REGISTRATION must be 'open' or 'closed', not {app.config['REGISTRATION']!r}.")
    if app.config.get("TRUST_PROXY"):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)

    storage = build_storage(app)
    storage.prepare()
    app.extensions["locker.storage"] = storage

    from app import api, auth, cli, errors, health, web
    from app.storage import local

    app.register_blueprint(auth.bp)
    app.register_blueprint(web.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(local.bp)
    csrf.exempt(api.bp)  # the API checks CSRF itself when a browser session is used
    csrf.exempt(local.bp)  # signed URLs authorise storage requests, not cookies
    errors.register_error_handlers(app)
    cli.register(app)
    web.register_template_helpers(app)
    return app
