"""/readyz when the database is down or hangs: the machine's PostgreSQL, reached through a proxy that fails.

A network database is what hangs (a stalled server, a blackholed host); SQLite is a local
file, so this test picks PostgreSQL whichever database the rest of the suite runs on. The
check runs only `SELECT 1`, so an empty scratch schema serves.
"""
import os
import time

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db
from tests.conftest import make_config
from tests.fault_support import PASS, REFUSE, STALL, proxy_to  # noqa: F401  (fixture)
from tests.scratch_db import scratch_database

POSTGRES = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
READY_WITHIN = 2.0
RECOVERY = 30


@pytest.fixture
def database_proxy(tmp_path, proxy_to):
    url = sa.make_url(POSTGRES)
    with scratch_database(POSTGRES, tmp_path) as (_, options):
        server = proxy_to(f"postgresql://{url.host}:{url.port or 5432}")
        proxied = url.set(host="127.0.0.1", port=server.port).render_as_string(hide_password=False)
        app = create_app(make_config(proxied, options, tmp_path / "storage"))
        yield server, app.test_client()
        server.set(PASS)
        with app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("fault", [REFUSE, STALL])
def test_database_down_or_hung_is_503_naming_it_within_2_s_and_recovers(database_proxy, fault):
    server, client = database_proxy
    assert client.get("/readyz").get_json() == {"status": "ok", "database": "ok", "storage": "ok"}
    server.set(fault)

    assert client.get("/healthz").status_code == 200
    started = time.monotonic()
    response = client.get("/readyz")
    took = time.monotonic() - started
    assert response.status_code == 503 and took < READY_WITHIN, took
    assert response.get_json() == {"status": "down", "database": "down", "storage": "ok"}

    server.set(PASS)
    deadline = time.monotonic() + RECOVERY
    while (response := client.get("/readyz")).status_code != 200:
        assert time.monotonic() < deadline, response.get_json()
        time.sleep(0.2)
    assert response.get_json()["database"] == "ok"
