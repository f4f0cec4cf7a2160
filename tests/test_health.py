"""/healthz says the process serves, whatever its dependencies do; /readyz says which dependency is down.

Each dependency is real and reached through a proxy that refuses connections (down)
or accepts them and never answers (hung, as a stopped process or a blackholed host).
The database's turn is in tests/deploy/test_readiness_database.py: it needs a database
server to put a proxy in front of, whichever database the suite runs on.
"""
import logging
import threading
import time

import pytest

from app.storage import Health
from tests.fault_support import PASS, REFUSE, STALL, proxy_to  # noqa: F401  (fixture)
from tests.live_support import moto_server  # noqa: F401  (fixture)
from tests.redis_support import redis_server  # noqa: F401  (fixture)

# The answer's bound, as an orchestrator sees it: the checks' own deadline is 1 s.
READY_WITHIN = 2.0
RECOVERY = 30  # seconds a recovered dependency may take to show as ok on a busy machine


def ready(client):
    started = time.monotonic()
    response = client.get("/readyz")
    return response, time.monotonic() - started


def wait_until_ready(client):
    deadline = time.monotonic() + RECOVERY
    while (response := client.get("/readyz")).status_code != 200:
        assert time.monotonic() < deadline, response.get_json()
        time.sleep(0.2)
    return response.get_json()


def test_ready_when_database_and_storage_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "storage": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("fault", [REFUSE, STALL])
def test_storage_down_or_hung_is_503_naming_it_within_2_s_and_recovers(make_app, moto_server, proxy_to, fault):
    store = proxy_to(moto_server)
    client = make_app(STORAGE_BACKEND="s3", S3_BUCKET="locker-ready", S3_ENDPOINT_URL=store.url,
                      SETUP_STORAGE=True, PUBLIC_URL="http://localhost").test_client()
    assert client.get("/readyz").status_code == 200
    store.set(fault)
    connections = store.connections

    live = client.get("/healthz")
    assert live.status_code == 200 and live.get_json() == {"status": "ok"}
    assert store.connections == connections, "liveness asks no dependency"
    response, took = ready(client)
    assert response.status_code == 503 and took < READY_WITHIN, took
    assert response.get_json() == {"status": "down", "database": "ok", "storage": "down"}

    store.set(PASS)
    assert wait_until_ready(client) == {"status": "ok", "database": "ok", "storage": "ok"}


@pytest.mark.parametrize("fault", [REFUSE, STALL])
def test_redis_down_or_hung_is_503_naming_it_within_2_s_and_recovers(make_app, redis_server, proxy_to, fault):
    cache = proxy_to(redis_server)
    client = make_app(RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{cache.port}/0").test_client()
    assert client.get("/readyz").get_json() == {"status": "ok", "database": "ok", "storage": "ok", "redis": "ok"}
    cache.set(fault)

    assert client.get("/healthz").status_code == 200
    response, took = ready(client)
    assert response.status_code == 503 and took < READY_WITHIN, took
    assert response.get_json() == {"status": "down", "database": "ok", "storage": "ok", "redis": "down"}
    # Scrapes while Redis hangs start no second check beside the one still waiting.
    for _ in range(3):
        assert ready(client)[0].status_code == 503
        assert [thread.name for thread in threading.enumerate()].count("readyz-redis") <= 1

    cache.set(PASS)
    assert wait_until_ready(client)["redis"] == "ok"


def test_degraded_storage_is_still_ready_and_says_so_but_only_the_log_says_what(app, client, monkeypatch, caplog):
    # What a store that serves short of a copy reports (tests/test_seaweedfs_cluster.py has the real one).
    detail = "volume 3 (locker) has 1 of 2 copies, on 10.0.0.7:8080"
    monkeypatch.setattr(app.extensions["locker.storage"], "health", lambda: Health("degraded", detail))
    with caplog.at_level(logging.WARNING, logger="app.health"):
        for _ in range(2):
            response = client.get("/readyz")
            assert response.status_code == 200
            assert response.get_json() == {"status": "degraded", "database": "ok", "storage": "degraded"}
            assert "10.0.0.7" not in response.get_data(as_text=True)
    assert [record.getMessage() for record in caplog.records] == [f"readiness: storage is degraded: {detail}"]
