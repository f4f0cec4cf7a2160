"""TRUST_PROXY: the proxy's X-Forwarded-* count only on requests from FORWARDED_ALLOW_IPS."""
import logging
import uuid

import pytest

from app import production

PROXY = "10.0.0.9"
OUTSIDER = "198.51.100.4"


def token_attempts(client, remote_addr, forwarded_for):
    """Statuses of wrong-password token requests, one per forged client address, all from remote_addr."""
    return [client.post("/api/v1/auth/token", json={"username": f"nobody{uuid.uuid4().hex[:8]}", "password": "x"},
                        headers={"X-Forwarded-For": address},
                        environ_base={"REMOTE_ADDR": remote_addr}).status_code
            for address in forwarded_for]


@pytest.fixture
def proxied_app(make_app):
    return make_app(STORAGE_BACKEND="local", TRUST_PROXY=True, FORWARDED_ALLOW_IPS=f"127.0.0.1,::1,{PROXY}/32",
                    LOGIN_LIMIT_PER_ADDRESS="2 per hour", LOGIN_LIMIT_PER_ACCOUNT="100 per hour")


def test_a_forged_forwarded_for_from_a_direct_client_is_ignored(proxied_app, caplog):
    with proxied_app.app_context(), caplog.at_level(logging.WARNING):
        client = proxied_app.test_client()
        # A new made-up address each time: were it believed, the per-address limit would never bite.
        statuses = token_attempts(client, OUTSIDER, ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"])
        assert statuses == [401, 401, 429, 429], "limited on the real address"
        ignored = [record for record in caplog.records if "not in FORWARDED_ALLOW_IPS" in record.getMessage()]
        assert len(ignored) == 1 and OUTSIDER in ignored[0].getMessage(), "logged once"
        page = client.get("/healthz", headers={"X-Forwarded-Proto": "https", "X-Request-ID": "from-outside-1"},
                          environ_base={"REMOTE_ADDR": OUTSIDER})
        assert page.headers["X-Request-ID"] != "from-outside-1", "nor its request id"


def test_the_allowed_proxy_names_the_client(proxied_app):
    with proxied_app.app_context():
        client = proxied_app.test_client()
        assert token_attempts(client, PROXY, ["203.0.113.1", "203.0.113.2", "203.0.113.3"]) == [401, 401, 401]
        # Two per client address: the third from one client is refused, whichever proxy address it came by.
        assert token_attempts(client, PROXY, ["203.0.113.1", "203.0.113.1"]) == [401, 429]
        page = client.get("/healthz", headers={"X-Request-ID": "from-the-proxy-1"}, environ_base={"REMOTE_ADDR": PROXY})
        assert page.headers["X-Request-ID"] == "from-the-proxy-1"


def test_the_allow_list_takes_addresses_networks_or_a_star_and_refuses_anything_else():
    allowed = production.allowed_proxies("127.0.0.1, ::1,10.1.0.0/16")
    assert allowed("127.0.0.1") and allowed("::1") and allowed("10.1.200.3")
    assert not allowed("10.2.0.1") and not allowed("") and not allowed(None) and not allowed("unix:/run/x")
    assert production.allowed_proxies("*")("203.0.113.9")
    with pytest.raises(RuntimeError, match="FORWARDED_ALLOW_IPS"):
        production.allowed_proxies("127.0.0.1,proxy.example.org")
