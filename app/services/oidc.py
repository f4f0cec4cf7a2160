"""Single sign-on with an OpenID Connect provider, beside local passwords or instead of them.

Authlib's Flask client does the protocol: the authorization request carries a
state, a nonce and a PKCE (S256) challenge kept in this browser's session; on
the callback it checks the state, trades the code (with the PKCE verifier) for
tokens and verifies the ID token's signature, issuer, audience, expiry and
nonce. This module decides which Locker account the verified claims name.

The provider's metadata is loaded on the first sign-in, not at start-up, with
a short timeout: a provider that is down must not keep Locker from starting,
and while it is down only single sign-on answers 503.
"""
import hashlib
import logging
import re
import unicodedata
import uuid
from urllib.parse import urlsplit

import requests
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from flask import current_app, session
from joserfc.errors import JoseError
from sqlalchemy.exc import IntegrityError

from app import transactions
from app.errors import Forbidden, InvalidInput, Unauthorized, Unavailable
from app.extensions import db
from app.models import User, UserIdentity, utcnow
from app.services import audit, users
from app.text import is_plain_text

log = logging.getLogger(__name__)
CLIENT = "locker.oidc"
CLIENT_NAME = "locker"
# Where Authlib's Flask client keeps a pending sign-in's state, nonce and PKCE verifier in the session.
STATE_KEY_PREFIX = f"_state_{CLIENT_NAME}_"
PROVIDER_COLUMN_LENGTH = UserIdentity.provider.type.length
# Two sign-ins racing for the same new name or email: each retry sees what the other committed.
CREATE_ATTEMPTS = 5
# Numbered usernames tried in one query (jane, jane2, ... jane20) before a random suffix.
NUMBERED_CANDIDATES = 20


def is_configured(config=None):
    config = current_app.config if config is None else config
    return bool(config.get("OIDC_ISSUER") and config.get("OIDC_CLIENT_ID"))


def check_settings(config):
    """Refuse to start on single sign-on settings that cannot work; touches no network."""
    issuer, client_id = config.get("OIDC_ISSUER"), config.get("OIDC_CLIENT_ID")
    if bool(issuer) != bool(client_id):
        raise RuntimeError("Set both OIDC_ISSUER and OIDC_CLIENT_ID for single sign-on, or neither.")
    if issuer:
        parts = urlsplit(issuer)
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
            raise RuntimeError(f"OIDC_ISSUER must be the provider's issuer URL (https://...), not {issuer!r}.")
        if "openid" not in config["OIDC_SCOPES"].split():
            raise RuntimeError(f"OIDC_SCOPES must include openid, not {config['OIDC_SCOPES']!r}.")
    if not config.get("LOCAL_LOGIN") and not issuer:
        raise RuntimeError("LOCAL_LOGIN is off but single sign-on is not configured (OIDC_ISSUER, "
                           "OIDC_CLIENT_ID): nobody could sign in.")


def init_app(app):
    """Register the provider's client (no request is made until someone signs in)."""
    if not is_configured(app.config):
        return
    config = app.config
    client_kwargs = {"scope": config["OIDC_SCOPES"], "code_challenge_method": "S256",
                     # Every call to the provider (metadata, keys, token) gives up after this long.
                     "default_timeout": config["OIDC_TIMEOUT"]}
    if not config.get("OIDC_CLIENT_SECRET"):
        client_kwargs["token_endpoint_auth_method"] = "none"  # a public client: PKCE alone protects the code
    oauth = OAuth(app)
    app.extensions[CLIENT] = oauth.register(
        CLIENT_NAME, client_id=config["OIDC_CLIENT_ID"], client_secret=config.get("OIDC_CLIENT_SECRET"),
        server_metadata_url=config["OIDC_ISSUER"].rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs=client_kwargs)


def provider_name():
    return current_app.config["OIDC_PROVIDER_NAME"]


def local_login_enabled():
    return bool(current_app.config["LOCAL_LOGIN"])


def require_local_login():
    """Password sign-in (and sign-up) is refused while LOCAL_LOGIN is off."""
    if not local_login_enabled():
        raise Forbidden(f"Signing in with a password is turned off here. Sign in with {provider_name()} "
                        "instead; programs use an API token made on the Account page.",
                        code="local_login_disabled")


def client():
    found = current_app.extensions.get(CLIENT)
    if found is None:
        raise Forbidden("Single sign-on is not set up here.", code="sso_not_configured")
    return found


def provider_unavailable(error):
    log.warning("OpenID Connect provider failed: %s", error)
    return Unavailable(f"{provider_name()} is not answering, so you cannot sign in with it right now. "
                       "Try again in a few minutes.", code="sso_unavailable")


def authorization_redirect(redirect_uri):
    """The redirect to the provider's sign-in page; state, nonce and PKCE verifier go into the session."""
    transactions.end_before_network_call()
    # Authlib keeps each attempt's state in the session cookie until it expires an hour later, so a
    # button pressed again and again would grow the cookie past what browsers keep. Only the latest
    # attempt stays valid (an older tab's callback is refused and says to start again).
    for key in [key for key in session if key.startswith(STATE_KEY_PREFIX)]:
        session.pop(key)
    try:
        return client().authorize_redirect(redirect_uri)
    except (requests.RequestException, ValueError, RuntimeError, KeyError) as error:
        # Down, timed out, or answering with something that is not its metadata.
        raise provider_unavailable(error) from None


def verified_claims():
    """The ID token's claims for the callback request in progress, checked by Authlib; raises LockerError."""
    name = provider_name()
    transactions.end_before_network_call()
    try:
        token = client().authorize_access_token()
    except MismatchingStateError:
        raise InvalidInput(f"This sign-in was not started from this browser, or was already used. "
                           f"Start again with “Sign in with {name}”.", code="sso_state_mismatch") from None
    except OAuthError as error:
        if error.error == "access_denied":
            raise Unauthorized(f"Signing in with {name} was cancelled or refused. You are not signed in.",
                               code="sso_refused") from None
        log.warning("OpenID Connect sign-in refused: %s %s", error.error, error.description)
        raise Unauthorized(f"{name} did not sign you in ({error.error}). Start again with “Sign in with {name}”.",
                           code="sso_failed") from None
    except JoseError as error:
        log.warning("OpenID Connect ID token refused: %s", error)
        raise Unauthorized(f"The answer from {name} could not be verified. You are not signed in.",
                           code="sso_invalid_token") from None
    except (requests.RequestException, ValueError, RuntimeError, KeyError) as error:
        raise provider_unavailable(error) from None
    claims = token.get("userinfo")
    if not claims or not claims.get("sub") or not claims.get("iss"):
        raise Unauthorized(f"{name} sent no ID token. You are not signed in.", code="sso_invalid_token")
    # Authlib compares the token's issuer with the one the metadata names; the metadata must in turn be
    # the configured issuer's own (OpenID Connect Discovery 4.3), or another issuer's accounts could sign in.
    if str(claims["iss"]).rstrip("/") != current_app.config["OIDC_ISSUER"].rstrip("/"):
        log.warning("OpenID Connect issuer %r is not OIDC_ISSUER", claims["iss"])
        raise Unauthorized(f"The answer from {name} could not be verified. You are not signed in.",
                           code="sso_invalid_token")
    return dict(claims)


def check_provider():
    """What `flask locker check-sso` reports: (ok, name, detail) for each thing sign-in relies on.

    Contacts the provider (metadata and keys), as a sign-in would; run it outside any request.
    """
    config = current_app.config
    found = client()
    url = config["OIDC_ISSUER"].rstrip("/") + "/.well-known/openid-configuration"
    try:
        metadata = found.load_server_metadata()
    except (requests.RequestException, ValueError) as error:
        return [(False, "metadata", f"{url}: {error}")]
    checks = [(True, "metadata", url)]
    issuer = str(metadata.get("issuer", ""))
    checks.append((issuer.rstrip("/") == config["OIDC_ISSUER"].rstrip("/"), "issuer",
                   f"{issuer or 'missing'} (OIDC_ISSUER is {config['OIDC_ISSUER']})"))
    for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        checks.append((bool(metadata.get(endpoint)), endpoint, metadata.get(endpoint) or "missing"))
    methods = metadata.get("code_challenge_methods_supported")
    checks.append((methods is None or "S256" in methods, "pkce",
                   "S256 not advertised (most providers accept it anyway)" if methods is None
                   else f"supports {', '.join(methods)}"))
    try:
        keys = found.fetch_jwk_set(force=True).get("keys", [])
        checks.append((bool(keys), "keys", f"{len(keys)} signing key{'s' if len(keys) != 1 else ''}"))
    except (requests.RequestException, ValueError, RuntimeError) as error:
        checks.append((False, "keys", str(error)))
    return checks


def provider_key(issuer):
    """The issuer as stored in user_identities.provider, whose column is shorter than some issuer URLs.

    A longer issuer is stored as its digest: stable, and still one key per issuer.
    """
    if len(issuer) <= PROVIDER_COLUMN_LENGTH:
        return issuer
    return "sha256:" + hashlib.sha256(issuer.encode()).hexdigest()[:PROVIDER_COLUMN_LENGTH - 7]


def verified_email(claims):
    """The email claim, lower-case, when the provider says it verified it; else None.

    An unverified address proves nothing about who signs in, so it never links to an
    account and is never stored as one's email.
    """
    email = claims.get("email")
    verified = claims.get("email_verified")
    # Some providers send the boolean as a string.
    if not (verified is True or (isinstance(verified, str) and verified.lower() == "true")):
        return None
    if not isinstance(email, str):
        return None
    email = email.strip().lower()
    if len(email) > User.email.type.length or "@" not in email or not is_plain_text(email):
        return None
    return email


def sign_in_user(claims):
    """The active Locker account for these verified claims: linked, linked by email, or made; raises LockerError.

    Commits. The identity (issuer, subject) is the key: a provider's email can change hands.
    """
    provider, subject = provider_key(claims["iss"]), str(claims["sub"])[:UserIdentity.subject.type.length]
    for _ in range(CREATE_ATTEMPTS):
        identity = find_identity(provider, subject)
        if identity is not None:
            return signed_in(identity.user, identity, claims)
        email = verified_email(claims)
        if current_app.config["OIDC_LINK_BY_EMAIL"] and email:
            user = db.session.execute(db.select(User).filter_by(email=email)).scalar_one_or_none()
            if user is not None:
                refuse_inactive(user)
                identity = UserIdentity(user_id=user.id, provider=provider, subject=subject)
                db.session.add(identity)
                if commit_or_retry():
                    return signed_in(user, identity, claims)
                continue
        if not current_app.config["OIDC_CREATE_USERS"]:
            raise Forbidden(f"No Locker account is linked to your {provider_name()} account. "
                            "Ask an administrator to make one for you.", code="sso_no_account")
        user = User(username=free_username(username_base(claims)), password_hash=None,
                    email=email if email and not email_taken(email) else None)
        # One commit makes both rows, so no account is ever left without the identity that signs in to it.
        identity = UserIdentity(user=user, provider=provider, subject=subject)
        db.session.add_all([user, identity])
        if commit_or_retry():
            log.info("made account %s for a first sign-in with %s", user.username, provider)
            return signed_in(user, identity, claims)
    raise Unavailable("Too many sign-ins at once. Try again.", code="sso_busy")


def commit_or_retry():
    """Commit; False when a unique index refused (another sign-in took the name, email or identity first)."""
    try:
        db.session.commit()
        return True
    except IntegrityError:
        db.session.rollback()
        return False


def find_identity(provider, subject):
    return db.session.execute(
        db.select(UserIdentity).filter_by(provider=provider, subject=subject)).scalar_one_or_none()


def refuse_inactive(user):
    """A disabled account (or one being deleted) is refused as password sign-in refuses it."""
    if not user.is_active:
        raise users.refused_disabled(user)


def signed_in(user, identity, claims):
    refuse_inactive(user)
    now = utcnow()
    identity.last_used_at = now
    # Kept for the admin's view of who is linked; the verified address only.
    identity.email = verified_email(claims)
    audit.record("sign_in", owner_id=user.id, actor=user, detail=f"single sign-on ({provider_name()})")
    db.session.commit()
    return user


def email_taken(email):
    return db.session.execute(db.select(User.id).filter_by(email=email).limit(1)).first() is not None


def username_base(claims):
    """A valid username from preferred_username or the email's local part: lower-case, ASCII, 3–32 characters."""
    raw = claims.get("preferred_username") or claims.get("email") or ""
    raw = raw.split("@")[0] if isinstance(raw, str) else ""
    ascii_text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    name = users.normalize_username(ascii_text)
    name = re.sub(r"[^a-z0-9._-]+", "-", name)
    # Valid names start with a letter or digit; a trailing separator is left over from dropped characters.
    name = re.sub(r"^[^a-z0-9]+", "", name)[:32].rstrip("-._")
    if len(name) < 3:
        name = f"{name}-user" if name else "user"
    return name


def free_username(base):
    """The first of base, base2, base3... no account has; the unique index still decides at commit."""
    candidates = [base] + [with_suffix(base, str(number)) for number in range(2, NUMBERED_CANDIDATES + 1)]
    taken = set(db.session.execute(db.select(User.username).where(User.username.in_(candidates))).scalars())
    for candidate in candidates:
        if candidate not in taken:
            return candidate
    return with_suffix(base, "-" + uuid.uuid4().hex[:8])


def with_suffix(base, suffix):
    return base[:32 - len(suffix)] + suffix
