"""What LOCKER_ENV=production refuses to start with, and what it only warns about.

Every finding is collected before any is reported, so an operator fixes them all in one go
instead of meeting them one restart at a time.
"""
import ipaddress
import logging
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from werkzeug.middleware.proxy_fix import ProxyFix

log = logging.getLogger(__name__)

MIN_SECRET_LENGTH = 32
# Values that appear in examples and tutorials; a key anyone can read signs anyone's session.
SAMPLE_SECRETS = {"change-me", "changeme", "secret", "testing", "development", "dev", "please-change-me",
                  "replace-with-a-long-random-value"}


@dataclass
class Findings:
    refusals: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def review(config):
    """Every unsafe production setting in `config`: what must change (refusals) and what to look at (warnings)."""
    found = Findings()
    secret = config.get("SECRET_KEY") or ""
    if not secret:
        found.refusals.append("SECRET_KEY is not set: set it to a long random value, e.g. the output of "
                              "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'.")
    elif secret.lower() in SAMPLE_SECRETS or len(secret) < MIN_SECRET_LENGTH or len(set(secret)) < 10:
        found.refusals.append(f"SECRET_KEY is a sample or too short (fewer than {MIN_SECRET_LENGTH} varied "
                              "characters): anyone who guesses it can sign in as anyone. Make a new random one.")

    public_url = config.get("PUBLIC_URL") or ""
    parts = urlsplit(public_url)
    secure_cookies = config.get("SESSION_COOKIE_SECURE") and config.get("REMEMBER_COOKIE_SECURE")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        found.refusals.append("PUBLIC_URL is not set to the address people use (e.g. https://files.example.org): "
                              "links, mail and the bucket's CORS rule are built from it, never from a request's Host.")
    elif parts.scheme == "https" and not secure_cookies:
        found.refusals.append("SECURE_COOKIES is off while PUBLIC_URL is https: session cookies could leak over a "
                              "plain-http request. Remove SECURE_COOKIES=0.")
    elif parts.scheme == "http" and secure_cookies:
        found.refusals.append("PUBLIC_URL is http but cookies are Secure: browsers would not send them back and "
                              "nobody could sign in. Serve Locker over https (see deploy/), or set SECURE_COOKIES=0 "
                              "if plain http is really meant.")
    elif parts.scheme == "http":
        found.warnings.append("PUBLIC_URL is plain http: passwords and sessions cross the network unencrypted.")

    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") and not config.get("ALLOW_SQLITE"):
        found.refusals.append("DATABASE_URL is SQLite: use PostgreSQL in production, or set ALLOW_SQLITE=1 for a "
                              "single host whose database lives on its own disk.")

    workers = config.get("WORKER_PROCESSES") or 1
    if workers > 1 and config.get("RATELIMIT_STORAGE_URI", "").startswith("memory"):
        found.refusals.append(f"REDIS_URL is not set while gunicorn runs {workers} workers: each would count "
                              f"sign-in and link-password guesses on its own, allowing {workers} times as many. "
                              "Set REDIS_URL, or run one worker (GUNICORN_WORKERS=1).")

    if config.get("REGISTRATION") == "open":
        found.warnings.append("REGISTRATION=open: anyone who can reach PUBLIC_URL can make an account.")
    return found


def enforce(config, logger=log):
    """Log every warning, and refuse to start (naming every refusal at once) when there is any."""
    found = review(config)
    for warning in found.warnings:
        logger.warning("production setting: %s", warning)
    if found.refusals:
        lines = "\n".join(f"  - {refusal}" for refusal in found.refusals)
        raise RuntimeError(f"Locker will not start in production with these settings:\n{lines}")


def allowed_proxies(setting):
    """FORWARDED_ALLOW_IPS ("127.0.0.1,::1", networks such as 10.0.0.0/24, or "*") as a test of an address.

    The same setting gunicorn reads for X-Forwarded-Proto, so one list says who the proxy is.
    """
    entries = [entry.strip() for entry in setting.split(",") if entry.strip()]
    if "*" in entries:
        return lambda address: True
    try:
        networks = [ipaddress.ip_network(entry, strict=False) for entry in entries]
    except ValueError as error:
        raise RuntimeError(f"FORWARDED_ALLOW_IPS must list IP addresses or networks, or be *: {error}") from None

    def allowed(address):
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        return any(ip in network for network in networks)
    return allowed


class TrustedProxy:
    """With TRUST_PROXY on, X-Forwarded-For/-Proto/-Host count only on requests from an allowed proxy.

    A request from any other address keeps its own address, whatever headers it carries: whoever
    reaches Locker directly cannot pick the client address (and so the rate-limit identity) it
    is known by. Such a request carrying X-Forwarded-For is logged once (a proxy missing from
    FORWARDED_ALLOW_IPS, or someone going around it).
    """

    def __init__(self, wsgi_app, allowed, logger=log):
        self.direct = wsgi_app
        self.proxied = ProxyFix(wsgi_app, x_for=1, x_proto=1, x_host=1)
        self.allowed = allowed
        self.logger = logger
        self.warned = False

    def __call__(self, environ, start_response):
        address = environ.get("REMOTE_ADDR")
        if self.allowed(address):
            return self.proxied(environ, start_response)
        if not self.warned and "HTTP_X_FORWARDED_FOR" in environ:
            self.warned = True
            self.logger.warning("A request from %s carried X-Forwarded-For, but %s is not in FORWARDED_ALLOW_IPS: "
                                "its forwarded headers are ignored. Add the proxy's address there, or bind Locker "
                                "to an address only the proxy reaches.", address, address)
        return self.direct(environ, start_response)


def came_through_proxy(environ):
    """Whether TrustedProxy applied the proxy's headers to this request (ProxyFix keeps the originals here)."""
    return "werkzeug.proxy_fix.orig" in environ
