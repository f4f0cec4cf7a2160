"""LOCKER_ENV=production refuses unsafe settings, naming all of them at once, and warns about risky ones."""
import logging
import re
import secrets
from pathlib import Path

import pytest
from dotenv import dotenv_values

from app import create_app, production
from config import ProductionConfig

ROOT = Path(__file__).resolve().parent.parent

SAFE = {"SECRET_KEY": "k3Jx9-qLw2ZpR7tYv0bNcM4hG8sDfA1eUoI6", "PUBLIC_URL": "https://files.example.org",
        "SESSION_COOKIE_SECURE": True, "REMEMBER_COOKIE_SECURE": True,
        "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://locker@db/locker", "ALLOW_SQLITE": False,
        "WORKER_PROCESSES": 5, "RATELIMIT_STORAGE_URI": "redis://cache:6379/0", "REGISTRATION": "closed"}


def review(**changes):
    return production.review({**SAFE, **changes})


def test_safe_production_settings_pass_without_a_word():
    assert review() == production.Findings([], [])


@pytest.mark.parametrize("changes, named", [
    ({"SECRET_KEY": None}, "SECRET_KEY is not set"),
    ({"SECRET_KEY": "change-me"}, "SECRET_KEY is a sample or too short"),
    ({"SECRET_KEY": "short-but-random-4f9a"}, "SECRET_KEY is a sample or too short"),
    ({"SECRET_KEY": "x" * 64}, "SECRET_KEY is a sample or too short"),
    ({"PUBLIC_URL": None}, "PUBLIC_URL is not set"),
    ({"PUBLIC_URL": "files.example.org"}, "PUBLIC_URL is not set"),
    ({"SESSION_COOKIE_SECURE": False, "REMEMBER_COOKIE_SECURE": False},
     "SECURE_COOKIES is off while PUBLIC_URL is https"),
    ({"PUBLIC_URL": "http://files.example.org"}, "PUBLIC_URL is http but cookies are Secure"),
    ({"SQLALCHEMY_DATABASE_URI": "sqlite:////var/lib/locker/locker.db"}, "DATABASE_URL is SQLite"),
    ({"RATELIMIT_STORAGE_URI": "memory://"}, "REDIS_URL is not set while gunicorn runs 5 workers"),
])
def test_each_unsafe_setting_is_refused_by_name(changes, named):
    found = review(**changes)
    assert len(found.refusals) == 1 and named in found.refusals[0], found.refusals


@pytest.mark.parametrize("changes, named", [
    ({"REGISTRATION": "open"}, "REGISTRATION=open"),
    ({"PUBLIC_URL": "http://10.0.0.5:8000", "SESSION_COOKIE_SECURE": False, "REMEMBER_COOKIE_SECURE": False},
     "PUBLIC_URL is plain http"),
])
def test_risky_settings_said_on_purpose_start_with_a_warning(changes, named):
    found = review(**changes)
    assert found.refusals == [] and len(found.warnings) == 1 and named in found.warnings[0]


def test_what_is_allowed_on_purpose_is_not_refused():
    assert review(SQLALCHEMY_DATABASE_URI="sqlite:////var/lib/locker/locker.db", ALLOW_SQLITE=True).refusals == []
    assert review(RATELIMIT_STORAGE_URI="memory://", WORKER_PROCESSES=1).refusals == []


def test_create_app_names_every_refusal_in_one_error(tmp_path, monkeypatch):
    config = type("Prod", (ProductionConfig,), {
        "SECRET_KEY": "change-me", "PUBLIC_URL": "https://files.example.org", "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'locker.db'}",
        "ALLOW_SQLITE": False, "STORAGE_DIR": str(tmp_path), "WORKER_PROCESSES": 3,
        "RATELIMIT_STORAGE_URI": "memory://"})
    with pytest.raises(RuntimeError) as refused:
        create_app(config)
    message = str(refused.value)
    for named in ("SECRET_KEY is a sample", "SECURE_COOKIES is off", "DATABASE_URL is SQLite",
                  "REDIS_URL is not set while gunicorn runs 3 workers"):
        assert named in message
    assert "PUBLIC_URL is not set" not in message


def test_production_starts_with_safe_settings_and_logs_its_warnings(tmp_path, caplog):
    config = type("Prod", (ProductionConfig,), {
        **{name: value for name, value in SAFE.items() if name != "SQLALCHEMY_DATABASE_URI"},
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'locker.db'}", "ALLOW_SQLITE": True,
        "STORAGE_DIR": str(tmp_path), "REGISTRATION": "open", "STORAGE_BACKEND": "local"})
    with caplog.at_level(logging.WARNING):
        app = create_app(config)
    assert app.config["ENV_NAME"] == "production"
    assert any("REGISTRATION=open" in record.getMessage() for record in caplog.records)


def settings_read(path, pattern):
    return set(re.findall(pattern, (ROOT / path).read_text()))


def test_the_production_example_explains_every_setting():
    example = dotenv_values(ROOT / ".env.production.example")
    read = (settings_read("config.py", r'env(?:_bool|_list)?\("([A-Z0-9_]+)"')
            | settings_read("gunicorn.conf.py", r'os\.environ\.get\("([A-Z0-9_]+)"'))
    internal = {"TEST_DATABASE_URL", "LOCKER_WORKER_PROCESSES", "LOCKER_WORKER_THREADS",
                "LOCKER_MADE_METRICS_DIR"}  # tests, gunicorn.conf.py
    assert sorted(read - internal - set(example)) == []


def test_the_production_example_is_refused_until_its_secret_is_replaced_and_then_starts(monkeypatch, tmp_path):
    import importlib

    import config
    example = dotenv_values(ROOT / ".env.production.example")
    monkeypatch.setattr("dotenv.load_dotenv", lambda *args, **kwargs: False)
    for name, value in example.items():
        monkeypatch.setenv(name, value or "")
    monkeypatch.setenv("STORAGE_DIR", str(tmp_path))
    try:
        with pytest.raises(RuntimeError) as refused:
            create_app(importlib.reload(config).ProductionConfig)
        assert "SECRET_KEY is a sample" in str(refused.value) and str(refused.value).count("\n  - ") == 1
        monkeypatch.setenv("SECRET_KEY", secrets.token_urlsafe(48))
        app = create_app(importlib.reload(config).ProductionConfig)  # touches no database, store or Redis yet
        assert app.config["SESSION_COOKIE_SECURE"] and app.config["REGISTRATION"] == "closed"
    finally:
        monkeypatch.undo()
        importlib.reload(config)
