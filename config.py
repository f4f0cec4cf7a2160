"""Locker settings, read from the environment and `.env`.

Every setting is documented in `.env.example`.
"""
import os
from datetime import timedelta
from pathlib import Path

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent
load_dotenv(BASE_DIR / ".env")

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
_UNITS = {"": 1, "B": 1, "K": KIB, "KB": KIB, "KIB": KIB, "M": MIB, "MB": MIB, "MIB": MIB,
          "G": GIB, "GB": GIB, "GIB": GIB, "T": 1024 * GIB, "TB": 1024 * GIB, "TIB": 1024 * GIB}


def parse_size(text):
    """Turn '5 GiB', '500M' or '1048576' into a number of bytes."""
    text = str(text).strip().upper().replace(" ", "")
    digits = text.rstrip("KMGTIB")
    unit = text[len(digits):]
    if not digits or unit not in _UNITS:
        raise ValueError(f"not a size: {text!r}")
    return int(float(digits) * _UNITS[unit])


_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text):
    """Turn '24h', '30m', '7d' or '86400' into seconds."""
    text = str(text).strip().lower().replace(" ", "")
    unit = text[-1:] if text[-1:] in _SECONDS else "s"
    digits = text[:-1] if text[-1:] in _SECONDS else text
    try:
        return int(float(digits) * _SECONDS[unit])
    except ValueError:
        raise ValueError(f"not a duration: {text!r}") from None


def env_list(name):
    """A comma-separated setting as a list of lower-case entries."""
    return [item.strip().lower() for item in (env(name) or "").split(",") if item.strip()]


def env(name, default=None):
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name, default=False):
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    ENV_NAME = "development"
    # Unset: production refuses to start; elsewhere a random key is kept in instance/secret_key.
    SECRET_KEY = env("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'instance' / 'locker.db'}")
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

    # Storage: local disk unless a bucket is configured.
    S3_BUCKET = env("S3_BUCKET")
    STORAGE_BACKEND = env("STORAGE_BACKEND", "s3" if env("S3_BUCKET") else "local")
    STORAGE_DIR = env("STORAGE_DIR", str(BASE_DIR / "instance" / "storage"))
    S3_REGION = env("S3_REGION", env("AWS_DEFAULT_REGION", "us-east-1"))
    S3_ENDPOINT_URL = env("S3_ENDPOINT_URL")
    S3_PUBLIC_ENDPOINT_URL = env("S3_PUBLIC_ENDPOINT_URL")
    PUBLIC_URL = env("PUBLIC_URL")
    # While serving a request a storage call may take at most about
    # S3_MAX_ATTEMPTS x (S3_CONNECT_TIMEOUT + S3_READ_TIMEOUT) seconds; after one fails,
    # calls answer 503 at once for STORAGE_RETRY_AFTER seconds, then one is let through to try.
    S3_CONNECT_TIMEOUT = float(env("S3_CONNECT_TIMEOUT", "2"))
    S3_READ_TIMEOUT = float(env("S3_READ_TIMEOUT", "5"))
    S3_MAX_ATTEMPTS = int(env("S3_MAX_ATTEMPTS", "2"))
    STORAGE_RETRY_AFTER = float(env("STORAGE_RETRY_AFTER", "5"))
    # A SeaweedFS cluster's master (http://host:9333), optional: /healthz then says "degraded" when a
    # volume lacks a copy, and uploads are refused with a clear 503 while the store can take none.
    S3_SEAWEEDFS_MASTER_URL = env("S3_SEAWEEDFS_MASTER_URL")

    MAX_FILE_SIZE = parse_size(env("MAX_FILE_SIZE", "50 GiB"))
    # Larger files go up in parts (S3 takes at most 5 GiB in one PUT).
    MULTIPART_THRESHOLD = parse_size(env("MULTIPART_THRESHOLD", "64 MiB"))
    # The smallest part; it grows with the file so that 10,000 parts always suffice.
    MULTIPART_PART_SIZE = parse_size(env("MULTIPART_PART_SIZE", "16 MiB"))
    # The largest JSON request body (a multipart completion lists up to 10,000 parts, well under this).
    MAX_JSON_BODY = parse_size(env("MAX_JSON_BODY", "4 MiB"))
    URL_EXPIRY = int(env("URL_EXPIRY", "300"))
    # Seconds a storage URL made for a share-link download works.
    SHARE_URL_EXPIRY = int(env("SHARE_URL_EXPIRY", "120"))
    # Seconds each storage URL of a zip list works (the browser fetches the files one after another).
    ZIP_URL_EXPIRY = int(env("ZIP_URL_EXPIRY", "3600"))
    # Minutes a browser that gave a link's password may download without giving it again.
    SHARE_UNLOCK_MINUTES = int(env("SHARE_UNLOCK_MINUTES", "30"))
    # Wrong link passwords (share and upload links alike) allowed to one address on one link, to one
    # address over all links, and to everyone on one link. The last is far above what people type, so
    # only guessing from many addresses reaches it; one address never locks the recipient out.
    SHARE_PASSWORD_LIMIT_PER_ADDRESS_AND_LINK = env("SHARE_PASSWORD_LIMIT_PER_ADDRESS_AND_LINK",
                                                    "5 per minute; 10 per hour")
    SHARE_PASSWORD_LIMIT_PER_ADDRESS = env("SHARE_PASSWORD_LIMIT_PER_ADDRESS", "20 per hour")
    SHARE_PASSWORD_LIMIT_PER_LINK = env("SHARE_PASSWORD_LIMIT_PER_LINK", "300 per hour")
    # Uploads a client address may start through upload-request links.
    REQUEST_UPLOAD_LIMIT_PER_ADDRESS = env("REQUEST_UPLOAD_LIMIT_PER_ADDRESS", "200 per hour")
    UPLOAD_URL_EXPIRY = int(env("UPLOAD_URL_EXPIRY", "3600"))
    # Pending uploads older than this are cancelled by `flask locker sweep`.
    UPLOAD_TTL = parse_duration(env("UPLOAD_TTL", "24h"))
    # Files and folders in the trash longer than this are deleted for good by `flask locker sweep`.
    TRASH_RETENTION = parse_duration(env("TRASH_RETENTION", "30d"))
    # Objects in storage that no row knows are removed by `sweep --delete` only after this long.
    ORPHAN_GRACE = parse_duration(env("ORPHAN_GRACE", "1h"))
    # Activity events older than this many days are removed by `flask locker sweep`; 0 keeps them all.
    AUDIT_RETENTION_DAYS = int(env("AUDIT_RETENTION_DAYS", "0"))
    # Per-user quota for users without their own; 0 means no limit.
    DEFAULT_QUOTA = parse_size(env("DEFAULT_QUOTA", "0"))
    # Comma-separated extensions (.exe) and content types (video/*, text/html).
    ALLOWED_TYPES = env_list("ALLOWED_TYPES")
    BLOCKED_TYPES = env_list("BLOCKED_TYPES")

    # Accounts and sessions.
    REGISTRATION = env("REGISTRATION", "open")
    LOCKER_ADMIN_USERNAME = env("LOCKER_ADMIN_USERNAME")
    LOCKER_ADMIN_PASSWORD = env("LOCKER_ADMIN_PASSWORD")
    SESSION_LIFETIME = timedelta(minutes=int(env("SESSION_LIFETIME", "30")))
    REMEMBER_LIFETIME = timedelta(days=int(env("REMEMBER_LIFETIME", "30")))
    PERMANENT_SESSION_LIFETIME = REMEMBER_LIFETIME
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES")
    REMEMBER_COOKIE_DURATION = REMEMBER_LIFETIME
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = env_bool("SECURE_COOKIES")
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session it belongs to

    # Rate limits (Flask-Limiter): memory unless REDIS_URL is set.
    REDIS_URL = env("REDIS_URL")
    RATELIMIT_STORAGE_URI = env("REDIS_URL", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_LIMIT_PER_ACCOUNT = env("LOGIN_LIMIT_PER_ACCOUNT", "5 per minute")
    LOGIN_LIMIT_PER_ADDRESS = env("LOGIN_LIMIT_PER_ADDRESS", "20 per minute")
    # Sign-up attempts per address at /register (accounts made and names found taken count).
    REGISTER_LIMIT_PER_ADDRESS = env("REGISTER_LIMIT_PER_ADDRESS", "5 per hour")

    # Email (optional): password resets, invitations and opt-in notices. Unset MAIL_SERVER: no mail.
    # MAIL_SECURITY is starttls (port 587), ssl (port 465) or none (a relay on the same host or LAN).
    MAIL_SERVER = env("MAIL_SERVER")
    MAIL_PORT = int(env("MAIL_PORT", "587"))
    MAIL_SECURITY = env("MAIL_SECURITY", "starttls").lower()
    MAIL_USERNAME = env("MAIL_USERNAME")
    MAIL_PASSWORD = env("MAIL_PASSWORD")
    MAIL_FROM = env("MAIL_FROM", "Locker <locker@localhost>")
    # Seconds one SMTP conversation may take; mail goes out from a background thread, never a request.
    MAIL_TIMEOUT = float(env("MAIL_TIMEOUT", "10"))

    # Single sign-on with an OpenID Connect provider, on when OIDC_ISSUER and OIDC_CLIENT_ID are set.
    # The provider is first contacted at the first sign-in (never at start-up), each call waiting at most
    # OIDC_TIMEOUT seconds. OIDC_CREATE_USERS makes an account on a first sign-in (even with
    # REGISTRATION closed: the provider decides who may sign in); OIDC_LINK_BY_EMAIL signs a first-time
    # identity in to the existing account with the same, provider-verified, email. LOCAL_LOGIN off
    # refuses password sign-in on the page and the API (setup links and `flask locker` still work).
    OIDC_ISSUER = env("OIDC_ISSUER")
    OIDC_CLIENT_ID = env("OIDC_CLIENT_ID")
    OIDC_CLIENT_SECRET = env("OIDC_CLIENT_SECRET")
    OIDC_PROVIDER_NAME = env("OIDC_PROVIDER_NAME", "SSO")
    OIDC_SCOPES = env("OIDC_SCOPES", "openid email profile")
    OIDC_CREATE_USERS = env_bool("OIDC_CREATE_USERS", True)
    OIDC_LINK_BY_EMAIL = env_bool("OIDC_LINK_BY_EMAIL", False)
    OIDC_TIMEOUT = float(env("OIDC_TIMEOUT", "5"))
    LOCAL_LOGIN = env_bool("LOCAL_LOGIN", True)

    # Invitations, password resets and email notices (services.invitations, password_resets, notices).
    # A reset link works this long (24h, 30m, 2d); a newer one voids older ones.
    PASSWORD_RESET_LIFETIME = parse_duration(env("PASSWORD_RESET_LIFETIME", "24h"))
    # "Forgot your password?" requests per client address (over: 429), and reset emails per account
    # (over: the page answers as always, but no more mail goes to that inbox for a while).
    RESET_LIMIT_PER_ADDRESS = env("RESET_LIMIT_PER_ADDRESS", "5 per hour")
    RESET_LIMIT_PER_ACCOUNT = env("RESET_LIMIT_PER_ACCOUNT", "3 per hour")
    # At most this many notice emails per share link (downloads) or upload request (files arriving).
    NOTICE_LIMIT_PER_LINK = env("NOTICE_LIMIT_PER_LINK", "1 per 10 minutes")

    # Behind a reverse proxy, trust its X-Forwarded-For/-Proto/-Host (one hop).
    TRUST_PROXY = env_bool("TRUST_PROXY")
    # ... but only on requests from these addresses (the proxy's): gunicorn.conf.py reads the same.
    FORWARDED_ALLOW_IPS = env("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
    # Production refuses SQLite unless this says it is meant (one host, the database on its own disk).
    ALLOW_SQLITE = env_bool("ALLOW_SQLITE")
    # How many gunicorn workers serve this host: gunicorn.conf.py sets it for its workers, so the
    # production checks can tell that in-memory rate limits would be split between them.
    WORKER_PROCESSES = int(env("LOCKER_WORKER_PROCESSES", "1"))
    # ... and how many threads each runs (set there too): a worker keeps a database connection for each.
    WORKER_THREADS = int(env("LOCKER_WORKER_THREADS", "1"))

    FILES_PER_PAGE = int(env("FILES_PER_PAGE", "50"))

    # Logs, metrics and error reports (app.logs, app.metrics, app.error_reports; README "Health, metrics and logs").
    # LOG_FORMAT json: one JSON object a line, with the request's id, gunicorn's lines included.
    LOG_FORMAT = env("LOG_FORMAT", "text").lower()
    LOG_LEVEL = env("LOG_LEVEL", "INFO").upper()
    # /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; unset, it answers 404.
    METRICS_TOKEN = env("METRICS_TOKEN")
    # Errors go to Sentry (or a compatible service) only when this is set; never with tokens or passwords.
    SENTRY_DSN = env("SENTRY_DSN")
    SENTRY_ENVIRONMENT = env("SENTRY_ENVIRONMENT")

    # Deleting an account: its files go this many at a time, a commit between batches, so a deletion
    # cut short resumes where it stopped. A deletion asked for on a page or through the API works for
    # at most DELETION_REQUEST_SECONDS; `flask locker sweep` finishes what is left (the account is
    # unusable from the first moment either way).
    DELETION_BATCH_SIZE = int(env("DELETION_BATCH_SIZE", "500"))
    DELETION_REQUEST_SECONDS = parse_duration(env("DELETION_REQUEST_SECONDS", "20s"))


class DevelopmentConfig(Config):
    DEBUG = False


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing"
    SQLALCHEMY_DATABASE_URI = env("TEST_DATABASE_URL", "sqlite://")
    REGISTRATION = "open"
    LOCKER_ADMIN_USERNAME = None
    LOCKER_ADMIN_PASSWORD = None
    RATELIMIT_STORAGE_URI = "memory://"
    METRICS_TOKEN = None
    SENTRY_DSN = None
    LOG_FORMAT = "text"
    # Tests turn single sign-on on themselves, against a provider they start.
    OIDC_ISSUER = None
    OIDC_CLIENT_ID = None
    LOCAL_LOGIN = True


class ProductionConfig(Config):
    ENV_NAME = "production"
    REGISTRATION = env("REGISTRATION", "closed")
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    REMEMBER_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)


CONFIGS = {"development": DevelopmentConfig, "testing": TestingConfig, "production": ProductionConfig}


def config_from_env():
    """The config class LOCKER_ENV names (development by default)."""
    name = env("LOCKER_ENV", "development")
    if name not in CONFIGS:
        raise RuntimeError(f"LOCKER_ENV must be one of {', '.join(CONFIGS)}, not {name!r}")
    return CONFIGS[name]
