"""Request ids and JSON log lines: every line of a request names it, and no line carries a secret."""
import json
import logging
import re

import pytest

from tests.fault_support import REFUSE, proxy_to  # noqa: F401  (fixture)
from tests.live_support import moto_server  # noqa: F401  (fixture)

GENERATED = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture
def json_logs(capsys):
    """Lines the app logs with LOG_FORMAT=json, parsed; the process's logging is put back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    def lines():
        return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]

    yield lines
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize(("trust_proxy", "offered", "adopted"), [
    (True, "5f2b6c0e9d8a4b7c8e1f2a3b4c5d6e7f", True),
    (True, "req-2026.12.07:frontend-1", True),
    (True, "x" * 129, False),
    (True, "short", False),
    (True, "id with spaces and \"quotes\"", False),
    (True, "id/../../etc;rm-rf", False),
    (False, "5f2b6c0e9d8a4b7c8e1f2a3b4c5d6e7f", False),
])
def test_the_request_id_is_a_trusted_proxys_when_well_formed_else_made_here(make_app, trust_proxy, offered,
                                                                            adopted):
    client = make_app(STORAGE_BACKEND="local", TRUST_PROXY=trust_proxy).test_client()
    response = client.get("/healthz", headers={"X-Request-ID": offered})
    echoed = response.headers["X-Request-ID"]
    if adopted:
        assert echoed == offered
    else:
        assert GENERATED.match(echoed) and echoed != offered


def test_every_request_gets_its_own_id(make_app):
    client = make_app(STORAGE_BACKEND="local").test_client()
    ids = {client.get(path).headers["X-Request-ID"] for path in ("/healthz", "/login", "/no-such-page")}
    assert len(ids) == 3 and all(GENERATED.match(each) for each in ids)


def test_json_lines_carry_the_request_id(make_app, moto_server, proxy_to, accounts, json_logs):
    """A real line: the warning Locker logs when storage does not answer, during a request."""
    store = proxy_to(moto_server)
    app = make_app(STORAGE_BACKEND="s3", S3_BUCKET="locker-logs", S3_ENDPOINT_URL=store.url, SETUP_STORAGE=True,
                   PUBLIC_URL="http://localhost", LOG_FORMAT="json", S3_CONNECT_TIMEOUT=0.5, S3_MAX_ATTEMPTS=1)
    with app.app_context():
        token = accounts.token(accounts.create())
    store.set(REFUSE)
    response = app.test_client().post("/api/v1/uploads", headers={"Authorization": f"Bearer {token}"},
                                      json={"name": "big.bin", "size": 100 * 1024 * 1024})
    assert response.status_code == 503
    lines = json_logs()
    warning = next(line for line in lines if line["message"].startswith("storage unavailable"))
    assert warning["request_id"] == response.headers["X-Request-ID"]
    assert warning["level"] == "WARNING" and warning["logger"] == "app.services.common" and warning["time"]
    assert token not in json.dumps(lines)


SECRETS = {
    "signed S3 URL": ("upload to http://s3.example/bucket/u/1/abc?X-Amz-Credential=AKIDEXAMPLE%2F20261207&"
                      "X-Amz-Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
                      ["AKIDEXAMPLE", "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"]),
    "local signed URL": ("GET /_storage/u/1/abc?sig=eyJrIjoidS8xL2FiYyJ9.c2lnbmF0dXJl", ["eyJrIjoidS8xL2FiYyJ9"]),
    "share link": ("opened https://locker.example/s/Vq3xY7kLm2Pn8Rt5Wz1A and left", ["Vq3xY7kLm2Pn8Rt5Wz1A"]),
    "bearer token": ("header was Authorization: Bearer lk_7hG2pQ9xW4mZ", ["lk_7hG2pQ9xW4mZ"]),
    "password in an address": ("cannot reach redis://:hunter2-redis@cache:6379/0", ["hunter2-redis"]),
}


@pytest.mark.parametrize("kind", SECRETS)
def test_json_lines_carry_no_secret(make_app, json_logs, kind):
    message, secrets = SECRETS[kind]
    app = make_app(STORAGE_BACKEND="local", LOG_FORMAT="json")
    with app.test_request_context("/"):
        app.preprocess_request()
        logging.getLogger("app.test").warning("%s", message)
        try:
            raise RuntimeError(message)
        except RuntimeError:
            logging.getLogger("app.test").exception("failed")
    lines = json_logs()
    assert len(lines) == 2 and all(GENERATED.match(line["request_id"]) for line in lines)
    assert "[redacted]" in lines[0]["message"] and "[redacted]" in lines[1]["exc_info"]
    for secret in secrets:
        assert secret not in json.dumps(lines), kind
