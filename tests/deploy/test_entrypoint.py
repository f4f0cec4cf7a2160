"""deploy/entrypoint.sh, what the Docker image runs at start, run for real on this machine: against
PostgreSQL, Redis and a SeaweedFS S3 store, in production mode, ending as gunicorn."""
import os
import secrets
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from tests.deploy.processes import (BIN, HOST, ROOT, Process, api_session, free_port, production_env,
                                    upload_and_download)
from tests.scratch_db import scratch_database
from tests.seaweed_support import new_bucket_name

ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"
POSTGRES = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ADMIN, ADMIN_PASSWORD = "admin", "entry point check " + secrets.token_hex(4)


def image_env(folder, port, database_url, store, **settings):
    """The settings compose.yaml gives the container, pointed at this machine's services."""
    return production_env(
        folder, f"http://{HOST}:{port}", SECURE_COOKIES="0", ALLOW_SQLITE="", DATABASE_URL=database_url,
        REDIS_URL="redis://127.0.0.1:6379/0", STORAGE_BACKEND="s3", S3_BUCKET=new_bucket_name(),
        S3_ENDPOINT_URL=store.endpoint, AWS_ACCESS_KEY_ID=store.access_key, AWS_SECRET_ACCESS_KEY=store.secret_key,
        LOCKER_ADMIN_USERNAME=ADMIN, LOCKER_ADMIN_PASSWORD=ADMIN_PASSWORD, GUNICORN_BIND=f"{HOST}:{port}",
        GUNICORN_WORKERS="2", GUNICORN_THREADS="4", PATH=f"{BIN}:{os.environ['PATH']}", **settings)


@pytest.fixture
def postgres_url(tmp_path):
    """An empty PostgreSQL schema of its own, as a DATABASE_URL an operator would write."""
    with scratch_database(POSTGRES, tmp_path) as (url, options):
        yield f"{url}?options={quote(options['connect_args']['options'])}"


def test_the_entrypoint_migrates_sets_up_storage_and_becomes_gunicorn(tmp_path, postgres_url, seaweedfs):
    port = free_port()
    env = image_env(tmp_path, port, postgres_url, seaweedfs)
    url = f"http://{HOST}:{port}"
    started = Process("entrypoint", [ENTRYPOINT], tmp_path, env)
    try:
        started.wait_until(lambda: requests.get(f"{url}/readyz", timeout=5).json() ==
                           {"status": "ok", "database": "ok", "storage": "ok", "redis": "ok"},
                           "database, storage and Redis ready",
                           timeout=180)
        log = started.log()
        assert f"Bucket {env['S3_BUCKET']}: created; CORS allows {url}." in log
        assert f"Admin account: {ADMIN}" in log
        # exec: the process the container started is gunicorn itself, so it gets the stop signal.
        assert b"gunicorn" in Path(f"/proc/{started.popen.pid}/cmdline").read_bytes()
        with api_session(url, ADMIN, ADMIN_PASSWORD) as client:
            data = os.urandom(200_000)
            _, signed, downloaded = upload_and_download(client, url, "hello.bin", data)
        assert signed.startswith(seaweedfs.endpoint) and downloaded == data
    finally:
        started.stop()
    assert started.popen.returncode == 0, started.log()  # a clean stop on TERM

    # With arguments it runs them instead of the server, on the same settings and database.
    sweep = Process("sweep", [ENTRYPOINT, "flask", "--app", "wsgi", "locker", "sweep"], tmp_path, env)
    assert sweep.popen.wait(120) == 0, sweep.log()
    assert "Expired uploads cancelled: 0" in sweep.log() and "Files whose bytes are missing: 0" in sweep.log()


def test_the_entrypoint_stops_with_a_clear_message_when_the_database_never_answers(tmp_path, seaweedfs):
    nowhere = f"postgresql+psycopg://locker@{HOST}:{free_port()}/locker"
    attempt = Process("entrypoint", [ENTRYPOINT], tmp_path,
                      image_env(tmp_path, free_port(), nowhere, seaweedfs, DATABASE_WAIT="2"))
    assert attempt.popen.wait(120) != 0
    assert "Waiting for the database..." in attempt.log()
    assert "The database did not answer within 2 s" in attempt.log()
    assert "Listening at" not in attempt.log()


def test_the_entrypoint_refuses_unsafe_production_settings_before_touching_anything(tmp_path, seaweedfs):
    env = image_env(tmp_path, free_port(), f"sqlite:///{tmp_path / 'locker.db'}", seaweedfs, SECRET_KEY="change-me")
    attempt = Process("entrypoint", [ENTRYPOINT], tmp_path, env)
    assert attempt.popen.wait(120) != 0
    assert "SECRET_KEY is a sample" in attempt.log() and "DATABASE_URL is SQLite" in attempt.log()
    assert not (tmp_path / "locker.db").exists()
