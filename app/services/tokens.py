"""Personal API tokens: shown once, stored as hashes, revocable."""
from datetime import timedelta

from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.models import ApiToken, User, utcnow
from app.security import hash_token, new_token
from app.services.common import MAX_ROW_ID
from app.services.sessions import LAST_SEEN_GRANULARITY
from app.text import is_plain_text

TOKEN_PREFIX = "lk_"
MAX_NAME_LENGTH = 100


MAX_LIFETIME_DAYS = 3650
# Every API call asks for a token and its owner: one query, built once.
TOKEN_AND_OWNER = (db.select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                   .where(ApiToken.token_hash == db.bindparam("token_hash")))


def create_token(user, name="API token", expires_in_days=None):
    """A new token for `user`, optionally expiring after some days: returns the row and the only copy of the secret."""
    expires_at = None
    if expires_in_days is not None:
        if isinstance(expires_in_days, bool) or not isinstance(expires_in_days, int) \
                or not 1 <= expires_in_days <= MAX_LIFETIME_DAYS:
            raise InvalidInput(f"expires_in_days must be a whole number from 1 to {MAX_LIFETIME_DAYS}.",
                               code="invalid_expires_in_days")
        expires_at = utcnow() + timedelta(days=expires_in_days)
    if name is not None and not is_plain_text(name):
        raise InvalidInput("Token names can't contain control characters.", code="invalid_name")
    name = (name or "").strip() or "API token"
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"Token names are at most {MAX_NAME_LENGTH} characters.", code="invalid_name")
    secret = new_token(TOKEN_PREFIX)
    token = ApiToken(user_id=user.id, name=name, token_hash=hash_token(secret), expires_at=expires_at)
    db.session.add(token)
    db.session.commit()
    return token, secret


def user_for_token(secret):
    """The active owner of a live token, or None; notes when the token was used."""
    if not is_plain_text(secret) or not secret.startswith(TOKEN_PREFIX):
        return None
    row = db.session.execute(TOKEN_AND_OWNER, {"token_hash": hash_token(secret)}).one_or_none()
    if row is None:
        return None
    token, user = row
    now = utcnow()
    if (token.expires_at and token.expires_at <= now) or not user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_SEEN_GRANULARITY:
        # "Last used" to the minute is enough; a write on every API call (each part signed) is not.
        token.last_used_at = now
        db.session.commit()
    return user


def list_tokens(user):
    return db.session.execute(
        db.select(ApiToken).filter_by(user_id=user.id).order_by(ApiToken.created_at.desc())).scalars().all()


def revoke_token(user, token_id):
    if not 0 < token_id <= MAX_ROW_ID:
        raise NotFound("No such token.")
    token = db.session.execute(
        db.select(ApiToken).filter_by(id=token_id, user_id=user.id)).scalar_one_or_none()
    if token is None:
        raise NotFound("No such token.")
    db.session.delete(token)
    db.session.commit()


def revoke_secret(secret):
    db.session.execute(db.delete(ApiToken).filter_by(token_hash=hash_token(secret or "")))
    db.session.commit()
