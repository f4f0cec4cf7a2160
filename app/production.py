"""What LOCKER_ENV=production refuses to start with, and what it only warns about.

Every finding is collected before any is reported, so an operator fixes them all in one go
instead of meeting them one restart at a time.
"""
import ipaddress
import logging
from dataclasses import dataclass, field
from urllib.parse import urlsplit

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


class ProxyHeadersExpected:
    """With TRUST_PROXY on, warn once if a request from another host arrives without X-Forwarded-For.

    Such a request did not pass through the proxy: whoever can reach Locker directly can then
    write any client address (and so any rate-limit identity) into that header. Loopback is left
    out: health checks from the same host or container come straight to Locker on purpose.
    """

    def __init__(self, wsgi_app, logger=log):
        self.wsgi_app = wsgi_app
        self.logger = logger
        self.warned = False

    def __call__(self, environ, start_response):
        if not self.warned and "HTTP_X_FORWARDED_FOR" not in environ and not is_loopback(environ.get("REMOTE_ADDR")):
            self.warned = True
            self.logger.warning("TRUST_PROXY is on, but a request from %s came without X-Forwarded-For: is Locker "
                                "reachable without the proxy? Bind it to an address only the proxy reaches, or "
                                "set TRUST_PROXY=0.", environ.get("REMOTE_ADDR"))
        return self.wsgi_app(environ, start_response)


def is_loopback(address):
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False
