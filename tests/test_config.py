import inspect
from pathlib import Path

import pytest

from app import create_app
from config import GIB, MIB, ProductionConfig, parse_size


@pytest.mark.parametrize("text,size", [("5 GiB", 5 * GIB), ("500M", 500 * MIB), ("1048576", 1048576),
                                       ("1.5g", int(1.5 * GIB)), ("10 MB", 10 * MIB)])
def test_sizes_are_read_in_human_units(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "5 parsecs", ""])
def test_unreadable_sizes_are_refused(text):
    with pytest.raises(ValueError):
        parse_size(text)


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    config = type("Prod", (ProductionConfig,), {"SECRET_KEY": None,
                                                 "SQLALCHEMY_DATABASE_URI": "sqlite://",
                                                 "STORAGE_DIR": str(tmp_path)})
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(config)


def test_defaults_production_closes_registration_secures_cookies_and_redis_holds_limits(monkeypatch):
    import importlib

    import config
    for name in ("REGISTRATION", "SECURE_COOKIES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REDIS_URL", "redis://cache.example:6379/2")
    monkeypatch.setattr("dotenv.load_dotenv", lambda *args, **kwargs: False)
    fresh = importlib.reload(config)
    try:
        assert fresh.ProductionConfig.REGISTRATION == "closed"
        assert fresh.ProductionConfig.SESSION_COOKIE_SECURE and fresh.ProductionConfig.REMEMBER_COOKIE_SECURE
        assert fresh.DevelopmentConfig.REGISTRATION == "open"
        # Rate limits move to Redis when it is configured, so every worker counts together.
        assert fresh.Config.RATELIMIT_STORAGE_URI == "redis://cache.example:6379/2"
    finally:
        monkeypatch.undo()
        importlib.reload(config)


def test_unknown_registration_mode_is_refused_at_start(make_app):
    with pytest.raises(RuntimeError, match="REGISTRATION must be 'open', 'invite' or 'closed'"):
        make_app(REGISTRATION="sometimes")


@pytest.mark.parametrize("setting", ["LOGIN_LIMIT_PER_ACCOUNT", "SHARE_PASSWORD_LIMIT_PER_ADDRESS_AND_LINK",
                                     "REGISTER_LIMIT_PER_ADDRESS", "REQUEST_UPLOAD_LIMIT_PER_ADDRESS"])
def test_a_limit_setting_the_limiter_cannot_read_is_refused_at_start(make_app, setting):
    with pytest.raises(RuntimeError, match=f"{setting} is 'five a minute'; write it like '5 per minute'"):
        make_app(**{setting: "five a minute"})


def test_without_a_secret_key_a_random_one_is_made_once_and_kept(tmp_path, monkeypatch):
    import stat

    from app import instance_secret
    path = tmp_path / "secret_key"
    first = instance_secret(path)
    assert len(first) >= 64 and instance_secret(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert instance_secret(tmp_path / "other") != first


@pytest.mark.parametrize("endpoint,style", [(None, "virtual"), ("http://minio:9000", "path"),
                                            ("https://s3.example.org", "path")])
def test_s3_addressing_is_path_style_exactly_when_an_endpoint_is_set(endpoint, style):
    from app.storage.s3 import S3Storage
    storage = S3Storage("bucket", region="eu-central-1", endpoint_url=endpoint)
    assert storage.client.meta.config.s3["addressing_style"] == style
    assert storage.client.meta.config.signature_version == "s3v4"


def test_a_multipart_threshold_over_five_gib_is_refused_at_start(make_app):
    with pytest.raises(RuntimeError, match="MULTIPART_THRESHOLD can be at most 5 GiB"):
        make_app(MULTIPART_THRESHOLD=6 * GIB)


def test_a_sqlite_database_file_commits_through_a_write_ahead_log(tmp_path):
    from sqlalchemy import text

    from app.extensions import db
    from tests.conftest import make_config

    app = create_app(make_config(f"sqlite:///{tmp_path / 'locker.db'}", {}, tmp_path / "storage"))
    with app.app_context():
        with db.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            # NORMAL: a commit is in the -wal file before it returns (tests/test_download_durability.py kills
            # a worker right after its answers and finds every commit), synced to disk at checkpoints.
            assert connection.execute(text("PRAGMA synchronous")).scalar() == 1
        db.engine.dispose()


@pytest.fixture
def gunicorn_settings(monkeypatch, tmp_path):
    """Reads gunicorn.conf.py as gunicorn does: its settings as a dict. What reading it changes
    (max_body_chunk, PROMETHEUS_MULTIPROC_DIR) is undone afterwards, and the developer's .env stays out."""
    import runpy

    from gunicorn.http.unreader import SocketUnreader

    monkeypatch.setattr(SocketUnreader, "max_body_chunk", SocketUnreader.max_body_chunk)
    monkeypatch.setattr("dotenv.load_dotenv", lambda *args, **kwargs: False)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    return lambda: runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))


def test_gunicorn_receives_upload_bodies_in_the_pieces_local_storage_reads(gunicorn_settings):
    from gunicorn.http.unreader import SocketUnreader

    from app.storage.local import CHUNK_SIZE

    # The attribute gunicorn.conf.py sets must be one gunicorn reads, or uploads silently hold
    # ~20 MiB more while in flight.
    assert "max_body_chunk" in vars(SocketUnreader)
    assert "self.max_body_chunk" in Path(inspect.getsourcefile(SocketUnreader)).read_text()
    gunicorn_settings()
    assert SocketUnreader.max_body_chunk == CHUNK_SIZE


def test_gunicorn_runs_two_workers_per_core_plus_one_capped_unless_told(monkeypatch, gunicorn_settings):
    import os

    monkeypatch.delenv("GUNICORN_WORKERS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert gunicorn_settings()["workers"] == 5
    monkeypatch.setattr(os, "cpu_count", lambda: 32)
    assert gunicorn_settings()["workers"] == 8
    monkeypatch.setenv("GUNICORN_WORKERS", "3")
    settings = gunicorn_settings()
    assert settings["workers"] == 3 and settings["worker_class"] == "gthread" and not settings["preload_app"]


def test_gunicorn_listens_on_loopback_when_the_bind_is_unset_or_blank(monkeypatch, gunicorn_settings):
    monkeypatch.delenv("GUNICORN_BIND", raising=False)
    assert gunicorn_settings()["bind"] == ["127.0.0.1:8000"]
    monkeypatch.setenv("GUNICORN_BIND", "")
    assert gunicorn_settings()["bind"] == ["127.0.0.1:8000"]
    monkeypatch.setenv("GUNICORN_BIND", "0.0.0.0:8000,[::]:8000")
    assert gunicorn_settings()["bind"] == ["0.0.0.0:8000", "[::]:8000"]


def test_locker_and_gunicorn_trust_the_same_proxies_by_default(monkeypatch, gunicorn_settings):
    from config import Config

    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    assert gunicorn_settings()["forwarded_allow_ips"] == Config.FORWARDED_ALLOW_IPS == "127.0.0.1,::1"


def test_a_default_rate_limit_set_for_every_request_is_applied(make_app, monkeypatch):
    """Locker sets none, and skips Flask-Limiter's before-request check while there is none (app.extensions);
    one set through Flask-Limiter's own setting still limits every request."""
    from app.extensions import limiter
    monkeypatch.setattr(limiter.limit_manager, "_default_limits", [])  # the limiter outlives this test's app
    client = make_app(STORAGE_BACKEND="local", RATELIMIT_DEFAULT="2 per hour").test_client()
    assert [client.get("/healthz").status_code for _ in range(3)] == [200, 200, 429]
