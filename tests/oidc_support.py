"""A real OpenID Connect provider (oidc-provider-mock) on a free loopback port, for the single sign-on tests.

The provider is a Flask app served by werkzeug in a thread; Locker talks to it over HTTP (discovery,
keys, token) exactly as it would to a real one. Its authorization page lets a test or a browser type
the subject to sign in as, or deny; `set_user` gives a subject its claims first.
"""
import io
import os
import socket
import threading
from urllib.parse import parse_qs, urlsplit

import oidc_provider_mock
import pytest
import requests
from werkzeug.serving import make_server

from tests.live_support import HOST, QuietHandler

# The mock is an Authlib authorization server, which refuses plain HTTP unless told this is a test.
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
CLIENT_ID = "locker-tests"
CLIENT_SECRET = "locker-tests-secret"


class Provider:
    def __init__(self, port=0):
        self.last_callback = None  # where the provider last sent the browser back to
        self.token_requests = []  # the form of each token request Locker sent, to check its PKCE verifier
        self.provider_app = oidc_provider_mock.app(require_nonce=True)
        self.server = make_server(HOST, port, self.record_token_requests, threaded=True,
                                  request_handler=QuietHandler)
        self.url = f"http://{HOST}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def record_token_requests(self, environ, start_response):
        if environ["PATH_INFO"] == "/oauth2/token" and environ["REQUEST_METHOD"] == "POST":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            self.token_requests.append({name: values[0] for name, values in parse_qs(body.decode()).items()})
            environ["wsgi.input"] = io.BytesIO(body)
        return self.provider_app(environ, start_response)

    def settings(self, **overrides):
        """Locker settings for single sign-on with this provider."""
        return {"OIDC_ISSUER": self.url, "OIDC_CLIENT_ID": CLIENT_ID, "OIDC_CLIENT_SECRET": CLIENT_SECRET,
                "OIDC_PROVIDER_NAME": "Test SSO", "OIDC_TIMEOUT": 3, **overrides}

    def set_user(self, sub, **claims):
        """The claims the provider gives `sub` (its ID token carries those the scopes allow)."""
        response = requests.put(f"{self.url}/users/{sub}", json=claims, timeout=5)
        assert response.status_code == 204, response.text

    def authorize(self, authorize_url, sub):
        """Sign in at the provider as `sub`: the callback URL it sends the browser back to."""
        return self._answer(authorize_url, {"sub": sub})

    def deny(self, authorize_url):
        """Refuse at the provider: the callback URL, carrying error=access_denied."""
        return self._answer(authorize_url, {"action": "deny"})

    def _answer(self, authorize_url, form):
        assert authorize_url.startswith("http://"), authorize_url
        response = requests.post(authorize_url, data=form, allow_redirects=False, timeout=5)
        assert response.status_code == 302, response.text
        self.last_callback = response.headers["Location"]
        return response.headers["Location"]

    def start(self):
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def query(url):
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def path_and_query(url):
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


@pytest.fixture(scope="module")
def oidc_provider():
    provider = Provider()
    provider.start()
    yield provider
    provider.stop()


def closed_port():
    """A loopback port nothing listens on (bound and released), for a provider that is down."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]
