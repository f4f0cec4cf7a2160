"""Shared fixtures: one migrated database per run, an app per test, users and clients.

TEST_DATABASE_URL picks the database (SQLite by default; `make test` runs the
suite on SQLite and again on PostgreSQL). Each run gets its own empty database
(a PostgreSQL schema of its own), so concurrent runs never meet.
"""
import os
import re
import uuid

# moto reads this at import; without it every bucket answers CORS preflights
# and a missing CORS rule would go unnoticed in browser tests.
os.environ.setdefault("MOTO_DISABLE_GLOBAL_CORS", "true")
# S3 refuses parts under 5 MiB but the last; tests use 64 KiB parts to stay quick.
os.environ.setdefault("S3_UPLOAD_PART_MIN_SIZE", str(64 * 1024))
for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_DEFAULT_REGION": "us-east-1"}.items():
    os.environ[name] = value
for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
    os.environ.pop(name, None)

import pytest  # noqa: E402
from flask import current_app, has_app_context  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from moto import mock_aws  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.services import tokens, users  # noqa: E402
from app.services.common import public_origin  # noqa: E402
from config import TestingConfig  # noqa: E402
from tests.scratch_db import scratch_database  # noqa: E402
from tests.seaweed_support import seaweedfs  # noqa: E402,F401  (a real S3 store, started once when a test asks)

PASSWORD = "correct horse battery"
BUCKET = "locker-test"


@pytest.fixture(scope="session")
def database(tmp_path_factory):
    """A database URL and engine options, migrated once for the whole run."""
    requested = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    # SQLite goes to a file, not :memory:, so that live-server threads see the same data.
    with scratch_database(requested, tmp_path_factory.mktemp("db")) as (url, options):
        app = create_app(make_config(url, options, tmp_path_factory.mktemp("storage")))
        with app.app_context():
            upgrade()
            db.engine.dispose()
        yield url, options


def make_config(url, engine_options, storage_dir, **overrides):
    attributes = {"SQLALCHEMY_DATABASE_URI": url,
                  "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, **engine_options},
                  "STORAGE_DIR": str(storage_dir), **overrides}
    return type("TestConfig", (TestingConfig,), attributes)


class IsolatedClient(FlaskClient):
    """Runs each request in its own app context, as a server does: fresh `g`, fresh DB session.

    Without this, requests would share the test's context, and state such as
    Flask-Login's cached user would leak from one request into the next.
    """

    def open(self, *args, **kwargs):
        outer = has_app_context()
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        if outer:
            # End the test's own transaction so its next read sees what the request wrote.
            db.session.rollback()
        return response


def empty_tables():
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def make_app(database, tmp_path):
    """Build an app on the test database with config overrides; tables are emptied after."""
    url, options = database
    built = []

    def build(**overrides):
        # What `flask locker setup-storage` does for an operator: the bucket and its CORS rules.
        setup_storage = overrides.pop("SETUP_STORAGE", False)
        app = create_app(make_config(url, options, tmp_path / "storage", **overrides))
        app.test_client_class = IsolatedClient
        if setup_storage:
            with app.app_context():
                app.extensions["locker.storage"].setup([origin for origin in [public_origin()] if origin])
        built.append(app)
        return app

    yield build
    for app in built[:1]:
        with app.app_context():
            empty_tables()
    for app in built:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def s3():
    """moto's in-process S3, with boto3 clients signing SigV4 as Locker's do."""
    with mock_aws():
        yield


PART_SIZE = 64 * 1024
MULTIPART_SETTINGS = {"MULTIPART_THRESHOLD": 2 * PART_SIZE, "MULTIPART_PART_SIZE": PART_SIZE}
S3_SETTINGS = {"STORAGE_BACKEND": "s3", "S3_BUCKET": BUCKET, "SETUP_STORAGE": True,
               "PUBLIC_URL": "http://localhost"}


@pytest.fixture(params=["local", "s3"])
def backend(request):
    """Run a test on each storage backend."""
    if request.param == "s3":
        with mock_aws():
            yield S3_SETTINGS
    else:
        yield {"STORAGE_BACKEND": "local"}


@pytest.fixture
def app_settings():
    """Config overrides for `app`: a module overrides this fixture to run all its tests on other settings."""
    return {}


@pytest.fixture
def app(make_app, backend, app_settings):
    app = make_app(**backend, **app_settings)
    with app.app_context():
        yield app


@pytest.fixture
def local_app(make_app):
    app = make_app(STORAGE_BACKEND="local")
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_from(html):
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


class Accounts:
    """Creates users and signs clients in, on whichever app's context is current."""

    def create(self, username=None, password=PASSWORD, is_admin=False):
        username = username or f"user{uuid.uuid4().hex[:8]}"
        return users.create_user(username, password, is_admin=is_admin)

    def token(self, user):
        return tokens.create_token(user, "tests")[1]

    def headers(self, user):
        return {"Authorization": f"Bearer {self.token(user)}"}

    def login(self, client, username, password=PASSWORD, remember=False):
        token = csrf_from(client.get("/login").get_data(as_text=True))
        data = {"csrf_token": token, "username": username, "password": password}
        if remember:
            data["remember"] = "y"
        return client.post("/login", data=data)

    def signed_in_client(self, user=None):
        user = user or self.create()
        client = current_app.test_client()
        response = self.login(client, user.username)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client, user


@pytest.fixture
def accounts():
    """Asks for no app: a test that builds its own would otherwise also get an unused `app` and its backends."""
    return Accounts()


@pytest.fixture
def owner(app, accounts):
    """A user of `app`, who owns what the test uploads."""
    return accounts.create()


@pytest.fixture
def headers(accounts, owner):
    """API headers with a token of `owner`."""
    return accounts.headers(owner)


@pytest.fixture
def signed_in(app, accounts):
    """(browser client signed in as a new user of `app`, that user, API headers for them)."""
    client, user = accounts.signed_in_client()
    return client, user, accounts.headers(user)


@pytest.fixture
def smtp_server():
    """A real SMTP server on a free port: `.settings` points an app at it, `.inbox` holds what arrived."""
    from tests.mail_support import SmtpServer

    with SmtpServer() as server:
        yield server
