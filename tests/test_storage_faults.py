"""When the store is slow or down: Locker starts, answers 503 quickly, keeps pages that need no storage fast,
never holds the database while it waits, and recovers by itself.

Locker runs on a real socket and talks to moto's S3 server through a proxy that
can stall (as a store stopped with SIGSTOP looks) or refuse connections (as one
that is down). The same faults on a real SeaweedFS are in test_seaweedfs.py.
"""
import re
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests

from app.extensions import db
from app.models import File, User
from app.health import READY_DEADLINE
from tests.conftest import MULTIPART_SETTINGS, PASSWORD
from tests.fault_support import MUTE, PASS, REFUSE, STALL, FaultyProxy
from tests.live_support import moto_server, start_live  # noqa: F401  (fixtures)

# Short timeouts keep the suite quick; the bound each test checks is computed from them.
TIMEOUTS = {"S3_CONNECT_TIMEOUT": 0.5, "S3_READ_TIMEOUT": 1.0, "S3_MAX_ATTEMPTS": 2, "STORAGE_RETRY_AFTER": 1.0}
WORST_CALL = TIMEOUTS["S3_MAX_ATTEMPTS"] * (TIMEOUTS["S3_CONNECT_TIMEOUT"] + TIMEOUTS["S3_READ_TIMEOUT"]) + 2
FAST = 1.5  # seconds a request that needs no storage may take on a busy 2-core machine
# /readyz waits for its checks' deadline, then answers like any other request.
HEALTH_BOUND = READY_DEADLINE + FAST
LARGE = MULTIPART_SETTINGS["MULTIPART_THRESHOLD"] + 1


@pytest.fixture
def store(moto_server):
    target = urlsplit(moto_server)
    proxy = FaultyProxy(target.hostname, target.port)
    yield proxy
    proxy.close()


@pytest.fixture
def live(request, make_app, store):
    return start_live(request, make_app, "s3", S3_ENDPOINT_URL=store.url, **TIMEOUTS)


def api(live, token):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def sign_in(live, username):
    session = requests.Session()
    page = session.get(f"{live.url}/login", timeout=30).text
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    return session.post(f"{live.url}/login", data={"csrf_token": csrf, "username": username, "password": PASSWORD},
                        allow_redirects=False, timeout=30)


def start_upload(session, live, size, name="big.bin"):
    return session.post(f"{live.url}/api/v1/uploads", json={"name": name, "size": size}, timeout=60)


def test_a_stalled_store_holds_nobody_else_up(live, store):
    """One user's upload waits on a stalled store; meanwhile others sign in, make tokens, list and start uploads."""
    _, token = live.user()
    others = [live.user() for _ in range(3)]
    store.set(STALL)
    waiting = ThreadPoolExecutor(1).submit(timed, lambda: start_upload(api(live, token), live, LARGE))
    time.sleep(0.3)  # the upload is now waiting on storage (before the fix: holding the database's write lock)

    for username, other_token in others:
        signed_in, took = timed(lambda: sign_in(live, username))
        assert signed_in.status_code == 302 and took < FAST, (signed_in.status_code, took)
        made, took = timed(lambda: requests.post(f"{live.url}/api/v1/auth/token", timeout=30, json={
            "username": username, "password": PASSWORD, "name": "laptop"}))
        assert made.status_code == 201 and took < FAST, (made.text, took)
        listed, took = timed(lambda: api(live, other_token).get(f"{live.url}/api/v1/files", timeout=30))
        assert listed.status_code == 200 and took < FAST, (listed.text, took)
        # A one-PUT upload is signed without asking the store.
        started, took = timed(lambda: start_upload(api(live, other_token), live, 10, "small.txt"))
        assert started.status_code == 201 and took < FAST, (started.text, took)

    response, took = waiting.result()
    assert response.status_code == 503 and took < WORST_CALL, (response.text, took)
    assert response.json()["error"]["code"] == "storage_unavailable"
    with live.app.app_context():
        user = db.session.execute(db.select(User).filter_by(username=live_username(live, token))).scalar_one()
        assert user.used_bytes == 0, "the reservation is given back"
        assert db.session.execute(db.select(File).filter_by(owner_id=user.id)).first() is None


def live_username(live, token):
    return requests.get(f"{live.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"},
                        timeout=30).json()["username"]


def test_a_hung_store_answers_503_fast_keeps_pages_fast_and_recovers_by_itself(live, store):
    _, token = live.user()
    session = api(live, token)
    upload = start_upload(session, live, LARGE).json()
    parts_url = f"{live.url}/api/v1/uploads/{upload['id']}/parts"
    assert session.get(parts_url, timeout=30).status_code == 200
    store.set(STALL)

    with ThreadPoolExecutor(16) as pool:
        needing_storage = [pool.submit(timed, lambda: api(live, token).get(parts_url, timeout=60))
                           for _ in range(16)]
        time.sleep(0.2)
        login, login_took = timed(lambda: requests.get(f"{live.url}/login", timeout=30))
        health, health_took = timed(lambda: requests.get(f"{live.url}/readyz", timeout=30))
        answers = [future.result() for future in needing_storage]

    assert login.status_code == 200 and login_took < FAST, login_took
    assert health.status_code == 503 and health.json()["storage"] == "down" and health_took < HEALTH_BOUND, health_took
    assert health.json()["database"] == "ok"
    for response, took in answers:
        assert response.status_code == 503 and took < WORST_CALL, (response.status_code, took)
        assert "storage" in response.json()["error"]["message"].lower()
    # Once calls have failed, the next ones are refused without asking the store. When the cooldown has
    # run out meanwhile (a busy machine), one of them is the trial call and may wait out its timeouts.
    connections_before = store.connections
    with ThreadPoolExecutor(16) as pool:
        again = list(pool.map(lambda _: timed(lambda: api(live, token).get(parts_url, timeout=60)), range(16)))
    assert all(response.status_code == 503 for response, _ in again)
    assert store.connections - connections_before <= TIMEOUTS["S3_MAX_ATTEMPTS"], "at most one trial call"
    assert max(took for _, took in again) < WORST_CALL, [took for _, took in again]

    store.set(PASS)
    deadline = time.monotonic() + TIMEOUTS["STORAGE_RETRY_AFTER"] + WORST_CALL
    while time.monotonic() < deadline and session.get(parts_url, timeout=30).status_code != 200:
        time.sleep(0.2)
    assert session.get(parts_url, timeout=30).status_code == 200, "Locker tries the store again by itself"
    assert requests.get(f"{live.url}/readyz", timeout=30).status_code == 200


def test_locker_and_its_commands_start_while_the_store_is_down(request, make_app, store):
    store.set(REFUSE)
    live = start_live(request, make_app, "s3", S3_ENDPOINT_URL=store.url, SETUP_STORAGE=False, **TIMEOUTS)
    runner = live.app.test_cli_runner()

    created = runner.invoke(args=["locker", "create-user", "ada", "--password", PASSWORD])
    assert created.exit_code == 0, created.output
    assert sign_in(live, "ada").status_code == 302
    health, took = timed(lambda: requests.get(f"{live.url}/readyz", timeout=30))
    assert health.status_code == 503 and health.json()["storage"] == "down" and took < HEALTH_BOUND, took

    setup = runner.invoke(args=["locker", "setup-storage"])
    assert setup.exit_code == 1 and "Storage could not be set up" in setup.output
    check = runner.invoke(args=["locker", "check-storage"])
    assert check.exit_code == 1 and "FAIL  reachable" in check.output
    sweep = runner.invoke(args=["locker", "sweep"])
    assert sweep.exit_code == 1 and "Storage is not reachable, so nothing was swept" in sweep.output

    store.set(PASS)
    assert runner.invoke(args=["locker", "setup-storage"]).exit_code == 0
    _, token = live.user()
    deadline = time.monotonic() + TIMEOUTS["STORAGE_RETRY_AFTER"] + WORST_CALL
    while requests.get(f"{live.url}/readyz", timeout=30).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert start_upload(api(live, token), live, LARGE).status_code == 201


def test_a_multipart_start_that_times_out_leaves_only_what_sweep_finds(live, store):
    """The store may have made the upload before it stopped answering: sweep reports it, and removes it."""
    _, token = live.user()
    store.set(MUTE)
    response = start_upload(api(live, token), live, LARGE)
    assert response.status_code == 503
    store.set(PASS)
    time.sleep(TIMEOUTS["STORAGE_RETRY_AFTER"])
    with live.app.app_context():
        live.app.config["ORPHAN_GRACE"] = 0
        result = live.app.test_cli_runner().invoke(args=["locker", "sweep", "--delete"])
        assert result.exit_code == 0, result.output
        assert "Multipart uploads no file knows: 0" not in result.output
        storage = live.app.extensions["locker.storage"]
        assert list(storage.iter_multipart_uploads("u/")) == []
        assert db.session.execute(db.select(File)).first() is None
